//! Claims and releases of dax_devices (outermost call of a nest only), and
//! device-mapper members taken and dropped with them.
use dax_trace_common::{
    Dev, DiskName, Flag,
    field::{ClaimApiCode, StackId},
    payload::{Claim, DmMember, Release},
    probe::{ClaimApi, idx},
};

use crate::emit::{kept, stack_id, submit, tid};
use crate::maps::{CLAIM_DEPTH, DM_TABLE_CTX};
use crate::read::{at, bdev_dev, bdev_disk_name, dax_holder, is_err_or_null, nargs};

use super::*;

/// Increments this thread's claim/release nesting depth, returning the old one.
#[inline(always)]
pub(super) fn depth_inc(point: u16) -> u32 {
    let t = tid();
    let old = unsafe { CLAIM_DEPTH.get(t) }.copied().unwrap_or(0);
    kept(point, CLAIM_DEPTH.insert(t, old + 1, 0));
    old
}

/// Decrements the depth, returning the new one.
#[inline(always)]
pub(super) fn depth_dec(point: u16) -> u32 {
    let t = tid();
    let old = unsafe { CLAIM_DEPTH.get(t) }.copied().unwrap_or(1);
    let new = old.saturating_sub(1);
    if new == 0 {
        let _ = CLAIM_DEPTH.remove(t);
    } else {
        kept(point, CLAIM_DEPTH.insert(t, new, 0));
    }
    new
}

#[inline(always)]
pub(super) fn claim(ctx: Ctx, point: u16, args: &[u64; 6], ret: u64) {
    // dax_get_by_host (<= 5.15) is a claim only when device-mapper takes a
    // table member; elsewhere it is a transient lookup (bdev_dax_supported at
    // mount) whose put_dax is inlined away, so counting it would leave an
    // unmatched claim per mount.
    if point == idx::DAX_GET_BY_HOST
        && unsafe { DM_TABLE_CTX.get(tid()) }.copied() != Some(DM_TABLE_OPEN)
    {
        return;
    }
    let mut c = Claim::default();
    let n = nargs(point);
    let (dax_dev, granted, holder, api) = match point {
        idx::FS_DAX_GET_BY_BDEV => {
            let bdev = args[0];
            c.bdev = Dev(bdev_dev(bdev));
            bdev_disk_name(bdev, &mut c.disk.0);
            if n >= 2 {
                c.start_off = at::<u64>(args[1], 0);
            }
            let holder = if n >= 3 { args[2] } else { 0 };
            if n >= 4 {
                c.holder_ops = args[3];
            }
            (ret, !is_err_or_null(ret), holder, ClaimApi::FsDaxGetByBdev)
        }
        idx::DAX_GET_BY_HOST => {
            let _ = unsafe {
                aya_ebpf::helpers::bpf_probe_read_kernel_str_bytes(
                    args[0] as *const u8,
                    &mut c.disk.0,
                )
            };
            (ret, !is_err_or_null(ret), 0, ClaimApi::DaxGetByHost)
        }
        idx::FS_DAX_GET => {
            c.holder_ops = args[2];
            (args[0], ret as i32 == 0, args[1], ClaimApi::FsDaxGet)
        }
        idx::FS_DAX_CLAIM_BDEV => {
            c.bdev = Dev(bdev_dev(args[0]));
            bdev_disk_name(args[0], &mut c.disk.0);
            (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedFsDaxClaim)
        }
        idx::FS_DAX_CLAIM => (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedFsDaxClaim),
        _ => (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedDmClaim),
    };
    // A NULL lookup without a holder is "not a DAX device", not a refusal.
    if !granted && holder == 0 {
        return;
    }
    c.dax_dev = if granted { dax_dev } else { 0 };
    c.holder = holder;
    c.granted = Flag::new(granted);
    c.api = ClaimApiCode::new(api);
    c.stack = StackId(stack_id(ctx, point));
    submit(point, c);
    if granted && unsafe { DM_TABLE_CTX.get(tid()) }.copied() == Some(DM_TABLE_OPEN) {
        dm_member(point, dax_dev, true, c.bdev, c.disk);
    }
}

#[inline(always)]
pub(super) fn release(ctx: Ctx, point: u16, args: &[u64; 6]) {
    let dax_dev = args[0];
    if dax_dev == 0 {
        return;
    }
    let api = match point {
        idx::FS_PUT_DAX => ClaimApi::FsPutDax,
        idx::PUT_DAX => ClaimApi::PutDax,
        idx::DM_DAX_FS_RELEASE => ClaimApi::SeedDmClaim,
        _ => ClaimApi::SeedFsDaxClaim,
    };
    submit(
        point,
        Release {
            dax_dev,
            holder: if point == idx::PUT_DAX { 0 } else { args[1] },
            api: ClaimApiCode::new(api),
            _pad: 0,
            holder_before: dax_holder(dax_dev),
            stack: StackId(stack_id(ctx, point)),
            _pad_stack: 0,
        },
    );
    if unsafe { DM_TABLE_CTX.get(tid()) }.copied() == Some(DM_TABLE_CLOSE) {
        dm_member(point, dax_dev, false, Dev(0), DiskName::EMPTY);
    }
}

#[inline(always)]
pub(super) fn dm_member(point: u16, dax_dev: u64, taken: bool, bdev: Dev, disk: DiskName) {
    submit(
        point,
        DmMember {
            member_dax_dev: dax_dev,
            taken: Flag::new(taken),
            bdev,
            disk,
        },
    );
}
