//! Event times and task names as every command prints them, so one event
//! reads the same in report, check, top and export: a time in the base the
//! user picked (`--time rel|mono|wall`) and a task as `comm[pid]`, or
//! `comm[pid/tid]` for a thread other than the process's main one.
use std::fmt::Write as _;

/// Which clock event times are printed in.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum TimeBase {
    /// Seconds since the first event of the trace: `+1.234s`.
    #[default]
    Rel,
    /// Seconds since boot (CLOCK_MONOTONIC, as dmesg and bpftrace's
    /// `nsecs`): `67.489348s`.
    Mono,
    /// Wall-clock time, UTC, RFC 3339: `2026-12-07T09:24:03.123456Z`.
    Wall,
}

/// How to print the event times of one trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    pub base: TimeBase,
    /// The first event's CLOCK_MONOTONIC time (`Rel` counts from it).
    pub origin_ns: u64,
    /// CLOCK_REALTIME - CLOCK_MONOTONIC when the trace was taken.
    pub mono_to_wall_ns: i128,
}

impl Timeline {
    pub fn new(base: TimeBase, origin_ns: u64, mono_to_wall_ns: i128) -> Self {
        Self {
            base,
            origin_ns,
            mono_to_wall_ns,
        }
    }

    /// The trace-relative timeline starting at `origin_ns` (no wall clock).
    pub fn relative(origin_ns: u64) -> Self {
        Self::new(TimeBase::Rel, origin_ns, 0)
    }

    /// `ts_ns` (CLOCK_MONOTONIC) in this timeline's base.
    pub fn at(&self, ts_ns: u64) -> String {
        match self.base {
            TimeBase::Rel => super::offset(self.origin_ns, ts_ns),
            TimeBase::Mono => format!(
                "{}.{:06}s",
                ts_ns / 1_000_000_000,
                ts_ns / 1_000 % 1_000_000
            ),
            TimeBase::Wall => rfc3339(i128::from(ts_ns) + self.mono_to_wall_ns),
        }
    }
}

/// Unix-epoch nanoseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC).
pub fn rfc3339(unix_ns: i128) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let micros = unix_ns.rem_euclid(1_000_000_000) / 1_000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    let mut out = String::new();
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3_600,
        sod / 60 % 60,
        sod % 60
    );
    out
}

/// A task: `truncate[566]` for a process's main thread, `fio[566/583]`
/// for another thread of it, `fio[?/583]` when the process is unknown.
pub fn task(comm: impl std::fmt::Display, pid: u32, tid: u32) -> String {
    if pid == 0 && tid != 0 {
        format!("{comm}[?/{tid}]")
    } else if pid == tid || tid == 0 {
        format!("{comm}[{pid}]")
    } else {
        format!("{comm}[{pid}/{tid}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_in_each_base() {
        let offset = 1_765_099_000_000_000_000_i128 - 67_000_000_000;
        let t = |base| Timeline::new(base, 60_000_000_000, offset);
        assert_eq!(t(TimeBase::Rel).at(67_489_348_136), "+7.489s");
        assert_eq!(t(TimeBase::Mono).at(67_489_348_136), "67.489348s");
        assert_eq!(
            t(TimeBase::Wall).at(67_489_348_136),
            "2025-12-07T09:16:40.489348Z"
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn a_task_is_comm_pid_or_comm_pid_tid() {
        assert_eq!(task("truncate", 566, 566), "truncate[566]");
        assert_eq!(task("fio", 566, 583), "fio[566/583]");
        assert_eq!(task("truncate", 0, 585), "truncate[?/585]");
        assert_eq!(task("swapper/0", 0, 0), "swapper/0[0]");
    }
}
