//! Events the state readers make: stamped with CLOCK_MONOTONIC like the
//! kernel's, from daxtrace itself or (waits) from the waiting thread.
use crate::event::{Event, EventBody, USERSPACE_POINT};

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn now_ns() -> u64 {
    crate::source::live::clock_ns(libc::CLOCK_MONOTONIC).max(0) as u64
}

/// An event from daxtrace itself.
pub fn own(ts_ns: u64, body: EventBody) -> Event {
    Event {
        ts_ns,
        cpu: 0,
        pid: std::process::id(),
        tid: 0,
        comm: "daxtrace".into(),
        point: USERSPACE_POINT,
        body,
    }
}

/// An event about thread `tid` (its pid is not known: 0).
pub fn of_task(ts_ns: u64, tid: u32, comm: &str, body: EventBody) -> Event {
    Event {
        ts_ns,
        cpu: 0,
        pid: 0,
        tid,
        comm: comm.into(),
        point: USERSPACE_POINT,
        body,
    }
}
