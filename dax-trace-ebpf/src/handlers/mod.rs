//! What each attach point does. Every function here is `inline(always)` and
//! takes the point as an argument that is a constant in each program, so a
//! program only carries the code of its own point.
//!
//! One file per concern: [`claims`] (claims, releases, dm members),
//! [`pagemaps`], [`pages`] (puts, idle pages, busy pages), [`waits`]
//! (break-layouts spans and the stuck-wait scan), [`orphans`] (busy pages
//! their file let go), [`dm`] (device-mapper fan-out), [`flush`]
//! (virtio-pmem flushes) and [`tracepoints`] (faults, memory failures).
mod claims;
mod dm;
mod flush;
mod orphans;
mod pagemaps;
mod pages;
mod tracepoints;
mod waits;

pub use tracepoints::on_tracepoint;
pub use waits::stuck_scan;

use claims::{claim, depth_dec, depth_inc, release};
use dm::dm_fan_out;
use pagemaps::pagemap_create;
use pages::{busy_page, page_put};
use waits::{wait_enter, wait_exit};

use dax_trace_common::{
    DiskName, Flag,
    payload::{DaxAddHost, DaxAlloc, DaxKill, DmTableDax, HolderNotifyFailure, PagemapDestroy},
    probe::idx,
};

use crate::conf;
use crate::emit::{kept, now, submit, tid};
use crate::maps::{DM_CTX, DM_TABLE_CTX, DmCtx, STASH, Stash};
use crate::pins;
use crate::read::{at, dax_holder, inode_is_dax, is_err_or_null, name_at};

const DM_TABLE_OPEN: u32 = 1;
const DM_TABLE_CLOSE: u32 = 2;

#[inline(always)]
fn stash_key(point: u16) -> u64 {
    ((tid() as u64) << 8) | point as u64
}

/// The program's context, for the helpers that need it (kernel stacks).
pub type Ctx = *mut core::ffi::c_void;

/// Function entry, whatever the attach kind.
#[inline(always)]
pub fn on_entry(ctx: Ctx, point: u16, args: &[u64; 6]) {
    if matches!(point, idx::UNPIN_USER_PAGE | idx::UNPIN_USER_PAGES) {
        pins::unpinned(point, args);
        return;
    }
    match point {
        // Entry-only points.
        idx::GET_DEV_PAGEMAP => pins::pagemap_looked_up(ctx, point, args[0]),
        idx::MEMUNMAP_PAGES => {
            pins::pagemap_gone(args[0]);
            submit(point, PagemapDestroy { pgmap: args[0] })
        }
        idx::KILL_DAX => submit(
            point,
            DaxKill {
                dax_dev: args[0],
                holder: dax_holder(args[0]),
            },
        ),
        idx::DAX_ADD_HOST => {
            let mut host = DaxAddHost {
                dax_dev: args[0],
                disk: DiskName::EMPTY,
            };
            name_at(args[1], conf!(disk_name_off), &mut host.disk.0);
            submit(point, host);
        }
        idx::FREE_ZONE_DEVICE_FOLIO => page_put(point, args[0], 1, true),
        idx::PUT_DEVMAP_FOLIO_REFS | idx::PUT_DEVMAP_PAGE_REFS => {
            page_put(point, args[0], args[1] as i32, false)
        }
        idx::PUT_DEVMAP_MANAGED_PAGE | idx::PUT_DEVMAP_MANAGED_PAGE_OLD => {
            page_put(point, args[0], 1, false)
        }
        idx::DAX_DIRECT_ACCESS => dm_fan_out(point, args),
        idx::DAX_DISASSOCIATE_ENTRY => {
            orphans::entry_dropped(ctx, point, args[0], args[1], args[2])
        }
        idx::DAX_HOLDER_NOTIFY_FAILURE => submit(
            point,
            HolderNotifyFailure {
                dax_dev: args[0],
                offset: args[1],
                len: args[2],
                flags: args[3],
                holder: dax_holder(args[0]),
            },
        ),
        // Break-layouts calls run on every truncate, hole punch and
        // fallocate of their filesystem: one on an inode without DAX can
        // meet no busy page, and is left before anything is kept (its
        // return then finds no stash).
        // ext4 calls dax_break_layout_final on every inode it evicts.
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT_FINAL
            if !inode_is_dax(args[0]) => {}
        // The same for the busy-page scan of a mapping whose inode is not
        // DAX (the kernel returns at once there too).
        idx::DAX_LAYOUT_BUSY_PAGE_RANGE | idx::DAX_LAYOUT_BUSY_PAGE
            if !inode_is_dax(at::<u64>(args[0], conf!(mapping_host_off))) => {}
        idx::ASYNC_PMEM_FLUSH => flush::region_flushed(point, args[0], args[1]),
        // Entry halves of entry+exit points.
        _ => {
            let stash = Stash {
                args: *args,
                ts_ns: now(),
            };
            kept(point, STASH.insert(stash_key(point), stash, 0));
            entry_action(ctx, point, args);
        }
    }
}

