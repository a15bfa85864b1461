//! Refused long-term pins as check notices: the kernel refusing FOLL_LONGTERM
//! on FS-DAX memory is the kernel being right, so never a failure, but the
//! application that asked (RDMA, io_uring fixed buffers, vfio) will not work
//! on a DAX file, which is worth saying in CI.
use crate::collector::Collector;
use crate::collector::pins_view::refused_line;
use crate::stacks::StackTable;

/// One line per (process, file) that had a long-term pin refused.
pub(super) fn notices(c: &Collector, stacks: Option<&StackTable>) -> Vec<String> {
    let pins = c.pins();
    let mut out: Vec<String> = pins
        .refused()
        .iter()
        .map(|r| refused_line(r, stacks))
        .collect();
    if pins.refused_ungrouped > 0 {
        out.push(format!(
            "... and {} more refused long-term pins of other processes or files",
            pins.refused_ungrouped
        ));
    }
    out
}
