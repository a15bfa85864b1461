//! daxtrace's eBPF programs. Every attach point of
//! `dax_trace_common::probe::POINTS` gets a fentry (+fexit) and a kprobe
//! (+kretprobe) variant, or a tracepoint program; the loader picks the kind
//! the running kernel supports. All variants call the same handlers.
#![no_std]
#![no_main]
// The program names are kernel function names.
#![allow(non_snake_case)]

use aya_ebpf::{
    EbpfContext as _,
    helpers::{
        bpf_probe_read_kernel,
        generated::{bpf_get_func_arg, bpf_get_func_ret},
    },
    macros::{fentry, fexit, kprobe, kretprobe, perf_event, raw_tracepoint, tracepoint},
    programs::{
        FEntryContext, FExitContext, PerfEventContext, ProbeContext, RawTracePointContext,
        RetProbeContext, TracePointContext,
    },
};
use dax_trace_common::probe::idx;
use dax_trace_ebpf::{conf, handlers, read::nargs};

/// Slot `i` of a fentry/fexit context (arguments, then the return value),
/// read with `bpf_probe_read_kernel`: for kernels before 5.17, which lack
/// `bpf_get_func_arg`. Direct loads are not used: LLVM folds the per-count
/// branches into `ctx + n * 8`, and the verifier (5.10, 6.1) refuses any
/// load through a modified ctx pointer, and refuses a direct load of a
/// pointer to anything but a struct (`struct page **`).
#[inline(always)]
fn ctx_slot(ctx: *mut core::ffi::c_void, i: usize) -> u64 {
    let base = ctx as u64;
    unsafe { bpf_probe_read_kernel((base + (i as u64) * 8) as *const u64) }.unwrap_or(0)
}

/// Argument `i` of a fentry/fexit program. From 5.17 through
/// `bpf_get_func_arg`, which the verifier inlines into a bounds check and a
/// load (no helper call; the value is a plain scalar, whatever its BTF type);
/// before, through [`ctx_slot`]. The branch is on a load-time constant, so
/// the verifier of an older kernel never walks the helper call.
#[inline(always)]
fn func_arg(ctx: *mut core::ffi::c_void, i: usize) -> u64 {
    if conf!(func_arg_helpers) == 0 {
        return ctx_slot(ctx, i);
    }
    let mut v = 0u64;
    // SAFETY: ctx is the program's context; v is a stack slot.
    let err = unsafe { bpf_get_func_arg(ctx, i as u32, &mut v) };
    if err < 0 { 0 } else { v }
}

/// The return value of a fexit program (it sits right after the `n`
/// arguments), through `bpf_get_func_ret` where the kernel inlines it.
#[inline(always)]
fn func_ret(ctx: *mut core::ffi::c_void, n: usize) -> u64 {
    if conf!(func_arg_helpers) == 0 {
        return ctx_slot(ctx, n);
    }
    let mut v = 0u64;
    // SAFETY: as in func_arg.
    let err = unsafe { bpf_get_func_ret(ctx, &mut v) };
    if err < 0 { 0 } else { v }
}

/// Arguments of a fentry program: only as many as the function has on this
/// kernel (the load-time config's count; the rest stay 0).
#[inline(always)]
fn fentry_args(ctx: &FEntryContext, point: u16) -> [u64; 6] {
    let n = nargs(point) as usize;
    let p = ctx.as_ptr();
    let mut a = [0u64; 6];
    let mut i = 0;
    while i < 6 {
        if i < n {
            a[i] = func_arg(p, i);
        }
        i += 1;
    }
    a
}

/// The return value of a fexit program sits right after the arguments.
#[inline(always)]
fn fexit_ret(ctx: &FExitContext, point: u16) -> u64 {
    let n = (nargs(point) as usize).min(6);
    func_ret(ctx.as_ptr(), n)
}

#[inline(always)]
fn kprobe_args(ctx: &ProbeContext) -> [u64; 6] {
    [
        ctx.arg(0).unwrap_or(0),
        ctx.arg(1).unwrap_or(0),
        ctx.arg(2).unwrap_or(0),
        ctx.arg(3).unwrap_or(0),
        ctx.arg(4).unwrap_or(0),
        ctx.arg(5).unwrap_or(0),
    ]
}

