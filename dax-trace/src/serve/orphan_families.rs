//! The metric families of pages let go under DMA and of blocked eviction
//! waits (docs/serve.md): counters to alert on, and a gauge of orphaned
//! pages still busy, which is DMA into blocks the filesystem no longer owns.
use prometheus_client::encoding::DescriptorEncoder;

use super::families::{Families, counters, gauges, per_device};

type Fmt = Result<(), std::fmt::Error>;

impl Families {
    pub(super) fn orphan_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        counters(
            enc,
            "daxtrace_orphaned_pages",
            "DAX pages their file let go while still busy (eviction, unmount or truncate under DMA; before 6.15 the kernel does not wait).",
            per_device(s, |f| f.orphaned_pages_total),
        )?;
        gauges(
            enc,
            "daxtrace_orphaned_pages_busy",
            "Orphaned pages still busy now: DMA may still write into blocks the filesystem has given back.",
            None,
            per_device(s, |f| f.orphaned_pages_busy),
        )?;
        counters(
            enc,
            "daxtrace_blocked_waits",
            "Uninterruptible eviction or unmount waits (6.15+) still asleep on a busy page past the stuck threshold.",
            per_device(s, |f| f.blocked_waits_total),
        )
    }
}
