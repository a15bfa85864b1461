//! Kernel addresses to `function+offset [module]`, from `/proc/kallsyms`
//! (vmlinux and every loaded module), done once per distinct stack while
//! recording so a trace replays with names on any machine.
//!
//! kallsyms is re-read when an address is unknown (a module or eBPF program
//! loaded since), through the handle opened by the first read: the kernel
//! decides at open whether the opener may see addresses, so `serve`, which
//! drops CAP_SYSLOG after attaching, keeps reading real ones. A reading that
//! hides every address never replaces the table, and re-reads are rationed
//! (at most one per stack, and a small share of the time however slow a read
//! is: a reading of 6.12's kallsyms took 1.5-1.7 s under the instruction
//! clock).
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::stacks::StackFrame;

/// Functions larger than this are not believed: an address that far past
/// the nearest symbol lies in something kallsyms does not list (a module
/// loaded since the table was read).
const MAX_FUNCTION_BYTES: u64 = 0x4_0000;

/// The module name kallsyms gives eBPF programs and trampolines: daxtrace's
/// own frames, left out of recorded stacks.
pub const BPF_MODULE: &str = "bpf";

/// Room for a first reading of kallsyms (about 9 MB on 6.12): read in large
/// chunks, not grown from a few bytes (every read is a system call, slow
/// under TCG).
const FIRST_READ_CAPACITY: usize = 1 << 20;

#[derive(Clone, Debug)]
struct Text {
    addr: u64,
    name: String,
    module: Option<String>,
}

/// Text symbols sorted by address.
#[derive(Debug)]
pub struct Symbolizer {
    path: PathBuf,
    /// kallsyms as first opened, re-read from its start (see the module docs).
    file: Option<File>,
    symbols: Vec<Text>,
    /// When the last reading ended, and how long it took.
    read_at: Option<Instant>,
    read_cost: Duration,
    /// Bytes of the last reading, to size the next one.
    read_len: usize,
    /// The last reading showed every address as 0: this process may not see
    /// them, and re-reading will not change that.
    hidden: bool,
    reads: u64,
    /// Re-reading kallsyms for an unknown address happens at most this often.
    pub refresh_every: Duration,
    /// ...and only once this many times the last reading's duration has
    /// passed since it ended, so re-reading takes at most 1/(1+factor) of
    /// the time however slow a reading is.
    pub reread_cost_factor: u32,
}

impl Symbolizer {
    /// A symbolizer over `path` (normally `/proc/kallsyms`), read lazily.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            file: None,
            symbols: Vec::new(),
            read_at: None,
            read_cost: Duration::ZERO,
            read_len: 0,
            hidden: false,
            reads: 0,
            refresh_every: Duration::from_secs(1),
            reread_cost_factor: 9,
        }
    }

    /// A symbolizer over `path`, read now: live capture reads kallsyms on
    /// a thread of its own while the probes load, since the first read can
    /// take seconds under TCG, and before `serve` drops its capabilities.
    pub fn loaded(path: impl AsRef<Path>) -> Self {
        let mut s = Self::new(path);
        s.reload();
        s
    }

    /// A symbolizer over the given kallsyms text (tests, fixtures).
    pub fn from_text(text: &str) -> Self {
        let mut s = Self::new("/nonexistent");
        s.symbols = parse(text).symbols;
        s.read_at = Some(Instant::now());
        s
    }

    /// How many times kallsyms was read.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// The whole of kallsyms, through the handle opened first.
    fn read_text(&mut self) -> std::io::Result<String> {
        let file = match &mut self.file {
            Some(file) => {
                file.seek(SeekFrom::Start(0))?;
                file
            }
            None => self.file.insert(File::open(&self.path)?),
        };
        let mut bytes = Vec::with_capacity(self.read_len.max(FIRST_READ_CAPACITY));
        file.read_to_end(&mut bytes)?;
        self.read_len = bytes.len();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn reload(&mut self) {
        let began = Instant::now();
        self.reads += 1;
        match self.read_text() {
            Ok(text) => {
                let parsed = parse(&text);
                if parsed.symbols.is_empty() && parsed.hidden > 0 {
                    self.hidden = true;
                    log::warn!(
                        "{} shows every address as 0 to this process (no CAP_SYSLOG when it \
                         was opened): keeping the {} symbols read before, code loaded \
                         since stays unnamed",
                        self.path.display(),
                        self.symbols.len()
                    );
                } else {
                    self.symbols = parsed.symbols;
                }
                log::debug!(
                    "read {} text symbols from {} in {:?}",
                    self.symbols.len(),
                    self.path.display(),
                    began.elapsed()
                );
            }
            Err(err) => {
                // Opened again next time.
                self.file = None;
                log::warn!("reading {}: {err}", self.path.display());
            }
        }
        self.read_at = Some(Instant::now());
        self.read_cost = began.elapsed();
    }

    /// Whether an unknown address may re-read kallsyms now.
    fn may_reread(&self) -> bool {
        let gap = self
            .refresh_every
            .max(self.read_cost.saturating_mul(self.reread_cost_factor));
        !self.hidden && self.read_at.is_none_or(|t| t.elapsed() >= gap)
    }

    /// The frame of `addr`; symbol and module stay `None` when unknown.
    pub fn frame(&mut self, addr: u64) -> StackFrame {
        self.resolve(addr, &mut true)
    }

    /// The frame of `addr`, re-reading kallsyms for it only if `reread`
    /// (then cleared).
    fn resolve(&mut self, addr: u64, reread: &mut bool) -> StackFrame {
        if self.read_at.is_none() {
            self.reload();
            *reread = false;
        }
        if let Some(frame) = self.lookup(addr) {
            return frame;
        }
        if *reread && self.may_reread() {
            *reread = false;
            self.reload();
            if let Some(frame) = self.lookup(addr) {
                return frame;
            }
        }
        StackFrame {
            addr,
            symbol: None,
            offset: 0,
            module: None,
        }
    }

    fn lookup(&self, addr: u64) -> Option<StackFrame> {
        let i = self.symbols.partition_point(|s| s.addr <= addr);
        let sym = self.symbols.get(i.checked_sub(1)?)?;
        let offset = addr - sym.addr;
        (offset < MAX_FUNCTION_BYTES).then(|| StackFrame {
            addr,
            symbol: Some(sym.name.clone()),
            offset,
            module: sym.module.clone(),
        })
    }

    /// The symbolized frames of a kernel stack, innermost first, without
    /// daxtrace's own eBPF frames. kallsyms is re-read at most once per
    /// stack: a frame still unknown after that stays unnamed.
    pub fn stack(&mut self, ips: impl IntoIterator<Item = u64>) -> Vec<StackFrame> {
        let mut reread = true;
        ips.into_iter()
            .filter(|&ip| ip != 0)
            .map(|ip| self.resolve(ip, &mut reread))
            .filter(|f| f.module.as_deref() != Some(BPF_MODULE))
            .collect()
    }
}

