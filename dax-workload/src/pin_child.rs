//! The process that pins for `pin-owners`: `dax-workload pin-child`, run as
//! a child so that a pin has an owner process of its own (another pid, its
//! own comm). It names itself (`prctl(PR_SET_NAME)`), does one thing and
//! prints one JSON line per step on stdout, flushed at once:
//!
//! - `--mode vmsplice`: maps the first `--pages` pages of the DAX file
//!   `--path`, writes to them, vmsplices them into a pipe nobody reads and
//!   prints `{"step":"pinned","pid":..,"tid":..,"comm":..,"pfn":..,"bytes":..}`
//!   (`pfn`: of the first page); then holds the pin until its stdin reaches
//!   end of file (the parent closes it, or dies), drains the pipe and prints
//!   `{"step":"released","bytes":..}`.
//! - `--mode odirect-anon`: prints `{"step":"reading","pid":..,"tid":..,"comm":..}`,
//!   reads `--pages` pages of the block device `--path` with O_DIRECT into
//!   anonymous memory and prints `{"step":"read","bytes":..}`.
//! - `--mode uring`: maps the first `--pages` pages of the DAX file `--path`,
//!   writes to them, registers them as an io_uring fixed buffer (a
//!   FOLL_LONGTERM pin, which the kernel refuses on FS-DAX), prints
//!   `{"step":"registered","pid":..,"tid":..,"comm":..,"pfn":..,"errno":..,"error":..}`
//!   (`errno` 0 when the kernel accepted) and exits at once, as fio does:
//!   whoever names the file afterwards finds no process to ask.
//! - `{"step":"error","error":".."}` and exit 2 when a step fails.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::mapping::{Mapping, PAGE_SIZE, Sharing};
use crate::pagemap;
use crate::pin::{self, Pipe};
use crate::task;
use crate::uring::Ring;
use crate::watchdog::{self, Stage};

/// How long the child holds a pin at most when its parent never lets go.
const HOLD_DEADLINE: Duration = Duration::from_secs(120);
/// How long its O_DIRECT read may take (the slow device's delay, on TCG).
const READ_DEADLINE: Duration = Duration::from_secs(60);
/// The child could not do its step.
const EXIT_SETUP: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinChildMode {
    /// vmsplice pages of a DAX file into a pipe and hold them.
    Vmsplice,
    /// An O_DIRECT read of a block device into anonymous memory.
    OdirectAnon,
    /// Register pages of a DAX file as an io_uring fixed buffer, then exit.
    Uring,
}

#[derive(Debug, Clone, Args)]
pub struct PinChildArgs {
    #[arg(long, value_enum)]
    pub mode: PinChildMode,
    /// The DAX file (vmsplice) or the block device (odirect-anon).
    #[arg(long)]
    pub path: PathBuf,
    /// Pages to pin or read.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub pages: u32,
    /// The name (comm) to take, at most 15 bytes.
    #[arg(long)]
    pub name: String,
}

/// Run the child; returns its exit status.
pub fn run(args: &PinChildArgs) -> i32 {
    let len = args.pages as usize * PAGE_SIZE;
    let done = task::set_name(&args.name).and_then(|()| match args.mode {
        PinChildMode::Vmsplice => hold_vmsplice(&args.path, len),
        PinChildMode::OdirectAnon => read_anon(&args.path, len),
        PinChildMode::Uring => register_and_exit(&args.path, len),
    });
    match done {
        Ok(()) => 0,
        Err(err) => {
            emit(&json!({"step": "error", "error": err.to_string()}));
            EXIT_SETUP
        }
    }
}

fn whoami() -> serde_json::Value {
    let tid = task::gettid();
    json!({
        "pid": std::process::id(),
        "tid": tid,
        "comm": task::comm(tid).unwrap_or_default(),
    })
}

fn hold_vmsplice(path: &Path, len: usize) -> io::Result<()> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let map = Mapping::new(&file, len, Sharing::Shared)?;
    map.write_pages(len, 0x6b);
    let pfn = pagemap::entry(map.addr())?.pfn;
    let pipe = Pipe::new()?;
    if pipe.reserve(len)? < len {
        return Err(io::Error::other(format!(
            "the pipe cannot hold {len} bytes"
        )));
    }
    let spliced = pipe.vmsplice(map.addr(), len)?;
    let mut line = whoami();
    line["step"] = json!("pinned");
    line["pfn"] = json!(pfn);
    line["bytes"] = json!(spliced);
    emit(&line);
    {
        let _guard = watchdog::watch(Stage::Check, "pin-child: holding the pin", HOLD_DEADLINE);
        // Anything up to end of file: the parent closes our stdin to release.
        let mut sink = Vec::new();
        io::stdin().lock().read_to_end(&mut sink)?;
    }
    let drained = pipe.drain(spliced)?;
    emit(&json!({"step": "released", "bytes": drained}));
    Ok(())
}

fn register_and_exit(path: &Path, len: usize) -> io::Result<()> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let map = Mapping::new(&file, len, Sharing::Shared)?;
    map.write_pages(len, 0x3c);
    let pfn = pagemap::entry(map.addr())?.pfn;
    let ring = Ring::new(4)?;
    let mut line = whoami();
    line["step"] = json!("registered");
    line["pfn"] = json!(pfn);
    match ring.register_buffer(map.addr(), len) {
        Ok(()) => {
            ring.unregister_buffers()?;
            line["errno"] = json!(0);
            line["error"] = json!("");
        }
        Err(err) => {
            line["errno"] = json!(err.raw_os_error().unwrap_or(0));
            line["error"] = json!(err.to_string());
        }
    }
    emit(&line);
    Ok(())
}

fn read_anon(device: &Path, len: usize) -> io::Result<()> {
    let device = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(device)?;
    let buf = Anon::new(len)?;
    let mut line = whoami();
    line["step"] = json!("reading");
    emit(&line);
    let bytes = {
        let _guard = watchdog::watch(Stage::Check, "pin-child: O_DIRECT read", READ_DEADLINE);
        pin::odirect_read(&device, buf.addr, len)?
    };
    emit(&json!({"step": "read", "bytes": bytes}));
    Ok(())
}

/// Page-aligned private anonymous memory, unmapped on drop.
struct Anon {
    addr: usize,
    len: usize,
}

impl Anon {
    fn new(len: usize) -> io::Result<Anon> {
        // SAFETY: a fresh anonymous mapping chosen by the kernel.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Anon {
            addr: addr as usize,
            len,
        })
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        // SAFETY: our own mapping, not used after this.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}

/// Print one JSON line and flush it.
fn emit(line: &serde_json::Value) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
