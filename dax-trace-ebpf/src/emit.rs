//! Building records, waking the reader, and counting what was lost.
use aya_ebpf::bindings::{
    BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_RING_SIZE,
};
use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, generated as raw};
use dax_trace_common::{COMM_LEN, Loss, Payload, PointCounters, Record, payload::Fault};

use crate::maps::{COUNTERS, EVENTS};

/// Sends `payload` as an event of `point` happening now.
#[inline(always)]
pub fn submit<P: Payload + 'static>(point: u16, payload: P) {
    submit_at(point, now(), payload);
}

/// Sends `payload` as an event of `point` stamped `ts_ns` (a wait's begin is
/// sent later than it happened). A full ring buffer counts a drop for the point.
#[inline(always)]
pub fn submit_at<P: Payload + 'static>(point: u16, ts_ns: u64, payload: P) {
    let pid_tgid = bpf_get_current_pid_tgid();
    write::<P>(point, ts_ns, pid_tgid, None, payload);
}

/// Writes one record straight into the ring buffer: the header field by
/// field and the comm by the helper, in the reserved memory. Building the
/// record on the stack and copying it in (`bpf_ringbuf_output`) cost a
/// stack copy and byte-by-byte memcpy loops of the comm on every fault.
/// `comm`: another task's name (an owner recorded earlier), else the
/// current task's.
#[inline(always)]
fn write<P: Payload + 'static>(
    point: u16,
    ts_ns: u64,
    pid_tgid: u64,
    comm: Option<&[u8; 16]>,
    payload: P,
) {
    let Some(mut entry) = EVENTS.reserve::<Record<P>>(0) else {
        count(point, Loss::RingFull);
        return;
    };
    let r = entry.as_mut_ptr();
    // SAFETY: `r` is the reserved record, valid until submit; every field
    // is written before it is submitted.
    unsafe {
        let h = &raw mut (*r).header;
        (*h).ts_ns = ts_ns;
        (*h).kind = P::KIND;
        (*h).point = point;
        (*h).cpu = aya_ebpf::helpers::bpf_get_smp_processor_id();
        (*h).pid = (pid_tgid >> 32) as u32;
        (*h).tid = pid_tgid as u32;
        match comm {
            Some(c) => (*h).comm = *c,
            None => {
                if raw::bpf_get_current_comm((&raw mut (*h).comm).cast(), COMM_LEN as u32) < 0 {
                    (*h).comm = [0; COMM_LEN];
                }
            }
        }
        core::ptr::write(&raw mut (*r).payload, payload);
    }
    entry.submit(wakeup::<P>());
}

/// How a record of kind `P` wakes the reader. Lifecycle records (claims,
/// waits, busy pages...) are rare and wanted at once: forced. Faults come by
/// the thousand; a wake-up each cost the workload a reader's scheduling per
/// fault, so they wake nobody until a quarter of the ring is filled (the
/// reader drains on its own tick, and at once on any forced record).
#[inline(always)]
fn wakeup<P: Payload>() -> u64 {
    if P::KIND != <Fault as Payload>::KIND {
        return BPF_RB_FORCE_WAKEUP as u64;
    }
    let filled = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    let size = EVENTS.query(BPF_RB_RING_SIZE as u64);
    if filled >= size / 4 {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// Sends `payload` with a header naming another task (an owner recorded
/// earlier): its pid, tid and comm instead of the current task's.
#[inline(always)]
pub fn submit_as<P: Payload + 'static>(point: u16, pid: u32, tid: u32, comm: [u8; 16], payload: P) {
    let pid_tgid = ((pid as u64) << 32) | tid as u64;
    write::<P>(point, now(), pid_tgid, Some(&comm), payload);
}

/// The kernel stack of the running program as a trace stack id (the stack
/// map's id + 1), or 0 when stacks are off or the map could not take it
/// (counted as lost at `point`).
#[inline(always)]
// The context pointer is never dereferenced here: the kernel helper takes it,
// and the verifier checks it is the program's context.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn stack_id(ctx: *mut core::ffi::c_void, point: u16) -> u32 {
    if crate::conf!(stacks) == 0 {
        return 0;
    }
    let map = &raw const crate::maps::STACKS as *mut core::ffi::c_void;
    // SAFETY: ctx is the program's context; the map is a stack trace map.
    let id = unsafe { aya_ebpf::helpers::bpf_get_stackid(ctx, map, 0) };
    if id < 0 {
        count(point, Loss::StackLost);
        0
    } else {
        id as u32 + 1
    }
}

/// Counts one thing `point` could not keep.
#[inline(always)]
pub fn count(point: u16, loss: Loss) {
    let Some(ptr) = COUNTERS.get_ptr_mut(point as u32) else {
        return;
    };
    // SAFETY: per-CPU slot of this CPU, no concurrent writer.
    let c: &mut PointCounters = unsafe { &mut *ptr };
    match loss {
        Loss::RingFull => c.drops += 1,
        Loss::MapFull => c.map_full += 1,
        Loss::OwnerOverflow => c.owner_overflow += 1,
        Loss::StackLost => c.stack_lost += 1,
        Loss::WatchReplaced => c.watch_replaced += 1,
        Loss::OwnerEvicted => {}
    }
}

/// Counts a page that got a new entry in the owner table at `point`.
#[inline(always)]
pub fn count_owner_page(point: u16) {
    let Some(ptr) = COUNTERS.get_ptr_mut(point as u32) else {
        return;
    };
    // SAFETY: per-CPU slot of this CPU, no concurrent writer.
    unsafe { (*ptr).owner_pages += 1 };
}

/// Counts a failed map insert at `point` (`result` of the insert).
#[inline(always)]
pub fn kept<E>(point: u16, result: Result<(), E>) {
    if result.is_err() {
        count(point, Loss::MapFull);
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
