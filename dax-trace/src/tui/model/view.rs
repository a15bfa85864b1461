//! The view model: plain data the screens and the batch renderer draw.
//!
//! Collection (events folded into collector state) and rendering are kept
//! apart the way bottom and gitui do it: once per refresh the dashboard turns
//! collector state into these structs (see [`crate::tui::model`]), and every widget
//! only ever sees them. That keeps rendering pure (snapshot-testable) and lets
//! `p` freeze the screen while events keep flowing into the collector.
use dax_trace_common::field::StackId;

use crate::human::compact::duration;

/// Everything one frame shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub header: Header,
    /// Pagemaps/devices after filter and sort, in display order.
    pub rows: Vec<PagemapRow>,
    /// Details of the selected row (`None` when there are no rows).
    pub detail: Option<Detail>,
    /// Recent events, oldest first.
    pub log: Vec<String>,
}

/// The top line(s): where the events come from and how intake is doing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    /// "live" or "replay FILE".
    pub source: String,
    pub kernel: String,
    pub probes_attached: usize,
    pub probes_total: usize,
    pub events_total: u64,
    pub events_per_sec: f64,
    /// Events the kernel could not hand over (sum of the latest per-point totals).
    pub drops: u64,
    /// "Now" on the events' clock (CLOCK_MONOTONIC ns) when this was captured.
    pub now_ns: u64,
    /// Set when the source has no more events (end of trace, capture stopped).
    pub ended: Option<String>,
    /// How `now_ns` is printed (`top --time`).
    pub time: crate::human::time::Timeline,
}

/// One pagemap (or a dax device without a known pagemap) in the table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PagemapRow {
    /// Stable identity across refreshes (the pagemap or dax_device pointer).
    pub key: u64,
    pub device: String,
    /// fsdax, devdax, dm, ...
    pub kind: String,
    pub size_bytes: u64,
    /// Current holder (filesystem, dm table) or "-" when unclaimed.
    pub holder: String,
    pub claims: u64,
    pub releases: u64,
    pub busy_pages: u64,
    pub waits: u64,
    pub wait_p50_ns: Option<u64>,
    pub wait_p99_ns: Option<u64>,
    /// p50 and p99 are bucket upper bounds (too many waits to keep them all).
    pub wait_percentiles_bound: bool,
    pub wait_max_ns: Option<u64>,
    /// Cumulative DAX faults; the dashboard turns it into `faults_per_sec`.
    pub faults_total: u64,
    pub faults_per_sec: f64,
    /// Waits on pages that are already idle (lost wakeups).
    pub stuck_waits: u64,
    /// Pages its files let go while still busy.
    pub orphaned_pages: u64,
    /// Eviction waits blocked on a busy page.
    pub blocked_waits: u64,
}

impl PagemapRow {
    /// Something on this device needs a look now: a lost wakeup, a page
    /// let go under DMA, an eviction that cannot finish.
    pub fn alarming(&self) -> bool {
        self.stuck_waits + self.orphaned_pages + self.blocked_waits > 0
    }
}

impl PagemapRow {
    /// The text `/` filters match against (case-insensitive).
    pub fn matches(&self, needle_lower: &str) -> bool {
        needle_lower.is_empty()
            || [&self.device, &self.kind, &self.holder]
                .iter()
                .any(|s| s.to_lowercase().contains(needle_lower))
    }
}

