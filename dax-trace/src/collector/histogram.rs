//! A fixed-size latency histogram: log2 buckets split into four linear
//! sub-buckets (HDR-like, at most 25 % relative error), so memory never grows
//! with the number of samples.
use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two (must be a power of two).
const SUB: u64 = 4;
const SUB_BITS: u32 = SUB.trailing_zeros();
/// Values below `SUB` get one exact bucket each; every power of two above
/// gets `SUB` buckets, up to 2^63.
pub const BUCKETS: usize = (SUB as usize) * 63;

/// Counts of nanosecond latencies in bounded buckets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    #[serde(with = "serde_buckets")]
    buckets: Box<[u64; BUCKETS]>,
    count: u64,
    total_ns: u64,
    max_ns: u64,
    min_ns: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: Box::new([0; BUCKETS]),
            count: 0,
            total_ns: 0,
            max_ns: 0,
            min_ns: 0,
        }
    }
}

/// Index of the bucket holding `v`.
fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let sub = (v >> (msb - SUB_BITS)) & (SUB - 1);
    ((msb - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// Inclusive value range of bucket `i`.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, i);
    }
    let msb = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = i % SUB;
    let width = 1u64 << (msb - SUB_BITS);
    let low = (SUB + sub) << (msb - SUB_BITS);
    (low, low.saturating_add(width - 1))
}

impl LatencyHistogram {
    pub fn record(&mut self, ns: u64) {
        self.buckets[bucket_of(ns)] += 1;
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.count += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn total_ns(&self) -> u64 {
        self.total_ns
    }
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }
    pub fn min_ns(&self) -> u64 {
        self.min_ns
    }
    pub fn mean_ns(&self) -> u64 {
        self.total_ns.checked_div(self.count).unwrap_or(0)
    }

    /// The `q` quantile (0.0..=1.0): the upper bound of the bucket holding the
    /// sample of that rank, clamped to the observed min and max. 0 when empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_range(i).1.clamp(self.min_ns, self.max_ns);
            }
        }
        self.max_ns
    }

    pub fn p50_ns(&self) -> u64 {
        self.quantile_ns(0.50)
    }
    pub fn p99_ns(&self) -> u64 {
        self.quantile_ns(0.99)
    }

    /// Non-empty buckets as (low, high inclusive, count), for renderers.
    pub fn nonzero_buckets(&self) -> Vec<(u64, u64, u64)> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| {
                let (lo, hi) = bucket_range(i);
                (lo, hi, n)
            })
            .collect()
    }

    /// Adds every sample of `other` into `self`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.count == 0 {
            return;
        }
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.min_ns = if self.count == 0 {
            other.min_ns
        } else {
            self.min_ns.min(other.min_ns)
        };
        self.count += other.count;
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }
}

/// Buckets are stored sparsely as (index, count) pairs.
mod serde_buckets {
    use super::BUCKETS;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(b: &[u64; BUCKETS], s: S) -> Result<S::Ok, S::Error> {
        let sparse: Vec<(usize, u64)> = b
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| (i, n))
            .collect();
        sparse.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u64; BUCKETS]>, D::Error> {
        let sparse = Vec::<(usize, u64)>::deserialize(d)?;
        let mut b = Box::new([0u64; BUCKETS]);
        for (i, n) in sparse {
            let slot = b
                .get_mut(i)
                .ok_or_else(|| serde::de::Error::custom(format!("bucket {i} out of range")))?;
            *slot = n;
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_tile_the_u64_range_without_gaps() {
        let mut next = 0u64;
        for i in 0..BUCKETS {
            let (lo, hi) = bucket_range(i);
            assert_eq!(lo, next, "bucket {i}");
            assert!(hi >= lo);
            next = hi.wrapping_add(1);
        }
        assert_eq!(next, 0, "last bucket ends at u64::MAX");
    }

    #[test]
    fn quantiles_of_known_samples() {
        let mut h = LatencyHistogram::default();
        for v in 1..=100u64 {
            h.record(v * 1_000);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.max_ns(), 100_000);
        assert_eq!(h.min_ns(), 1_000);
        assert_eq!(h.mean_ns(), 50_500);
        let p50 = h.p50_ns();
        assert!((50_000..=62_500).contains(&p50), "p50 {p50}");
        let p99 = h.p99_ns();
        assert!((99_000..=100_000).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = LatencyHistogram::default();
        assert_eq!((h.p50_ns(), h.p99_ns(), h.mean_ns()), (0, 0, 0));
    }

    #[test]
    fn serde_round_trip_keeps_buckets() {
        let mut h = LatencyHistogram::default();
        h.record(5);
        h.record(1 << 40);
        let json = serde_json::to_string(&h).expect("serializes");
        let back: LatencyHistogram = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, h);
    }

    proptest! {
        #[test]
        fn every_value_lands_in_a_bucket_that_contains_it(v in any::<u64>()) {
            let (lo, hi) = bucket_range(bucket_of(v));
            prop_assert!(lo <= v && v <= hi);
            // at most 25 % relative width
            prop_assert!(hi - lo <= lo / 4 + 1);
        }

        #[test]
        fn quantile_is_within_a_bucket_of_the_exact_one(mut vs in proptest::collection::vec(0u64..10_000_000_000, 1..200), q in 0.0f64..=1.0) {
            let mut h = LatencyHistogram::default();
            for &v in &vs { h.record(v); }
            vs.sort_unstable();
            let rank = ((q * vs.len() as f64).ceil() as usize).max(1);
            let exact = vs[rank - 1];
            let got = h.quantile_ns(q);
            let (lo, hi) = bucket_range(bucket_of(exact));
            prop_assert!(got >= lo.max(h.min_ns()) && got <= hi.min(h.max_ns()), "exact {} got {}", exact, got);
        }
    }
}