#[inline(always)]
fn entry_action(ctx: Ctx, point: u16, args: &[u64; 6]) {
    match point {
        idx::FS_DAX_GET_BY_BDEV
        | idx::DAX_GET_BY_HOST
        | idx::FS_DAX_GET
        | idx::FS_DAX_CLAIM
        | idx::FS_DAX_CLAIM_BDEV
        | idx::DM_DAX_FS_CLAIM => {
            depth_inc(point);
        }
        idx::FS_PUT_DAX
        | idx::PUT_DAX
        | idx::FS_DAX_RELEASE_INNER
        | idx::FS_DAX_RELEASE
        | idx::DM_DAX_FS_RELEASE
            if depth_inc(point) == 0 =>
        {
            release(ctx, point, args);
        }
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT_FINAL => wait_enter(point, args[0]),
        idx::DM_DAX_DIRECT_ACCESS => {
            let ctx = DmCtx {
                dm_dax_dev: args[0],
                pgoff: args[1],
                nr_pages: args[2],
            };
            kept(point, DM_CTX.insert(tid(), ctx, 0));
        }
        idx::DM_GET_TABLE_DEVICE => {
            kept(point, DM_TABLE_CTX.insert(tid(), DM_TABLE_OPEN, 0));
        }
        idx::DM_PUT_TABLE_DEVICE => {
            kept(point, DM_TABLE_CTX.insert(tid(), DM_TABLE_CLOSE, 0));
        }
        _ => {}
    }
}

/// Function return, whatever the attach kind.
#[inline(always)]
pub fn on_exit(ctx: Ctx, point: u16, ret: u64) {
    let key = stash_key(point);
    let Some(stash) = (unsafe { STASH.get(key) }).copied() else {
        // Entered before we attached: nothing to pair with.
        return;
    };
    let _ = STASH.remove(key);
    let args = stash.args;
    match point {
        idx::MEMREMAP_PAGES => pagemap_create(point, args[0], ret),
        idx::DEVM_MEMREMAP_PAGES => pagemap_create(point, args[1], ret),
        idx::FS_DAX_GET_BY_BDEV
        | idx::DAX_GET_BY_HOST
        | idx::FS_DAX_GET
        | idx::FS_DAX_CLAIM
        | idx::FS_DAX_CLAIM_BDEV
        | idx::DM_DAX_FS_CLAIM
            if depth_dec(point) == 0 =>
        {
            claim(ctx, point, &args, ret);
        }
        idx::FS_PUT_DAX
        | idx::PUT_DAX
        | idx::FS_DAX_RELEASE_INNER
        | idx::FS_DAX_RELEASE
        | idx::DM_DAX_FS_RELEASE => {
            depth_dec(point);
        }
        idx::ALLOC_DAX if !is_err_or_null(ret) => submit(
            point,
            DaxAlloc {
                dax_dev: ret,
                private: args[0],
            },
        ),
        idx::DAX_LAYOUT_BUSY_PAGE_RANGE | idx::DAX_LAYOUT_BUSY_PAGE if ret != 0 => {
            busy_page(ctx, point, args[0], ret);
        }
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS => wait_exit(point, ret),
        // Returns void: whatever the return register holds is not a result.
        idx::DAX_BREAK_LAYOUT_FINAL => wait_exit(point, 0),
        idx::DM_DAX_DIRECT_ACCESS => {
            let _ = DM_CTX.remove(tid());
        }
        idx::VIRTIO_PMEM_FLUSH => flush::flush_done(point, args[0], stash.ts_ns, ret),
        idx::DM_TABLE_SUPPORTS_DAX => submit(
            point,
            DmTableDax {
                table: args[0],
                capable: Flag::new(ret & 0xff != 0),
                _pad: 0,
            },
        ),
        idx::DM_GET_TABLE_DEVICE | idx::DM_PUT_TABLE_DEVICE => {
            let _ = DM_TABLE_CTX.remove(tid());
        }
        _ => {}
    }
}
