//! The numeric flags of every subcommand, parsed in one place so that a
//! duration or a speed means the same everywhere and a value out of range
//! is a usage error (exit 3) when the command line is read, never a panic
//! or a value silently clamped later.
//!
//! Durations have one grammar: a number and a unit, `ms`, `s`, `m` or `h`
//! (`250ms`, `2s`, `1.5m`); a bare number is seconds. `--max-wait` alone
//! requires the unit: it used to take bare milliseconds, and an old command
//! line must not change meaning without a word.
use std::time::Duration;

/// `250ms`, `30s`, `5m`, `2h`, or bare seconds, between `min` and `max`.
fn duration_within(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let text = s.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 250ms, 30s, 5m or 1h"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ));
        }
    };
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d >= min && d <= max => Ok(d),
        _ => Err(format!(
            "{s:?} is out of range: give from {} to {}",
            show(min),
            show(max)
        )),
    }
}

/// A bound as the user would type it.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// How long to capture (`--duration`, `probes --listen`): 1ms to 30 days.
pub fn capture(s: &str) -> Result<Duration, String> {
    duration_within(s, MS, 30 * DAY)
}

/// Time between refreshes or frames (`top --interval`): 10ms to 1h.
pub fn interval(s: &str) -> Result<Duration, String> {
    duration_within(s, 10 * MS, HOUR)
}

/// How long the census of busy pages may take: 1ms to 1h.
pub fn budget(s: &str) -> Result<Duration, String> {
    duration_within(s, MS, HOUR)
}

/// A wait that fails `check` (`--max-wait`): 0 to 7 days, with a unit.
pub fn max_wait(s: &str) -> Result<Duration, String> {
    if !s.trim().is_empty() && s.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "{s:?} needs a unit: {s}ms or {s}s (a bare number used to mean milliseconds)"
        ));
    }
    duration_within(s, Duration::ZERO, 7 * DAY)
}

/// Slowest and fastest replay factor: beyond these a paced replay either
/// never sends its next event or is as fast as possible anyway.
const SPEED_MIN: f64 = 1e-3;
const SPEED_MAX: f64 = 1e6;

/// A replay speed factor from 0.001 to 1000000 (`record --speed`).
pub fn speed(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (SPEED_MIN..=SPEED_MAX).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?} is not a speed factor from {SPEED_MIN} to {SPEED_MAX} (e.g. 1, 10, 0.5)"
        )),
    }
}

/// [`speed`], or 0 for as fast as possible (`top --speed`, `serve --speed`).
pub fn speed_or_zero(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(0.0) => Ok(0.0),
        _ => speed(s).map_err(|e| format!("{e}, or 0 for as fast as possible")),
    }
}

/// `--max-pinned-pages`: a count of pages from 1 to
/// [`MAX_PINNED_PAGES_LIMIT`](dax_trace::probes::sizing::MAX_PINNED_PAGES_LIMIT).
pub fn max_pinned_pages(s: &str) -> Result<u32, String> {
    use dax_trace::probes::sizing::MAX_PINNED_PAGES_LIMIT;
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=u64::from(MAX_PINNED_PAGES_LIMIT)).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "{s:?} is not a number of pages from 1 to {MAX_PINNED_PAGES_LIMIT}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pinned_pages_is_a_count_within_the_limit() {
        assert_eq!(max_pinned_pages("131072"), Ok(131_072));
        assert_eq!(max_pinned_pages(" 1 "), Ok(1));
        for bad in ["0", "-5", "16777217", "99999999999999999999", "1k", ""] {
            assert!(max_pinned_pages(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_take_units_and_bare_seconds() {
        assert_eq!(capture("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(capture("30"), Ok(Duration::from_secs(30)));
        assert_eq!(capture("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(capture("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(interval("0.2"), Ok(Duration::from_millis(200)));
        assert!(capture("5 parsecs").is_err());
        assert!(capture("").is_err());
    }

    #[test]
    fn durations_out_of_range_are_refused() {
        for bad in ["1e308", "1e-300", "-1", "nan", "inf", "0", "31d", "721h"] {
            assert!(capture(bad).is_err(), "{bad}");
        }
        assert!(interval("1ms").is_err());
        assert!(interval("2h").is_err());
        assert!(interval("99999999999999999999999h").is_err());
        assert!(budget("0").is_err());
    }

    #[test]
    fn max_wait_needs_a_unit_and_allows_zero() {
        assert_eq!(max_wait("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(max_wait("0ms"), Ok(Duration::ZERO));
        assert_eq!(max_wait("2s"), Ok(Duration::from_secs(2)));
        let bare = max_wait("100").expect_err("bare");
        assert!(bare.contains("100ms"), "{bare}");
        assert!(max_wait("1e300").is_err());
        assert!(max_wait("8d").is_err());
        assert!(max_wait("200h").is_err());
    }

    #[test]
    fn speeds_are_bounded_factors() {
        assert_eq!(speed("2.5"), Ok(2.5));
        for bad in ["0", "-1", "inf", "NaN", "1e-300", "1e300", "x"] {
            assert!(speed(bad).is_err(), "{bad}");
        }
        assert_eq!(speed_or_zero("0"), Ok(0.0));
        assert_eq!(speed_or_zero("10"), Ok(10.0));
        assert!(speed_or_zero("-0.5").is_err());
        assert!(speed_or_zero("1e-300").is_err());
    }
}
