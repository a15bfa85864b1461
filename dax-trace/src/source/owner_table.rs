//! What the owner table (`PAGE_OWNERS`, an LRU map) pushed out. The
//! programs never delete its entries and count each one they add
//! (`PointCounters::owner_pages`), so the pages it evicted are the pages
//! added less the entries it holds. Counting the entries walks the map's
//! keys (a syscall each): done only once the table may have evicted (more
//! pages added than `--max-pinned-pages`), at most every
//! [`COUNT_EVERY`], and at the end of the capture.
use std::time::{Duration, Instant};

use aya::maps::{HashMap, MapData};
use dax_trace_common::PAGE_OWNERS_VALUE_BYTES;

/// How often the entries are counted while the table may evict.
pub(super) const COUNT_EVERY: Duration = Duration::from_secs(10);

pub(super) type OwnerMap = HashMap<MapData, u64, [u8; PAGE_OWNERS_VALUE_BYTES]>;

pub(super) struct OwnerTable {
    map: OwnerMap,
    /// Pages the table keeps before it can evict.
    keeps: u64,
    counted_at: Option<Instant>,
    evicted: u64,
}

impl OwnerTable {
    pub(super) fn new(map: OwnerMap, keeps: u32) -> Self {
        Self {
            map,
            keeps: u64::from(keeps),
            counted_at: None,
            evicted: 0,
        }
    }

    /// Pages evicted so far, given `added` (the programs' count); counted
    /// again when due or `last`, else the previous count.
    pub(super) fn evicted(&mut self, added: u64, now: Instant, last: bool) -> u64 {
        let due = self
            .counted_at
            .is_none_or(|at| now.duration_since(at) >= COUNT_EVERY);
        if may_have_evicted(added, self.keeps) && (due || last) {
            let held = self.map.keys().filter(Result::is_ok).count() as u64;
            self.counted_at = Some(now);
            // A page added between the two readings can make `held` the
            // larger: totals never go down.
            self.evicted = self.evicted.max(evictions(added, held));
        }
        self.evicted
    }
}

/// No LRU eviction happens before the table was given more pages than it
/// keeps (`sizing` adds the per-CPU headroom on top).
fn may_have_evicted(added: u64, keeps: u64) -> bool {
    added > keeps
}

fn evictions(added: u64, held: u64) -> u64 {
    added.saturating_sub(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evictions_are_the_pages_added_that_the_table_no_longer_holds() {
        assert!(!may_have_evicted(8192, 8192));
        assert!(may_have_evicted(8193, 8192));
        assert_eq!(evictions(10_000, 8_320), 1_680);
        assert_eq!(evictions(10_000, 10_003), 0, "added meanwhile");
    }
}