macro_rules! entry {
    ($fentry:ident, $kprobe:ident, $point:expr) => {
        #[fentry]
        pub fn $fentry(ctx: FEntryContext) -> u32 {
            handlers::on_entry(ctx.as_ptr(), $point, &fentry_args(&ctx, $point));
            0
        }
        #[kprobe]
        pub fn $kprobe(ctx: ProbeContext) -> u32 {
            handlers::on_entry(ctx.as_ptr(), $point, &kprobe_args(&ctx));
            0
        }
    };
}

macro_rules! entry_exit {
    ($fentry:ident, $fexit:ident, $kprobe:ident, $kretprobe:ident, $point:expr) => {
        entry!($fentry, $kprobe, $point);
        #[fexit]
        pub fn $fexit(ctx: FExitContext) -> u32 {
            handlers::on_exit(ctx.as_ptr(), $point, fexit_ret(&ctx, $point));
            0
        }
        #[kretprobe]
        pub fn $kretprobe(ctx: RetProbeContext) -> u32 {
            handlers::on_exit(ctx.as_ptr(), $point, ctx.ret());
            0
        }
    };
}

/// A gup entry point's return: its arguments and return value straight from
/// the fexit context (no stash: these run on every O_DIRECT and shared
/// futex).
macro_rules! gup_exit {
    ($fexit:ident, $point:expr) => {
        #[fexit]
        pub fn $fexit(ctx: FExitContext) -> u32 {
            let p = ctx.as_ptr();
            dax_trace_ebpf::pins::gup_exit(
                p,
                $point,
                |i| func_arg(p, i),
                // Up to 7 arguments (`_remote` before 6.5), unlike fexit_ret.
                func_ret(p, (nargs($point) as usize).min(11)),
            );
            0
        }
    };
}

macro_rules! tracepoint {
    ($name:ident, $point:expr) => {
        #[tracepoint]
        pub fn $name(ctx: TracePointContext) -> u32 {
            handlers::on_tracepoint($point, |off, size| unsafe {
                if size == 4 {
                    ctx.read_at::<u32>(off as usize).unwrap_or(0) as u64
                } else {
                    ctx.read_at::<u64>(off as usize).unwrap_or(0)
                }
            });
            0
        }
    };
}

