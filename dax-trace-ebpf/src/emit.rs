//! Building events and counting hits and drops.
use aya_ebpf::bindings::BPF_RB_FORCE_WAKEUP;
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use dax_trace_common::{PointCounters, RawEvent};

use crate::maps::{COUNTERS, EVENTS};

/// A fresh event for `point` with the current task's identity and time.
#[inline(always)]
pub fn new_event(kind: u16, point: u16) -> RawEvent {
    let mut ev = RawEvent::zeroed();
    ev.ts_ns = unsafe { bpf_ktime_get_ns() };
    ev.kind = kind;
    ev.point = point;
    ev.cpu = unsafe { aya_ebpf::helpers::bpf_get_smp_processor_id() };
    let pid_tgid = bpf_get_current_pid_tgid();
    ev.pid = (pid_tgid >> 32) as u32;
    ev.tid = pid_tgid as u32;
    if let Ok(comm) = bpf_get_current_comm() {
        ev.comm = comm;
    }
    ev
}

/// Sends an event; a full ring buffer counts a drop for the point.
#[inline(always)]
pub fn submit(ev: &RawEvent) {
    // Rare, important events: wake the reader at once rather than batching.
    if EVENTS
        .output::<RawEvent>(ev, BPF_RB_FORCE_WAKEUP as u64)
        .is_err()
    {
        bump(ev.point, |c| c.drops += 1);
    }
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
