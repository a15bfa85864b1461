//! The clocks daxtrace reads: CLOCK_MONOTONIC (the clock the kernel stamps
//! events with, so userspace-made events and "now" compare with them) and
//! the offset that maps it to wall time. One place, so the state readers,
//! live capture, the exporter and the dashboard read the same clock and no
//! layer borrows it from another.

/// A clock's current value in nanoseconds (0 if the clock cannot be read).
pub fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; clock_gettime only writes it.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC).max(0) as u64
}

/// CLOCK_REALTIME - CLOCK_MONOTONIC, in nanoseconds.
pub fn monotonic_to_realtime_ns() -> i128 {
    clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_offset_is_plausible() {
        // Boot happened after 2020 and the monotonic clock is smaller than the epoch clock.
        assert!(monotonic_to_realtime_ns() > 1_577_836_800 * 1_000_000_000);
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_ns();
        assert!(a > 0);
        assert!(monotonic_ns() >= a);
    }
}