/// The detail pane of the selected pagemap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detail {
    pub title: String,
    /// Lines of the device-mapper topology above/below this device.
    pub topology: Vec<String>,
    /// The device's flush requests to its host (virtio-pmem): count and
    /// latency figures; None where none went.
    pub flushes: Option<String>,
    /// Claims and releases, oldest first.
    pub holders: Vec<HolderEntry>,
    /// Busy pages, oldest (longest pinned) first; may be cut short.
    pub busy: Vec<BusyPage>,
    /// How many pages are busy in all.
    pub busy_total: usize,
    /// Pages busy at start (the census of the state at start), lowest pfn
    /// first; may be cut short. Their age is since the reading.
    pub busy_at_start: Vec<BusyPage>,
    /// How many pages the census found busy in all.
    pub busy_at_start_total: u64,
    /// Wait latency histogram of this pagemap.
    pub histogram: Histogram,
    /// Waits in progress on the device's filesystem, longest first.
    pub waits: Vec<WaitRow>,
    /// How the holder history prints its times (`top --time`).
    pub time: crate::human::time::Timeline,
    /// Index of the selected busy page (`[` / `]`).
    pub selected_busy: usize,
    /// Who pins the selected busy page, and its kernel stack.
    pub pinner: Option<Pinner>,
}

/// The owner of a busy page, for the detail pane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pinner {
    pub pfn: u64,
    /// `fio[585]` (comm and tid).
    pub who: String,
    /// The gup entry point it pinned through.
    pub entry: String,
    /// How long it has held the page (held, when it released it already).
    pub held_ns: u64,
    /// It no longer holds the page (the page is busy through other
    /// references).
    pub released: bool,
    pub stack: StackId,
    /// The stack's frames (`function [module]`), innermost first; filled
    /// from the stream's stack table when the frame is arranged (empty when
    /// the stack is unknown).
    pub frames: Vec<String>,
}

/// A wait in progress, for the detail pane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitRow {
    /// `truncate[566/583]`.
    pub who: String,
    pub ino: u64,
    /// Asleep so far (at least this, when found at attach).
    pub waited_ns: u64,
    pub at_attach: bool,
    /// The stuck detector reported it (asleep on an idle page).
    pub stuck: bool,
    /// The scanner reported it blocked (uninterruptible, on a busy page).
    pub blocked: bool,
    /// Uninterruptible (eviction or unmount): no signal ends it.
    pub uninterruptible: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HolderEntry {
    pub at_ns: u64,
    pub holder: String,
    /// "claim", "release", "refused", ...
    pub action: String,
    pub pid: u32,
    pub comm: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BusyPage {
    pub pfn: u64,
    pub ino: u64,
    /// The page's index in its file (pgoff), when known.
    pub pgoff: Option<u64>,
    pub age_ns: u64,
    pub refcount: u64,
    /// Who pins it: `fio[585]`, `at start` (busy in the state at start), `?`
    /// (no owner reported), empty when the trace reports no owners at all.
    pub owner: String,
    /// Its (oldest) owner in full, when one was reported.
    pub pinner: Option<Pinner>,
}

/// Counts per latency bucket; `bounds_ns[i]` is the upper bound of bucket i
/// (the last bucket is open-ended when `counts` is one longer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    pub bounds_ns: Vec<u64>,
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Short label of bucket `i` ("<1ms", ">=1s").
    pub fn label(&self, i: usize) -> String {
        match self.bounds_ns.get(i) {
            Some(&b) => format!("<{}", duration(b)),
            None => match self.bounds_ns.last() {
                Some(&b) => format!(">={}", duration(b)),
                None => "all".to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_labels_name_bounds_and_the_open_bucket() {
        let h = Histogram {
            bounds_ns: vec![1_000_000, 1_000_000_000],
            counts: vec![3, 2, 1],
        };
        assert_eq!(h.label(0), "<1.0ms");
        assert_eq!(h.label(2), ">=1.0s");
        assert_eq!(h.total(), 6);
    }

    #[test]
    fn filter_matches_device_kind_or_holder() {
        let row = PagemapRow {
            device: "pmem0".into(),
            kind: "fsdax".into(),
            holder: "ext4 /mnt".into(),
            ..Default::default()
        };
        assert!(row.matches(""));
        assert!(row.matches("pmem"));
        assert!(row.matches("ext4"));
        assert!(!row.matches("xfs"));
    }
}
