//! The process that poisons a page: `dax-workload poison-child`, run by the
//! `memory-failure` scenario as a child so that whatever the kernel does to it
//! (SIGBUS, SIGKILL) the scenario survives and reports it.
//!
//! It maps the file `MAP_SHARED`, writes to one page (a DAX fault), reads the
//! page's pfn from `/proc/self/pagemap`, calls `madvise(MADV_HWPOISON)` on it
//! and then touches the page again. Each step prints one JSON line on stdout
//! (flushed at once, so the lines written before a fatal signal survive):
//!
//! - `{"step":"mapped","pid":..,"vaddr":..,"pfn":..,"present":..}`
//! - `{"step":"poisoned","madvise_rc":..,"errno":..,"sigbus":[{"si_code":..,"si_addr":..,"addr_lsb":..}],"present":..}`
//!   (the SIGBUS the kernel sends while handling the failure arrives when
//!   madvise returns; the handler records it and returns; `present`: the
//!   page is still mapped afterwards)
//! - `{"step":"touched","sigbus":false,"value":..,"pfn":..}` (the pfn the
//!   touch mapped), or, when the touch
//!   itself faults, `{"step":"touched","sigbus":true,"si_code":..,"si_addr":..,"addr_lsb":..}`
//!   written by the signal handler, which then exits with [`EXIT_TOUCH_SIGBUS`]
//!   (returning would retry the faulting load forever).
//! - `{"step":"error","error":".."}` and exit 2 when it cannot set up.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

use clap::Args;
use serde_json::json;

use crate::mapping::{Mapping, PAGE_SIZE, Sharing};
use crate::pagemap;

/// The touch after poisoning raised SIGBUS (the handler exits with this).
pub const EXIT_TOUCH_SIGBUS: i32 = 3;
/// The child could not map the file.
pub const EXIT_SETUP: i32 = 2;

/// `si_code` of a SIGBUS for a memory error the process must act on now.
pub const BUS_MCEERR_AR: i32 = 4;
/// `si_code` of an advisory memory error SIGBUS (action optional).
pub const BUS_MCEERR_AO: i32 = 5;

/// The name of a SIGBUS `si_code`.
pub fn si_code_name(code: i32) -> String {
    match code {
        1 => "BUS_ADRALN".into(),
        2 => "BUS_ADRERR".into(),
        3 => "BUS_OBJERR".into(),
        BUS_MCEERR_AR => "BUS_MCEERR_AR".into(),
        BUS_MCEERR_AO => "BUS_MCEERR_AO".into(),
        other => format!("si_code {other}"),
    }
}

#[derive(Debug, Clone, Args)]
pub struct PoisonChildArgs {
    /// The DAX file to map.
    #[arg(long)]
    pub file: PathBuf,
    /// Bytes of the file to map.
    #[arg(long)]
    pub len: usize,
    /// Index of the page (in the file) to poison.
    #[arg(long)]
    pub page: usize,
}

/// Phases the signal handler distinguishes.
const PHASE_SETUP: usize = 0;
const PHASE_MADVISE: usize = 1;
const PHASE_TOUCH: usize = 2;

static PHASE: AtomicUsize = AtomicUsize::new(PHASE_SETUP);
/// SIGBUS signals seen outside the touch (at most [`MAX_SIGNALS`] recorded).
const MAX_SIGNALS: usize = 4;
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static CODES: [AtomicI32; MAX_SIGNALS] = [const { AtomicI32::new(0) }; MAX_SIGNALS];
static ADDRS: [AtomicU64; MAX_SIGNALS] = [const { AtomicU64::new(0) }; MAX_SIGNALS];
static LSBS: [AtomicI32; MAX_SIGNALS] = [const { AtomicI32::new(0) }; MAX_SIGNALS];

/// Run the child; returns its exit status.
pub fn run(args: &PoisonChildArgs) -> i32 {
    match poison(args) {
        Ok(()) => 0,
        Err(err) => {
            emit(&json!({"step": "error", "error": err.to_string()}));
            EXIT_SETUP
        }
    }
}

