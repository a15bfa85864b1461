//! Human formatting of collector figures, shared by the text renderers.

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
}
