//! Faults counted in the kernel, turned into events: the `FAULT_COUNTS`
//! map holds, per (device, size, result) and per CPU, every fault since
//! attach; the pump reads it about once a second and once more at the
//! stop, and each key whose sum over CPUs grew becomes one `FaultCounts`
//! event carrying the growth. The sum of a key's events is then its
//! faults, as if each had been a record.
use std::collections::BTreeMap;

use dax_trace_common::FaultKey;

use crate::event::{Dev, FaultCounts, Flag};

/// What was already sent per key.
#[derive(Debug, Default)]
pub(super) struct FaultTally {
    sent: BTreeMap<FaultKey, u64>,
}

impl FaultTally {
    /// The events for one reading of the map: `(key, count of each CPU)`
    /// for every key it holds. Keys whose total did not grow give nothing;
    /// events come in key order.
    pub(super) fn read<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (FaultKey, &'a [u64])>,
    ) -> Vec<FaultCounts> {
        let mut totals: BTreeMap<FaultKey, u64> = BTreeMap::new();
        for (key, per_cpu) in entries {
            let sum = per_cpu.iter().fold(0u64, |a, n| a.saturating_add(*n));
            totals.insert(key, sum);
        }
        let mut out = Vec::new();
        for (key, total) in totals {
            let before = self.sent.insert(key, total).unwrap_or(0);
            // A total below what was sent cannot happen (nothing deletes a
            // key); it is taken as the new base rather than sent negative.
            let count = total.saturating_sub(before);
            if count > 0 {
                out.push(FaultCounts {
                    dev: Dev(key.dev),
                    pmd: Flag::new(key.pmd != 0),
                    result: key.result,
                    _pad: 0,
                    count,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTE: FaultKey = FaultKey {
        dev: 0x10300001,
        pmd: 0,
        result: 0x100,
    };
    const PMD: FaultKey = FaultKey {
        dev: 0x10300001,
        pmd: 1,
        result: 0x100,
    };

    fn counts(events: &[FaultCounts]) -> Vec<(bool, u64)> {
        events.iter().map(|e| (e.pmd.get(), e.count)).collect()
    }

    #[test]
    fn each_reading_sends_the_growth_summed_over_cpus() {
        let mut tally = FaultTally::default();
        let first = tally.read([(PTE, &[3, 4][..]), (PMD, &[0, 1][..])]);
        assert_eq!(counts(&first), [(false, 7), (true, 1)]);
        assert_eq!(first[0].dev, Dev(0x10300001));
        assert_eq!(first[0].result, 0x100);
        // CPU 0 counted two more PTE faults; the PMD key did not move.
        let second = tally.read([(PTE, &[5, 4][..]), (PMD, &[0, 1][..])]);
        assert_eq!(counts(&second), [(false, 2)]);
        let idle = tally.read([(PTE, &[5, 4][..]), (PMD, &[0, 1][..])]);
        assert!(idle.is_empty(), "nothing grew: {idle:?}");
    }

    #[test]
    fn the_events_add_up_to_the_kernel_totals() {
        let mut tally = FaultTally::default();
        let mut sent = 0;
        for total in [1u64, 1, 40, 41, 9_000] {
            sent += tally
                .read([(PTE, &[total / 2, total - total / 2][..])])
                .iter()
                .map(|e| e.count)
                .sum::<u64>();
        }
        assert_eq!(
            sent, 9_000,
            "the last reading (the stop's) completes the sum"
        );
    }

    #[test]
    fn a_key_first_seen_late_sends_all_it_counted() {
        let mut tally = FaultTally::default();
        assert_eq!(counts(&tally.read([(PTE, &[2][..])])), [(false, 2)]);
        let later = tally.read([(PTE, &[2][..]), (PMD, &[6][..])]);
        assert_eq!(counts(&later), [(true, 6)]);
    }
}