entry_exit!(
    fentry_memremap_pages,
    fexit_memremap_pages,
    kprobe_memremap_pages,
    kretprobe_memremap_pages,
    idx::MEMREMAP_PAGES
);
entry_exit!(
    fentry_devm_memremap_pages,
    fexit_devm_memremap_pages,
    kprobe_devm_memremap_pages,
    kretprobe_devm_memremap_pages,
    idx::DEVM_MEMREMAP_PAGES
);
entry!(
    fentry_memunmap_pages,
    kprobe_memunmap_pages,
    idx::MEMUNMAP_PAGES
);
entry_exit!(
    fentry_fs_dax_get_by_bdev,
    fexit_fs_dax_get_by_bdev,
    kprobe_fs_dax_get_by_bdev,
    kretprobe_fs_dax_get_by_bdev,
    idx::FS_DAX_GET_BY_BDEV
);
entry_exit!(
    fentry_dax_get_by_host,
    fexit_dax_get_by_host,
    kprobe_dax_get_by_host,
    kretprobe_dax_get_by_host,
    idx::DAX_GET_BY_HOST
);
entry_exit!(
    fentry_fs_dax_get,
    fexit_fs_dax_get,
    kprobe_fs_dax_get,
    kretprobe_fs_dax_get,
    idx::FS_DAX_GET
);
entry_exit!(
    fentry_fs_dax_claim,
    fexit_fs_dax_claim,
    kprobe_fs_dax_claim,
    kretprobe_fs_dax_claim,
    idx::FS_DAX_CLAIM
);
entry_exit!(
    fentry_fs_dax_claim_bdev,
    fexit_fs_dax_claim_bdev,
    kprobe_fs_dax_claim_bdev,
    kretprobe_fs_dax_claim_bdev,
    idx::FS_DAX_CLAIM_BDEV
);
entry_exit!(
    fentry_dm_dax_fs_claim,
    fexit_dm_dax_fs_claim,
    kprobe_dm_dax_fs_claim,
    kretprobe_dm_dax_fs_claim,
    idx::DM_DAX_FS_CLAIM
);
entry_exit!(
    fentry_fs_put_dax,
    fexit_fs_put_dax,
    kprobe_fs_put_dax,
    kretprobe_fs_put_dax,
    idx::FS_PUT_DAX
);
entry_exit!(
    fentry_put_dax,
    fexit_put_dax,
    kprobe_put_dax,
    kretprobe_put_dax,
    idx::PUT_DAX
);
entry_exit!(
    fentry___fs_dax_release,
    fexit___fs_dax_release,
    kprobe___fs_dax_release,
    kretprobe___fs_dax_release,
    idx::FS_DAX_RELEASE_INNER
);
entry_exit!(
    fentry_fs_dax_release,
    fexit_fs_dax_release,
    kprobe_fs_dax_release,
    kretprobe_fs_dax_release,
    idx::FS_DAX_RELEASE
);
entry_exit!(
    fentry_dm_dax_fs_release,
    fexit_dm_dax_fs_release,
    kprobe_dm_dax_fs_release,
    kretprobe_dm_dax_fs_release,
    idx::DM_DAX_FS_RELEASE
);
entry_exit!(
    fentry_alloc_dax,
    fexit_alloc_dax,
    kprobe_alloc_dax,
    kretprobe_alloc_dax,
    idx::ALLOC_DAX
);
entry!(fentry_kill_dax, kprobe_kill_dax, idx::KILL_DAX);
entry!(fentry_dax_add_host, kprobe_dax_add_host, idx::DAX_ADD_HOST);
entry!(
    fentry_free_zone_device_folio,
    kprobe_free_zone_device_folio,
    idx::FREE_ZONE_DEVICE_FOLIO
);
entry!(
    fentry_put_devmap_folio_refs,
    kprobe_put_devmap_folio_refs,
    idx::PUT_DEVMAP_FOLIO_REFS
);
entry!(
    fentry_put_devmap_page_refs,
    kprobe_put_devmap_page_refs,
    idx::PUT_DEVMAP_PAGE_REFS
);
entry!(
    fentry_put_devmap_managed_page,
    kprobe_put_devmap_managed_page,
    idx::PUT_DEVMAP_MANAGED_PAGE
);
entry!(
    fentry_put_devmap_managed_page_old,
    kprobe_put_devmap_managed_page_old,
    idx::PUT_DEVMAP_MANAGED_PAGE_OLD
);
entry_exit!(
    fentry_dax_layout_busy_page_range,
    fexit_dax_layout_busy_page_range,
    kprobe_dax_layout_busy_page_range,
    kretprobe_dax_layout_busy_page_range,
    idx::DAX_LAYOUT_BUSY_PAGE_RANGE
);
entry_exit!(
    fentry_dax_layout_busy_page,
    fexit_dax_layout_busy_page,
    kprobe_dax_layout_busy_page,
    kretprobe_dax_layout_busy_page,
    idx::DAX_LAYOUT_BUSY_PAGE
);
entry_exit!(
    fentry_ext4_break_layouts,
    fexit_ext4_break_layouts,
    kprobe_ext4_break_layouts,
    kretprobe_ext4_break_layouts,
    idx::EXT4_BREAK_LAYOUTS
);
entry_exit!(
    fentry_xfs_break_layouts,
    fexit_xfs_break_layouts,
    kprobe_xfs_break_layouts,
    kretprobe_xfs_break_layouts,
    idx::XFS_BREAK_LAYOUTS
);
entry_exit!(
    fentry_dax_break_layout,
    fexit_dax_break_layout,
    kprobe_dax_break_layout,
    kretprobe_dax_break_layout,
    idx::DAX_BREAK_LAYOUT
);
entry_exit!(
    fentry_fuse_dax_break_layouts,
    fexit_fuse_dax_break_layouts,
    kprobe_fuse_dax_break_layouts,
    kretprobe_fuse_dax_break_layouts,
    idx::FUSE_DAX_BREAK_LAYOUTS
);
entry_exit!(
    fentry_dm_dax_direct_access,
    fexit_dm_dax_direct_access,
    kprobe_dm_dax_direct_access,
    kretprobe_dm_dax_direct_access,
    idx::DM_DAX_DIRECT_ACCESS
);
entry!(
    fentry_dax_direct_access,
    kprobe_dax_direct_access,
    idx::DAX_DIRECT_ACCESS
);
entry_exit!(
    fentry_dm_table_supports_dax,
    fexit_dm_table_supports_dax,
    kprobe_dm_table_supports_dax,
    kretprobe_dm_table_supports_dax,
    idx::DM_TABLE_SUPPORTS_DAX
);
entry_exit!(
    fentry_dm_get_table_device,
    fexit_dm_get_table_device,
    kprobe_dm_get_table_device,
    kretprobe_dm_get_table_device,
    idx::DM_GET_TABLE_DEVICE
);
entry_exit!(
    fentry_dm_put_table_device,
    fexit_dm_put_table_device,
    kprobe_dm_put_table_device,
    kretprobe_dm_put_table_device,
    idx::DM_PUT_TABLE_DEVICE
);
tracepoint!(tp_dax_pte_fault_done, idx::PTE_FAULT_DONE);
tracepoint!(tp_dax_pmd_fault_done, idx::PMD_FAULT_DONE);
tracepoint!(tp_memory_failure_event, idx::RAS_MEMORY_FAILURE);
entry!(
    fentry_dax_holder_notify_failure,
    kprobe_dax_holder_notify_failure,
    idx::DAX_HOLDER_NOTIFY_FAILURE
);

