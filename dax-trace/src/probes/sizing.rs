//! Map sizes chosen at load time: the tables that grow with the machine
//! (owners per pinned page, caches per thread) are sized from the number
//! of pinned pages asked for (`--max-pinned-pages`) and the possible CPUs,
//! within the memory the machine has.
//!
//! LRU maps need headroom per CPU: before 6.16 (upstream d4adf1c9ee77) the
//! common LRU moves up to `LOCAL_FREE_TARGET` (128) free entries to each
//! CPU's own free list (kernel/bpf/bpf_lru_list.c), and an insert on a CPU
//! whose list and the global one are empty evicts, however many entries
//! other CPUs hold free. A table of `N + 128 × CPUs` entries keeps `N`
//! pages before it evicts on any CPU count.
use dax_trace_common::PAGE_OWNERS_VALUE_BYTES;

/// Pages whose owners are kept when `--max-pinned-pages` is not given.
pub const DEFAULT_MAX_PINNED_PAGES: u32 = 128 * 1024;

/// The largest `--max-pinned-pages` taken (64 GiB of 4 KiB pages).
pub const MAX_PINNED_PAGES_LIMIT: u32 = 16 * 1024 * 1024;

/// Free entries an LRU map may hold per CPU (`LOCAL_FREE_TARGET`).
pub const LRU_FREE_PER_CPU: u32 = 128;

/// Entries of the per-thread stack cache without the per-CPU headroom.
const STACK_CACHE_BASE: u32 = 1024;

/// Entries of the dm pairs table without the per-CPU headroom.
const DM_PAIRS_BASE: u32 = 1024;

/// Kernel memory of one owner-table entry: its key, its value, and the
/// hash element with its LRU node (about 56 bytes on x86-64).
pub const OWNER_ENTRY_BYTES: u64 = 8 + PAGE_OWNERS_VALUE_BYTES as u64 + 56;

/// The share of available memory the owner table may take by default.
const DEFAULT_MEMORY_SHARE: u64 = 16;

/// The share of available memory an explicit `--max-pinned-pages` may take.
const EXPLICIT_MEMORY_SHARE: u64 = 4;

/// Map names in the eBPF object.
pub const PAGE_OWNERS_MAP: &str = "PAGE_OWNERS";
pub const STACK_CACHE_MAP: &str = "STACK_CACHE";
pub const DM_PAIRS_MAP: &str = "DM_PAIRS";

/// The sizes one load uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSizes {
    /// Pages whose owners are kept before the owner table evicts.
    pub max_pinned_pages: u32,
    pub possible_cpus: u32,
}

/// `--max-pinned-pages` asked for more than the machine can hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizingError {
    #[error("--max-pinned-pages must be at least 1")]
    Zero,
    #[error("--max-pinned-pages {0} is more than {MAX_PINNED_PAGES_LIMIT} pages")]
    TooMany(u32),
    #[error(
        "--max-pinned-pages {pages} needs {need_mib} MiB of kernel memory for the owner table, more than a quarter of the {available_mib} MiB available"
    )]
    NoMemory {
        pages: u32,
        need_mib: u64,
        available_mib: u64,
    },
}

impl MapSizes {
    /// Sizes for `requested` pages (`None`: the default, shrunk to fit in
    /// a sixteenth of `mem_available` bytes, with a note saying so).
    /// `mem_available` `None`: not known, nothing is shrunk or refused.
    pub fn fit(
        requested: Option<u32>,
        possible_cpus: u32,
        mem_available: Option<u64>,
    ) -> Result<(Self, Option<String>), SizingError> {
        let possible_cpus = possible_cpus.max(1);
        let headroom = u64::from(LRU_FREE_PER_CPU) * u64::from(possible_cpus);
        let pages_in = |bytes: u64| (bytes / OWNER_ENTRY_BYTES).saturating_sub(headroom);
        let sizes = |pages: u32| Self {
            max_pinned_pages: pages,
            possible_cpus,
        };
        match requested {
            Some(0) => Err(SizingError::Zero),
            Some(n) if n > MAX_PINNED_PAGES_LIMIT => Err(SizingError::TooMany(n)),
            Some(n) => {
                let s = sizes(n);
                match mem_available {
                    Some(avail) if s.owner_table_bytes() > avail / EXPLICIT_MEMORY_SHARE => {
                        Err(SizingError::NoMemory {
                            pages: n,
                            need_mib: s.owner_table_bytes() >> 20,
                            available_mib: avail >> 20,
                        })
                    }
                    _ => Ok((s, None)),
                }
            }
            None => {
                let default = sizes(DEFAULT_MAX_PINNED_PAGES);
                let Some(avail) = mem_available else {
                    return Ok((default, None));
                };
                let budget = avail / DEFAULT_MEMORY_SHARE;
                if default.owner_table_bytes() <= budget {
                    return Ok((default, None));
                }
                let pages = pages_in(budget).clamp(1, u64::from(DEFAULT_MAX_PINNED_PAGES)) as u32;
                let note = format!(
                    "owners are kept for {pages} pinned pages, not {DEFAULT_MAX_PINNED_PAGES}: \
                     {} MiB of memory available (--max-pinned-pages sets it)",
                    avail >> 20
                );
                Ok((sizes(pages), Some(note)))
            }
        }
    }