fn poison(args: &PoisonChildArgs) -> io::Result<()> {
    if args.page.saturating_add(1).saturating_mul(PAGE_SIZE) > args.len {
        return Err(io::Error::other(format!(
            "page {} is outside the {} mapped bytes",
            args.page, args.len
        )));
    }
    install_handler()?;
    let file = OpenOptions::new().read(true).write(true).open(&args.file)?;
    let map = Mapping::new(&file, args.len, Sharing::Shared)?;
    let offset = args.page * PAGE_SIZE;
    map.write_byte(offset, 0xa5);
    let vaddr = map.addr() + offset;
    let entry = pagemap::entry(vaddr)?;
    emit(&json!({
        "step": "mapped",
        "pid": std::process::id(),
        "vaddr": vaddr,
        "pfn": entry.pfn,
        "present": entry.present,
    }));

    PHASE.store(PHASE_MADVISE, Ordering::SeqCst);
    // SAFETY: vaddr is a page-aligned address inside our live mapping.
    let rc = unsafe { libc::madvise(vaddr as *mut libc::c_void, PAGE_SIZE, libc::MADV_HWPOISON) };
    let errno = if rc != 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    let seen = SIGNALS.load(Ordering::SeqCst).min(MAX_SIGNALS);
    let sigbus: Vec<_> = (0..seen)
        .map(|i| {
            json!({
                "si_code": CODES[i].load(Ordering::SeqCst),
                "si_addr": ADDRS[i].load(Ordering::SeqCst),
                "addr_lsb": LSBS[i].load(Ordering::SeqCst),
            })
        })
        .collect();
    // Did the kernel unmap the page from us?
    let after = pagemap::entry(vaddr)?;
    emit(&json!({
        "step": "poisoned",
        "madvise_rc": rc,
        "errno": errno,
        "sigbus": sigbus,
        "present": after.present,
    }));

    PHASE.store(PHASE_TOUCH, Ordering::SeqCst);
    let value = map.read_byte(offset);
    let again = pagemap::entry(vaddr)?;
    emit(&json!({"step": "touched", "sigbus": false, "value": value, "pfn": again.pfn}));
    Ok(())
}

/// Print one JSON line and flush it before anything else can happen.
fn emit(line: &serde_json::Value) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn install_handler() -> io::Result<()> {
    // SAFETY: a zeroed sigaction with our SA_SIGINFO handler and an empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `si_addr_lsb` follows `si_addr` in the `_sigfault` member of siginfo_t:
/// byte 24 on 64-bit Linux (signo, errno, code, padding, then the union).
const ADDR_LSB_OFFSET: usize = 24;

/// Async-signal-safe: atomics, write(2) and _exit(2) only.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo_t to an SA_SIGINFO handler.
    let (code, addr, lsb) = unsafe {
        let lsb = *((info as *const u8).add(ADDR_LSB_OFFSET) as *const i16);
        ((*info).si_code, (*info).si_addr() as u64, i32::from(lsb))
    };
    if PHASE.load(Ordering::SeqCst) == PHASE_TOUCH {
        let mut line = RawLine::new();
        line.push(b"{\"step\":\"touched\",\"sigbus\":true,\"si_code\":");
        line.push_int(i64::from(code));
        line.push(b",\"si_addr\":");
        line.push_int(addr as i64);
        line.push(b",\"addr_lsb\":");
        line.push_int(i64::from(lsb));
        line.push(b"}\n");
        // SAFETY: write(2) and _exit(2) are async-signal-safe; buf is ours.
        unsafe {
            libc::write(1, line.buf.as_ptr().cast(), line.len);
            libc::_exit(EXIT_TOUCH_SIGBUS);
        }
    }
    let i = SIGNALS.fetch_add(1, Ordering::SeqCst);
    if i < MAX_SIGNALS {
        CODES[i].store(code, Ordering::SeqCst);
        ADDRS[i].store(addr, Ordering::SeqCst);
        LSBS[i].store(lsb, Ordering::SeqCst);
    }
}

/// A line built without allocating (for the signal handler).
struct RawLine {
    buf: [u8; 256],
    len: usize,
}

impl RawLine {
    fn new() -> RawLine {
        RawLine {
            buf: [0; 256],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
    }

    fn push_int(&mut self, v: i64) {
        if v < 0 {
            self.push(b"-");
        }
        let mut digits = [0u8; 20];
        let mut n = v.unsigned_abs();
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_lines_format_integers() {
        let mut line = RawLine::new();
        line.push(b"{\"a\":");
        line.push_int(0);
        line.push(b",\"b\":");
        line.push_int(-42);
        line.push(b",\"c\":");
        line.push_int(140_737_488_351_232);
        line.push(b"}");
        let text = std::str::from_utf8(&line.buf[..line.len]).expect("ascii");
        assert_eq!(text, r#"{"a":0,"b":-42,"c":140737488351232}"#);
        let v: serde_json::Value = serde_json::from_str(text).expect("json");
        assert_eq!(v["b"], -42);
    }

    #[test]
    fn si_codes_are_named() {
        assert_eq!(si_code_name(BUS_MCEERR_AR), "BUS_MCEERR_AR");
        assert_eq!(si_code_name(BUS_MCEERR_AO), "BUS_MCEERR_AO");
        assert_eq!(si_code_name(99), "si_code 99");
    }

    #[test]
    fn a_page_outside_the_mapping_is_refused() {
        let args = PoisonChildArgs {
            file: PathBuf::from("/nonexistent"),
            len: PAGE_SIZE,
            page: 1,
        };
        let err = poison(&args).expect_err("page 1 of a one-page mapping");
        assert!(err.to_string().contains("outside"), "{err}");
    }
}
