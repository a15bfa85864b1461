//! Faults counted in the kernel (`fault-counts`) fold into a device's
//! counters exactly as the same number of `fault` records do.
use super::*;

#[test]
fn counted_faults_fold_like_as_many_fault_records() {
    let mounted = || {
        let mut s = Script::default();
        s.pagemap(PGMAP0, 0x100000, 0x140000)
            .claim(DAX0, 0, PMEM0, "pmem0");
        s
    };
    let mut records = mounted();
    let mut counted = mounted();
    for _ in 0..5 {
        records.fault(PMEM0, false);
    }
    for _ in 0..2 {
        records.fault(PMEM0, true);
    }
    // The same seven faults as two readings of the PTE key and one of the PMD key.
    counted
        .fault_counts(PMEM0, false, 3)
        .fault_counts(PMEM0, true, 2)
        .fault_counts(PMEM0, false, 2);
    let by_records = fold(&records.build());
    let by_counts = fold(&counted.build());
    let faults = |c: &Collector| c.device_by_dax(DAX0).expect("known").faults;
    assert_eq!(faults(&by_records), FaultCounts { pte: 5, pmd: 2 });
    assert_eq!(faults(&by_counts), faults(&by_records));
    // Events are counted as they are: three of the new kind, no fault record.
    let kinds = &by_counts.totals().by_kind;
    assert_eq!(kinds.get("fault-counts"), 3);
    assert_eq!(kinds.get("fault"), 0);
}

#[test]
fn counted_faults_before_the_claim_fold_into_the_device() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x100000, 0x140000)
        .fault_counts(PMEM0, false, 40)
        .claim(DAX0, 0, PMEM0, "pmem0")
        .fault_counts(PMEM0, true, 1);
    let c = fold(&s.build());
    assert_eq!(c.devices().count(), 1);
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(d.faults, FaultCounts { pte: 40, pmd: 1 });
}
