//! Device-mapper fan-out: which member a dm dax_device maps to.
use dax_trace_common::payload::DmAccess;

use crate::emit::{kept, submit, tid};
use crate::maps::{DM_CTX, DM_PAIRS};

#[inline(always)]
pub(super) fn dm_fan_out(point: u16, args: &[u64; 6]) {
    let Some(ctx) = (unsafe { DM_CTX.get(tid()) }).copied() else {
        return;
    };
    let member = args[0];
    if member == ctx.dm_dax_dev {
        return;
    }
    let pair = [ctx.dm_dax_dev, member];
    if unsafe { DM_PAIRS.get(pair) }.is_some() {
        return;
    }
    kept(point, DM_PAIRS.insert(pair, 1, 0));
    submit(
        point,
        DmAccess {
            dm_dax_dev: ctx.dm_dax_dev,
            member_dax_dev: member,
            dm_pgoff: ctx.pgoff,
            member_pgoff: args[1],
            nr_pages: ctx.nr_pages,
        },
    );
}
