//! Rates (events/s, faults/s) from cumulative counters sampled once per
//! refresh, over a sliding window of trace time.
use std::collections::{HashMap, VecDeque};

/// Window over which rates are averaged.
pub const RATE_WINDOW_NS: u64 = 2_000_000_000;

/// A cumulative counter sampled at increasing times.
#[derive(Clone, Debug, Default)]
pub struct RateMeter {
    samples: VecDeque<(u64, u64)>,
}

impl RateMeter {
    /// Records `count` (cumulative) at `t_ns`; older samples beyond the window are dropped,
    /// the oldest one inside it is the base.
    pub fn record(&mut self, t_ns: u64, count: u64) {
        if let Some(&(last_t, _)) = self.samples.back()
            && t_ns < last_t
        {
            // The clock went backwards (a new trace): start over.
            self.samples.clear();
        }
        self.samples.push_back((t_ns, count));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|&(t, _)| t_ns.saturating_sub(t) > RATE_WINDOW_NS)
        {
            self.samples.pop_front();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Increase per second between the oldest and newest sample; 0 without two samples.
    pub fn per_sec(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => {
                c1.saturating_sub(c0) as f64 * 1e9 / (t1 - t0) as f64
            }
            _ => 0.0,
        }
    }
}

/// One [`RateMeter`] per table row, forgotten when the row disappears.
#[derive(Clone, Debug, Default)]
pub struct KeyedRates {
    meters: HashMap<u64, RateMeter>,
}

impl KeyedRates {
    /// Records every `(key, cumulative)` at `t_ns` and returns the rate per key,
    /// in the same order. Keys not present this time are forgotten.
    pub fn update(&mut self, t_ns: u64, counts: &[(u64, u64)]) -> Vec<f64> {
        self.meters
            .retain(|key, _| counts.iter().any(|(k, _)| k == key));
        counts
            .iter()
            .map(|&(key, count)| {
                let meter = self.meters.entry(key).or_default();
                meter.record(t_ns, count);
                meter.per_sec()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn rate_is_increase_over_elapsed_time() {
        let mut m = RateMeter::default();
        m.record(0, 0);
        assert_eq!(m.per_sec(), 0.0);
        m.record(S / 2, 50);
        assert_eq!(m.per_sec(), 100.0);
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut m = RateMeter::default();
        m.record(0, 0);
        m.record(S, 1_000);
        m.record(5 * S, 1_000);
        m.record(6 * S, 1_010);
        assert_eq!(m.per_sec(), 10.0);
    }

    #[test]
    fn rates_restart_when_the_clock_goes_back() {
        let mut m = RateMeter::default();
        m.record(10 * S, 100);
        m.record(S, 0);
        m.record(2 * S, 7);
        assert_eq!(m.per_sec(), 7.0);
    }

    #[test]
    fn keyed_rates_forget_rows_that_disappear() {
        let mut r = KeyedRates::default();
        r.update(0, &[(1, 0), (2, 0)]);
        assert_eq!(r.update(S, &[(1, 5), (2, 9)]), vec![5.0, 9.0]);
        r.update(2 * S, &[(2, 9)]);
        assert_eq!(r.meters.len(), 1);
        assert_eq!(r.update(3 * S, &[(1, 100)]), vec![0.0]);
    }
}
