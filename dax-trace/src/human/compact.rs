//! The dashboard's compact style: no space before the unit and the fewest
//! digits that stay readable in a narrow column (`1.5G`, `3.4ms`). The
//! command-line style is the parent module's.
use std::fmt::Write as _;

/// `1.5G`, `512M`, `4.0K`: binary units, like `ls -h`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else if value >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// A duration in the largest unit that keeps it short: `850ns`, `12us`, `3.4ms`, `2.0s`.
pub fn duration(ns: u64) -> String {
    let mut out = String::new();
    let (value, unit) = if ns < 1_000 {
        (ns as f64, "ns")
    } else if ns < 1_000_000 {
        (ns as f64 / 1e3, "us")
    } else if ns < 1_000_000_000 {
        (ns as f64 / 1e6, "ms")
    } else {
        (ns as f64 / 1e9, "s")
    };
    if unit == "ns" || value >= 10.0 {
        let _ = write!(out, "{value:.0}{unit}");
    } else {
        let _ = write!(out, "{value:.1}{unit}");
    }
    out
}

/// An optional duration, `-` when absent.
pub fn opt_duration(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".to_string(), duration)
}

/// A rate with one decimal below 10 and none above.
pub fn rate(per_sec: f64) -> String {
    if per_sec < 10.0 {
        format!("{per_sec:.1}")
    } else {
        format!("{per_sec:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(4096), "4K");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(2 << 30), "2G");
        assert_eq!(bytes(15 << 20), "15M");
    }

    #[test]
    fn durations_pick_a_short_unit() {
        assert_eq!(duration(850), "850ns");
        assert_eq!(duration(12_300), "12us");
        assert_eq!(duration(3_400_000), "3.4ms");
        assert_eq!(duration(2_000_000_000), "2.0s");
        assert_eq!(opt_duration(None), "-");
    }
}
