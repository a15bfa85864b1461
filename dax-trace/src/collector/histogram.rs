//! A latency histogram: log2 buckets split into four linear sub-buckets
//! (HDR-like, at most 25 % relative error), plus the first `EXACT_CAP`
//! samples themselves, so percentiles are exact while the samples fit and a
//! bucket's upper bound (a "≤" figure) beyond. Memory stays bounded.
use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two (must be a power of two).
const SUB: u64 = 4;
const SUB_BITS: u32 = SUB.trailing_zeros();
/// Values below `SUB` get one exact bucket each; every power of two above
/// gets `SUB` buckets, up to 2^63.
pub const BUCKETS: usize = (SUB as usize) * 63;

/// Samples kept exactly; beyond this many, percentiles are bucket bounds.
pub const EXACT_CAP: usize = 4096;

/// A percentile: the sample of its rank, or (`exact` false) the upper
/// bound of the bucket holding it, which the sample does not exceed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantile {
    pub ns: u64,
    pub exact: bool,
}

/// Counts of nanosecond latencies in bounded buckets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    #[serde(with = "serde_buckets")]
    buckets: Box<[u64; BUCKETS]>,
    /// Every sample while there are at most `EXACT_CAP` of them (emptied
    /// for good once there are more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exact: Vec<u64>,
    count: u64,
    total_ns: u64,
    max_ns: u64,
    min_ns: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: Box::new([0; BUCKETS]),
            exact: Vec::new(),
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
        self.keep_exact(std::iter::once(ns), 1);
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.count += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Keeps `more` samples (`n` of them) exactly while all samples fit.
    fn keep_exact(&mut self, more: impl Iterator<Item = u64>, n: u64) {
        if self.exact.len() as u64 == self.count && self.count + n <= EXACT_CAP as u64 {
            self.exact.extend(more);
        } else {
            self.exact = Vec::new();
        }
    }

    /// Every sample, when all are kept (at most `EXACT_CAP`).
    pub fn samples(&self) -> Option<&[u64]> {
        (self.exact.len() as u64 == self.count).then_some(&self.exact[..])
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

    /// The `q` quantile (0.0..=1.0), nearest rank: the sample of that rank
    /// while every sample is kept, else the upper bound of the bucket holding
    /// it, clamped to the observed min and max. 0 (exact) when empty.
    pub fn quantile(&self, q: f64) -> Quantile {
        let q = q.clamp(0.0, 1.0);
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        match self.samples() {
            Some([]) => Quantile { ns: 0, exact: true },
            Some(samples) => {
                let mut sorted = samples.to_vec();
                sorted.sort_unstable();
                let i = (rank as usize).min(sorted.len()) - 1;
                Quantile {
                    ns: sorted[i],
                    exact: true,
                }
            }
            None => Quantile {
                ns: self.bucket_quantile_ns(rank),
                exact: false,
            },
        }
    }

    /// The upper bound of the bucket holding the sample of `rank`.
    fn bucket_quantile_ns(&self, rank: u64) -> u64 {
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_range(i).1.clamp(self.min_ns, self.max_ns);
            }
        }
        self.max_ns
    }

    /// The `q` quantile's nanoseconds (see [`Self::quantile`] for whether
    /// it is exact).
    pub fn quantile_ns(&self, q: f64) -> u64 {
        self.quantile(q).ns
    }

    pub fn p50(&self) -> Quantile {
        self.quantile(0.50)
    }
    pub fn p99(&self) -> Quantile {
        self.quantile(0.99)
    }
    pub fn p50_ns(&self) -> u64 {
        self.p50().ns
    }
    pub fn p99_ns(&self) -> u64 {
        self.p99().ns
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
        match other.samples() {
            Some(theirs) => self.keep_exact(theirs.iter().copied(), other.count),
            None => self.exact = Vec::new(),
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
    fn percentiles_are_the_samples_while_they_fit_then_marked_bounds() {
        // The shipped sample's waits: 1.999-2.004 s and 3.515-3.548 s.
        let waits = [
            1_999_100_000,
            2_000_200_000,
            2_001_300_000,
            2_004_000_000,
            3_515_000_000,
            3_530_000_000,
            3_540_000_000,
            3_548_000_000u64,
        ];
        let mut h = LatencyHistogram::default();
        for w in waits {
            h.record(w);
        }
        assert_eq!(
            h.p50(),
            Quantile {
                ns: 2_004_000_000,
                exact: true
            }
        );
        assert_eq!(h.p99().ns, 3_548_000_000);
        let mut merged = LatencyHistogram::default();
        merged.merge(&h);
        merged.merge(&h);
        assert_eq!(merged.p50().ns, 2_004_000_000);
        assert!(merged.p50().exact);

        let mut big = LatencyHistogram::default();
        for i in 0..=EXACT_CAP as u64 {
            big.record(1_000_000 + i);
        }
        let p50 = big.p50();
        assert!(!p50.exact);
        assert!(p50.ns >= 1_000_000 + EXACT_CAP as u64 / 2, "{p50:?}");
        assert!(big.samples().is_none());
        big.record(5);
        assert!(!big.p50().exact, "never exact again");
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
        fn quantile_is_exact_while_kept_and_within_a_bucket_beyond(mut vs in proptest::collection::vec(0u64..10_000_000_000, 1..200), q in 0.0f64..=1.0) {
            let mut h = LatencyHistogram::default();
            for &v in &vs { h.record(v); }
            vs.sort_unstable();
            let rank = ((q * vs.len() as f64).ceil() as usize).max(1);
            let exact = vs[rank - 1];
            prop_assert_eq!(h.quantile(q), Quantile { ns: exact, exact: true });
            let got = h.bucket_quantile_ns(rank as u64);
            let (lo, hi) = bucket_range(bucket_of(exact));
            prop_assert!(got >= lo.max(h.min_ns()) && got <= hi.min(h.max_ns()), "exact {} got {}", exact, got);
        }
    }
}
