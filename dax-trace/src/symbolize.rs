//! Kernel addresses to `function+offset [module]`, from `/proc/kallsyms`
//! (vmlinux and every loaded module), done once per distinct stack while
//! recording so a trace replays with names on any machine.
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
    symbols: Vec<Text>,
    read_at: Option<Instant>,
    /// Re-reading kallsyms for an unknown address happens at most this often.
    pub refresh_every: Duration,
}

impl Symbolizer {
    /// A symbolizer over `path` (normally `/proc/kallsyms`), read lazily.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            symbols: Vec::new(),
            read_at: None,
            refresh_every: Duration::from_secs(1),
        }
    }

    /// A symbolizer over `path`, read now: live capture reads kallsyms on
    /// a thread of its own while the probes load, since the first read can
    /// take seconds under TCG.
    pub fn loaded(path: impl AsRef<Path>) -> Self {
        let mut s = Self::new(path);
        s.reload();
        s
    }

    /// A symbolizer over the given kallsyms text (tests, fixtures).
    pub fn from_text(text: &str) -> Self {
        let mut s = Self::new("/nonexistent");
        s.symbols = parse(text);
        s.read_at = Some(Instant::now());
        s
    }

    fn reload(&mut self) {
        let began = Instant::now();
        self.read_at = Some(began);
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                self.symbols = parse(&text);
                log::debug!(
                    "read {} text symbols from {} in {:?}",
                    self.symbols.len(),
                    self.path.display(),
                    began.elapsed()
                );
            }
            Err(err) => log::warn!("reading {}: {err}", self.path.display()),
        }
    }

    /// The frame of `addr`; symbol and module stay `None` when unknown.
    pub fn frame(&mut self, addr: u64) -> StackFrame {
        if self.read_at.is_none() {
            self.reload();
        }
        if let Some(frame) = self.lookup(addr) {
            return frame;
        }
        let stale = self
            .read_at
            .is_none_or(|t| t.elapsed() >= self.refresh_every);
        if stale && self.path.exists() {
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
    /// daxtrace's own eBPF frames.
    pub fn stack(&mut self, ips: impl IntoIterator<Item = u64>) -> Vec<StackFrame> {
        ips.into_iter()
            .filter(|&ip| ip != 0)
            .map(|ip| self.frame(ip))
            .filter(|f| f.module.as_deref() != Some(BPF_MODULE))
            .collect()
    }
}

fn parse(text: &str) -> Vec<Text> {
    let mut out: Vec<Text> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let addr = u64::from_str_radix(fields.next()?, 16).ok()?;
            let kind = fields.next()?.chars().next()?;
            let name = fields.next()?;
            if addr == 0 || !matches!(kind, 'T' | 't' | 'W' | 'w') {
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
    out.sort_by_key(|s| s.addr);
    out
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
}