gup_exit!(fexit_get_user_pages_fast, idx::GET_USER_PAGES_FAST);
gup_exit!(fexit_pin_user_pages_fast, idx::PIN_USER_PAGES_FAST);
gup_exit!(
    fexit_get_user_pages_fast_only,
    idx::GET_USER_PAGES_FAST_ONLY
);
gup_exit!(
    fexit_pin_user_pages_fast_only,
    idx::PIN_USER_PAGES_FAST_ONLY
);
gup_exit!(fexit_get_user_pages_remote, idx::GET_USER_PAGES_REMOTE);
gup_exit!(fexit_pin_user_pages_remote, idx::PIN_USER_PAGES_REMOTE);
gup_exit!(fexit_get_user_pages_unlocked, idx::GET_USER_PAGES_UNLOCKED);
gup_exit!(fexit_pin_user_pages_unlocked, idx::PIN_USER_PAGES_UNLOCKED);
gup_exit!(fexit_get_user_pages, idx::GET_USER_PAGES);
gup_exit!(fexit_pin_user_pages, idx::PIN_USER_PAGES);
entry!(
    fentry_unpin_user_page,
    kprobe_unpin_user_page,
    idx::UNPIN_USER_PAGE
);
entry!(
    fentry_unpin_user_pages,
    kprobe_unpin_user_pages,
    idx::UNPIN_USER_PAGES
);

/// The stuck-wait scanner, run by a software clock perf event.
#[perf_event]
pub fn timer_stuck_scan(_ctx: PerfEventContext) -> u32 {
    handlers::stuck_scan(idx::STUCK_SCAN);
    0
}

#[cfg(not(test))]
/// The kernel-memory reader, run on demand by userspace (never attached).
#[raw_tracepoint]
pub fn daxtrace_kread(_ctx: RawTracePointContext) -> i32 {
    dax_trace_ebpf::kread::read_requested()
}

/// The programs use GPL-only helpers (`bpf_probe_read_kernel`,
/// `bpf_get_stackid`); the kernel checks this section for them.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