/// What one reading of kallsyms holds.
struct Parsed {
    /// Text symbols with an address, sorted by address.
    symbols: Vec<Text>,
    /// Text symbols shown at address 0 (hidden from this reader).
    hidden: usize,
}

fn parse(text: &str) -> Parsed {
    let mut hidden = 0;
    let mut symbols: Vec<Text> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let addr = u64::from_str_radix(fields.next()?, 16).ok()?;
            let kind = fields.next()?.chars().next()?;
            let name = fields.next()?;
            if !matches!(kind, 'T' | 't' | 'W' | 'w') {
                return None;
            }
            if addr == 0 {
                hidden += 1;
                return None;
            }
            let module = fields
                .next()
                .and_then(|m| m.strip_prefix('[').and_then(|m| m.strip_suffix(']')))
                .map(str::to_string);
            Some(Text {
                addr,
                name: name.to_string(),
                module,
            })
        })
        .collect();
    symbols.sort_by_key(|s| s.addr);
    Parsed { symbols, hidden }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KALLSYMS: &str = "\
ffffffff81000000 T _stext
ffffffff81234000 T pin_user_pages_fast
ffffffff81234400 t gup_fast_fallback
ffffffff81234800 D some_data
ffffffffa0010000 t ext4_dio_read_iter\t[ext4]
ffffffffa0020000 t bpf_prog_6deef7357e7b4530_fexit_pin_user_pages_fast\t[bpf]
0000000000000000 T hidden
";

    #[test]
    fn addresses_resolve_to_the_nearest_function_below_with_its_module() {
        let mut s = Symbolizer::from_text(KALLSYMS);
        let f = s.frame(0xffff_ffff_8123_4024);
        assert_eq!(f.symbol.as_deref(), Some("pin_user_pages_fast"));
        assert_eq!(f.offset, 0x24);
        assert_eq!(f.module, None);
        let f = s.frame(0xffff_ffff_a001_0070);
        assert_eq!(f.symbol.as_deref(), Some("ext4_dio_read_iter"));
        assert_eq!(f.module.as_deref(), Some("ext4"));
        // Data symbols are not functions: the text symbol below wins.
        assert_eq!(
            s.frame(0xffff_ffff_8123_4810).symbol.as_deref(),
            Some("gup_fast_fallback")
        );
    }

    #[test]
    fn unknown_addresses_keep_only_the_address() {
        let mut s = Symbolizer::from_text(KALLSYMS);
        let below_everything = s.frame(0x1000);
        assert_eq!(below_everything.symbol, None);
        let far_past = s.frame(0xffff_ffff_a003_0000 + MAX_FUNCTION_BYTES);
        assert_eq!(far_past.symbol, None);
        assert_eq!(far_past.addr, 0xffff_ffff_a003_0000 + MAX_FUNCTION_BYTES);
    }

    #[test]
    fn a_stack_drops_our_own_bpf_frames_and_empty_slots() {
        let mut s = Symbolizer::from_text(KALLSYMS);
        let frames = s.stack([
            0xffff_ffff_a002_0010,
            0xffff_ffff_8123_4005,
            0,
            0xffff_ffff_a001_0001,
        ]);
        let names: Vec<_> = frames.iter().map(|f| f.symbol.as_deref()).collect();
        assert_eq!(
            names,
            vec![Some("pin_user_pages_fast"), Some("ext4_dio_read_iter")]
        );
    }

    #[test]
    fn a_module_loaded_later_is_found_after_a_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kallsyms");
        std::fs::write(&path, "ffffffff81000000 T _stext\n").expect("write");
        let mut s = Symbolizer::new(&path);
        s.refresh_every = Duration::ZERO;
        s.reread_cost_factor = 0;
        assert_eq!(s.frame(0xffff_ffff_a000_0010).symbol, None);
        std::fs::write(
            &path,
            "ffffffff81000000 T _stext\nffffffffa0000000 t xfs_break_layouts\t[xfs]\n",
        )
        .expect("write");
        let f = s.frame(0xffff_ffff_a000_0010);
        assert_eq!(f.symbol.as_deref(), Some("xfs_break_layouts"));
        assert_eq!(f.module.as_deref(), Some("xfs"));
    }

    /// kallsyms as a process without CAP_SYSLOG reads it.
    const HIDDEN: &str = "\
0000000000000000 T _stext
0000000000000000 T pin_user_pages_fast
0000000000000000 t xfs_break_layouts\t[xfs]
";

    #[test]
    fn a_reading_that_hides_every_address_keeps_the_table_and_ends_rereading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kallsyms");
        std::fs::write(&path, KALLSYMS).expect("write");
        let mut s = Symbolizer::loaded(&path);
        s.refresh_every = Duration::ZERO;
        s.reread_cost_factor = 0;
        // The same file now hides its addresses (as kallsyms does once serve
        // has dropped CAP_SYSLOG, when opened again).
        std::fs::write(&path, HIDDEN).expect("write");
        assert_eq!(s.frame(0xffff_ffff_c000_0000).symbol, None);
        assert_eq!(s.reads(), 2, "the unknown address re-read it");
        let known = s.frame(0xffff_ffff_8123_4024);
        assert_eq!(known.symbol.as_deref(), Some("pin_user_pages_fast"));
        for _ in 0..5 {
            assert_eq!(s.frame(0xffff_ffff_c000_0000).symbol, None);
        }
        assert_eq!(s.reads(), 2, "a hidden reading is not tried again");
    }

    #[test]
    fn a_stack_of_unknown_frames_rereads_kallsyms_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kallsyms");
        std::fs::write(&path, KALLSYMS).expect("write");
        let mut s = Symbolizer::loaded(&path);
        // Every re-read allowed by time: as when a reading takes longer
        // than refresh_every (6.12's kallsyms under TCG).
        s.refresh_every = Duration::ZERO;
        s.reread_cost_factor = 0;
        let unknown = (1..=20).map(|i| 0xffff_ffff_c000_0000 + i * 0x10_0000);
        let frames = s.stack(unknown);
        assert_eq!(frames.len(), 20);
        assert!(frames.iter().all(|f| f.symbol.is_none()));
        assert_eq!(s.reads(), 2, "one first reading, one re-read for the stack");
        s.stack([0xffff_ffff_c000_0010, 0xffff_ffff_c010_0010]);
        assert_eq!(s.reads(), 3, "the next stack may re-read once");
    }

    #[test]
    fn a_slow_reading_is_not_repeated_until_many_times_its_cost_has_passed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kallsyms");
        std::fs::write(&path, KALLSYMS).expect("write");
        let mut s = Symbolizer::loaded(&path);
        s.refresh_every = Duration::ZERO;
        // Any reading takes at least a microsecond: a million times that is
        // more than this test lasts.
        s.reread_cost_factor = 1_000_000;
        for _ in 0..5 {
            assert_eq!(s.frame(0xffff_ffff_c000_0000).symbol, None);
        }
        assert_eq!(s.reads(), 1);
    }

    #[test]
    fn rereads_go_through_the_handle_opened_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kallsyms");
        std::fs::write(&path, "ffffffff81000000 T _stext\n").expect("write");
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        let mut s = Symbolizer::loaded(&path);
        s.refresh_every = Duration::ZERO;
        s.reread_cost_factor = 0;
        // The path no longer opens; the handle read first still reads.
        std::fs::remove_file(&path).expect("unlink");
        std::io::Write::write_all(
            &mut writer,
            b"ffffffffa0000000 t xfs_break_layouts\t[xfs]\n",
        )
        .expect("append");
        let f = s.frame(0xffff_ffff_a000_0010);
        assert_eq!(f.symbol.as_deref(), Some("xfs_break_layouts"));
    }
}