    fn headroom(&self) -> u32 {
        LRU_FREE_PER_CPU.saturating_mul(self.possible_cpus)
    }

    /// Entries of the owner table.
    pub fn page_owners(&self) -> u32 {
        self.max_pinned_pages.saturating_add(self.headroom())
    }

    /// Entries of the per-thread stack cache.
    pub fn stack_cache(&self) -> u32 {
        STACK_CACHE_BASE.saturating_add(self.headroom())
    }

    /// Entries of the dm pairs table.
    pub fn dm_pairs(&self) -> u32 {
        DM_PAIRS_BASE.saturating_add(self.headroom())
    }

    /// Kernel memory the owner table takes (preallocated: LRU maps are).
    pub fn owner_table_bytes(&self) -> u64 {
        u64::from(self.page_owners()) * OWNER_ENTRY_BYTES
    }

    /// What the probe report shows of the sizes.
    pub fn limits(&self) -> Vec<(String, u64)> {
        vec![
            (
                "pinned pages with owners kept".to_string(),
                u64::from(self.max_pinned_pages),
            ),
            ("possible CPUs".to_string(), u64::from(self.possible_cpus)),
            (
                format!("{PAGE_OWNERS_MAP} entries"),
                u64::from(self.page_owners()),
            ),
            (
                format!("{STACK_CACHE_MAP} entries"),
                u64::from(self.stack_cache()),
            ),
        ]
    }

    /// Sizes for a short load that tracks no pins (`probes --attach`,
    /// `state`): small tables.
    pub fn inspection() -> Self {
        Self {
            max_pinned_pages: 1024,
            possible_cpus: possible_cpus(),
        }
    }

    /// `(map name, max_entries)` for the loader.
    pub fn overrides(&self) -> [(&'static str, u32); 3] {
        [
            (PAGE_OWNERS_MAP, self.page_owners()),
            (STACK_CACHE_MAP, self.stack_cache()),
            (DM_PAIRS_MAP, self.dm_pairs()),
        ]
    }
}

/// `MemAvailable` of /proc/meminfo in bytes, when readable.
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The possible CPUs (what per-CPU lists and maps are sized by), 1 when
/// unreadable.
pub fn possible_cpus() -> u32 {
    aya::util::nr_cpus().map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn lru_tables_get_headroom_for_every_cpu() {
        let (s, note) = MapSizes::fit(None, 128, Some(64 * GIB)).expect("fits");
        assert_eq!(note, None);
        assert_eq!(s.max_pinned_pages, DEFAULT_MAX_PINNED_PAGES);
        assert_eq!(s.page_owners(), DEFAULT_MAX_PINNED_PAGES + 128 * 128);
        assert_eq!(s.stack_cache(), 1024 + 128 * 128);
        assert_eq!(s.dm_pairs(), 1024 + 128 * 128);
        // The 8192-entry table of before ran dry at 64 CPUs: this one keeps
        // its pages whatever the CPU count.
        let (big, _) = MapSizes::fit(None, 1024, Some(64 * GIB)).expect("fits");
        assert_eq!(big.page_owners() - big.headroom(), DEFAULT_MAX_PINNED_PAGES);
    }

    #[test]
    fn the_default_shrinks_to_a_sixteenth_of_available_memory_and_says_so() {
        let avail = 256u64 << 20;
        let (s, note) = MapSizes::fit(None, 2, Some(avail)).expect("fits");
        assert!(s.max_pinned_pages < DEFAULT_MAX_PINNED_PAGES);
        assert!(s.owner_table_bytes() <= avail / 16, "{s:?}");
        assert!(
            s.owner_table_bytes() + OWNER_ENTRY_BYTES > avail / 16,
            "as many as fit"
        );
        let note = note.expect("a shrunk table is said");
        assert!(note.contains(&s.max_pinned_pages.to_string()), "{note}");
        assert!(note.contains("--max-pinned-pages"), "{note}");
    }

    #[test]
    fn an_explicit_size_is_taken_or_refused_with_the_reason() {
        let (s, note) = MapSizes::fit(Some(50_000), 8, Some(GIB)).expect("fits");
        assert_eq!((s.max_pinned_pages, note), (50_000, None));
        assert_eq!(MapSizes::fit(Some(0), 8, None), Err(SizingError::Zero));
        assert_eq!(
            MapSizes::fit(Some(u32::MAX), 8, None),
            Err(SizingError::TooMany(u32::MAX))
        );
        let err = MapSizes::fit(Some(4_000_000), 8, Some(GIB)).expect_err("1.4 GB of table");
        assert!(
            matches!(
                err,
                SizingError::NoMemory {
                    pages: 4_000_000,
                    available_mib: 1024,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("kernel memory"), "{err}");
        // Unknown memory: taken as asked.
        assert!(MapSizes::fit(Some(4_000_000), 8, None).is_ok());
    }

    #[test]
    fn mem_available_is_read_in_bytes() {
        let meminfo =
            "MemTotal:        2017412 kB\nMemFree:          100 kB\nMemAvailable:    1500000 kB\n";
        assert_eq!(parse_mem_available(meminfo), Some(1_500_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert!(mem_available().is_some(), "this machine has /proc/meminfo");
    }
}
