//! daxtrace's eBPF programs. Every attach point of
//! `dax_trace_common::for_each_point!` gets a fentry (+fexit) and a kprobe
//! (+kretprobe) variant, or a tracepoint, fexit-only or timer program, all
//! generated from that one list; the loader picks the kind the running
//! kernel supports. All variants call the same handlers.
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
    // The pagemap lookup's handler reads the pfn only, and it runs for
    // every devmap page gup takes (before 5.17 each argument is a helper
    // call).
    let n = if point == idx::GET_DEV_PAGEMAP {
        1
    } else {
        nargs(point) as usize
    };
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

/// One program (or an entry/exit pair of each kind) per point of
/// [`for_each_point!`](dax_trace_common::for_each_point), named
/// `<kind>_<stem>`: the loader finds them by those names.
macro_rules! programs {
    ($($konst:ident = $index:literal, $target:literal, $family:ident, $hook:ident, $group:literal, $stem:ident $(, $shared:ident)?;)*) => {
        $(program!($hook, $stem, idx::$konst $(, $shared)?);)*
    };
}

/// The programs of one point, by its hook.
macro_rules! program {
    ($hook:ident, $stem:ident, $point:expr, shared) => {};
    (Entry, $stem:ident, $point:expr) => {
        pastey::paste! { entry!([<fentry_ $stem>], [<kprobe_ $stem>], $point); }
    };
    (EntryExit, $stem:ident, $point:expr) => {
        pastey::paste! {
            entry_exit!(
                [<fentry_ $stem>],
                [<fexit_ $stem>],
                [<kprobe_ $stem>],
                [<kretprobe_ $stem>],
                $point
            );
        }
    };
    (Exit, $stem:ident, $point:expr) => {
        pastey::paste! { gup_exit!([<fexit_ $stem>], $point); }
    };
    (Tracepoint, $stem:ident, $point:expr) => {
        pastey::paste! { tracepoint!([<tp_ $stem>], $point); }
    };
    (Timer, $stem:ident, $point:expr) => {
        pastey::paste! { timer!([<timer_ $stem>], $point); }
    };
}

/// A periodic program, run by a software clock perf event (the
/// stuck-wait scanner).
macro_rules! timer {
    ($name:ident, $point:expr) => {
        #[perf_event]
        pub fn $name(_ctx: PerfEventContext) -> u32 {
            handlers::stuck_scan($point);
            0
        }
    };
}

dax_trace_common::for_each_point!(programs);

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
