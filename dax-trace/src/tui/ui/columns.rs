//! The pagemap table's columns, shared by the screen and the batch output.
use ratatui::layout::Constraint;

use crate::human::compact::{bytes, opt_duration, rate};
use crate::tui::model::app::SortColumn;
use crate::tui::model::view::PagemapRow;

pub struct Column {
    pub name: &'static str,
    /// Width on screen (the holder column takes what is left).
    pub width: Constraint,
    /// The sort column this column shows, if it is one.
    pub sort: Option<SortColumn>,
}

const fn col(name: &'static str, width: Constraint, sort: Option<SortColumn>) -> Column {
    Column { name, width, sort }
}

pub const COLUMNS: [Column; 11] = [
    col("device", Constraint::Length(8), Some(SortColumn::Device)),
    col("type", Constraint::Length(5), None),
    col("size", Constraint::Length(5), None),
    col("holder", Constraint::Min(8), None),
    col("cl/rel", Constraint::Length(6), Some(SortColumn::Claims)),
    col("busy", Constraint::Length(5), Some(SortColumn::Busy)),
    col("waits", Constraint::Length(5), Some(SortColumn::Waits)),
    col("p50", Constraint::Length(5), None),
    col("p99", Constraint::Length(5), Some(SortColumn::P99)),
    col("max", Constraint::Length(5), Some(SortColumn::MaxWait)),
    col("flt/s", Constraint::Length(5), Some(SortColumn::Faults)),
];

/// The cell texts of `row`, in [`COLUMNS`] order. Waits end in `!` when some
/// of them are stuck (a waiter on an already idle page) or blocked (an
/// eviction on a page still held); busy pages when a file let one go while
/// busy.
pub fn cells(row: &PagemapRow) -> [String; 11] {
    [
        row.device.clone(),
        row.kind.clone(),
        bytes(row.size_bytes),
        row.holder.clone(),
        format!("{}/{}", row.claims, row.releases),
        if row.orphaned_pages > 0 {
            format!("{}!", row.busy_pages)
        } else {
            row.busy_pages.to_string()
        },
        if row.stuck_waits + row.blocked_waits > 0 {
            format!("{}!", row.waits)
        } else {
            row.waits.to_string()
        },
        percentile(row.wait_p50_ns, row.wait_percentiles_bound),
        percentile(row.wait_p99_ns, row.wait_percentiles_bound),
        opt_duration(row.wait_max_ns),
        rate(row.faults_per_sec),
    ]
}

/// A percentile cell: `≤` before a bucket's upper bound.
fn percentile(ns: Option<u64>, bound: bool) -> String {
    match ns {
        Some(ns) if bound => format!("≤{}", opt_duration(Some(ns))),
        _ => opt_duration(ns),
    }
}
