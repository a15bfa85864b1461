//! Figures as people read them: durations, event times, byte sizes,
//! counted nouns. One module, so the command line prints a figure one way
//! wherever it appears; [`compact`] is the dashboard's narrow style.
//!
//! `bytes_one_decimal` and `whole_mib` are older spellings of a size kept
//! as they print today (their output is pinned); new text uses [`bytes`].
pub mod compact;
pub mod time;

/// `870 ns`, `12.345 us`, `12.345 ms`, `1.500 s`.
pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.3} us", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.3} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

/// An event time relative to `origin` (the first event): `+1.234s`.
pub fn offset(origin: u64, ts_ns: u64) -> String {
    let rel = ts_ns.saturating_sub(origin);
    format!("+{}.{:03}s", rel / 1_000_000_000, rel / 1_000_000 % 1000)
}

/// `512 MiB`, `1.5 GiB`, `4 KiB`.
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `512.0 B`, `3.0 MiB`: always one decimal, up to GiB (the progress line
/// of `daxtrace record`).
pub fn bytes_one_decimal(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Whole MiB, rounded down: `512 MiB` (the `daxtrace state` listing).
pub fn whole_mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// `1 mount`, `2 mounts`; `wait in progress` becomes `waits in progress`.
pub fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        return format!("1 {what}");
    }
    match what.split_once(' ') {
        Some((head, tail)) if tail == "in progress" => format!("{n} {head}s {tail}"),
        _ => format!("{n} {what}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_unit_by_magnitude() {
        assert_eq!(duration(870), "870 ns");
        assert_eq!(duration(12_345), "12.345 us");
        assert_eq!(duration(2_500_000), "2.500 ms");
        assert_eq!(duration(1_500_000_000), "1.500 s");
        assert_eq!(offset(1_000, 1_234_001_000), "+1.234s");
        assert_eq!(offset(5, 1), "+0.000s");
    }

    #[test]
    fn sizes_and_counted_nouns() {
        assert_eq!(bytes(512 << 20), "512 MiB");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes_one_decimal(512), "512.0 B");
        assert_eq!(bytes_one_decimal(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(whole_mib((512 << 20) + 1), "512 MiB");
        assert_eq!(plural(1, "mount"), "1 mount");
        assert_eq!(plural(2, "device"), "2 devices");
        assert_eq!(plural(0, "wait in progress"), "0 waits in progress");
    }
}
