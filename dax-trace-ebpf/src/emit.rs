//! Building records and counting hits and drops.
use aya_ebpf::bindings::BPF_RB_FORCE_WAKEUP;
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use dax_trace_common::{EventHeader, Payload, PointCounters, Record};

use crate::maps::{COUNTERS, EVENTS};

/// The header of a `P` record from `point`, stamped `ts_ns`, with the
/// current task's identity.
#[inline(always)]
fn header<P: Payload>(point: u16, ts_ns: u64) -> EventHeader {
    let pid_tgid = bpf_get_current_pid_tgid();
    EventHeader {
        ts_ns,
        kind: P::KIND,
        point,
        cpu: unsafe { aya_ebpf::helpers::bpf_get_smp_processor_id() },
        pid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    }
}

/// Sends `payload` as an event of `point` happening now.
#[inline(always)]
pub fn submit<P: Payload>(point: u16, payload: P) {
    submit_at(point, now(), payload);
}

/// Sends `payload` as an event of `point` stamped `ts_ns` (a wait's begin is
/// sent later than it happened). A full ring buffer counts a drop for the point.
#[inline(always)]
pub fn submit_at<P: Payload>(point: u16, ts_ns: u64, payload: P) {
    let record = Record {
        header: header::<P>(point, ts_ns),
        payload,
    };
    // Rare, important events: wake the reader at once rather than batching.
    if EVENTS
        .output::<Record<P>>(&record, BPF_RB_FORCE_WAKEUP as u64)
        .is_err()
    {
        bump(point, |c| c.drops += 1);
    }
}

/// Sends `payload` with a header naming another task (an owner recorded
/// earlier): its pid, tid and comm instead of the current task's.
#[inline(always)]
pub fn submit_as<P: Payload>(point: u16, pid: u32, tid: u32, comm: [u8; 16], payload: P) {
    let mut header = header::<P>(point, now());
    header.pid = pid;
    header.tid = tid;
    header.comm = comm;
    let record = Record { header, payload };
    if EVENTS
        .output::<Record<P>>(&record, BPF_RB_FORCE_WAKEUP as u64)
        .is_err()
    {
        bump(point, |c| c.drops += 1);
    }
}

/// The kernel stack of the running program as a trace stack id (the stack
/// map's id + 1), or 0 when stacks are off or the map could not take it.
#[inline(always)]
// The context pointer is never dereferenced here: the kernel helper takes it,
// and the verifier checks it is the program's context.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn stack_id(ctx: *mut core::ffi::c_void) -> u32 {
    if crate::conf!(stacks) == 0 {
        return 0;
    }
    let map = &raw const crate::maps::STACKS as *mut core::ffi::c_void;
    // SAFETY: ctx is the program's context; the map is a stack trace map.
    let id = unsafe { aya_ebpf::helpers::bpf_get_stackid(ctx, map, 0) };
    if id < 0 { 0 } else { id as u32 + 1 }
}

/// Counts one run of the program at `point`.
#[inline(always)]
pub fn hit(point: u16) {
    bump(point, |c| c.hits += 1);
}

#[inline(always)]
fn bump(point: u16, f: impl FnOnce(&mut PointCounters)) {
    if let Some(ptr) = COUNTERS.get_ptr_mut(point as u32) {
        // SAFETY: per-CPU slot of this CPU, no concurrent writer.
        f(unsafe { &mut *ptr });
    }
}

/// Current thread id.
#[inline(always)]
pub fn tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

/// Monotonic time.
#[inline(always)]
pub fn now() -> u64 {
    unsafe { bpf_ktime_get_ns() }
}
