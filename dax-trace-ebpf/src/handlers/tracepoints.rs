//! The `fs_dax` fault tracepoints and the memory-failure tracepoint.
//!
//! Faults come by the thousand per second and every consumer only counts
//! them: by default they are counted here per (dev, size, result) and
//! userspace reads the counts, instead of handling one record per fault.
//! `CONFIG.fault_events` (`record --fault-events`) sends a `Fault` record
//! per fault instead.
use dax_trace_common::{
    Dev, FaultKey, Flag,
    payload::{Fault, MemoryFailure},
    probe::idx,
};

use crate::conf;
use crate::emit::{kept, submit};
use crate::maps::FAULT_COUNTS;

/// `fs_dax:dax_{pte,pmd}_fault_done` and `memory_failure_event`.
#[inline(always)]
pub fn on_tracepoint(point: u16, read: impl Fn(u32, u32) -> u64) {
    match point {
        idx::PTE_FAULT_DONE => on_fault(
            point,
            Fault {
                dev: Dev(read(conf!(pte_fault_dev_off), 4) as u32),
                _pad: 0,
                ino: read(conf!(pte_fault_ino_off), 8),
                address: read(conf!(pte_fault_address_off), 8),
                pgoff: read(conf!(pte_fault_pgoff_off), 8),
                result: read(conf!(pte_fault_result_off), 4) as u32,
                pmd: Flag::new(false),
            },
        ),
        idx::PMD_FAULT_DONE => on_fault(
            point,
            Fault {
                dev: Dev(read(conf!(pmd_fault_dev_off), 4) as u32),
                _pad: 0,
                ino: read(conf!(pmd_fault_ino_off), 8),
                address: read(conf!(pmd_fault_address_off), 8),
                pgoff: read(conf!(pmd_fault_pgoff_off), 8),
                result: read(conf!(pmd_fault_result_off), 4) as u32,
                pmd: Flag::new(true),
            },
        ),
        _ => submit(
            point,
            MemoryFailure {
                pfn: read(conf!(mf_pfn_off), 8),
                mf_type: read(conf!(mf_type_off), 4) as u32,
                result: read(conf!(mf_result_off), 4) as u32,
            },
        ),
    }
}

/// Counts `fault` under its key, or sends it as a record when records are
/// asked for or its key finds no room in the map (counted as a map-full
/// loss: the fault itself is not lost).
#[inline(always)]
fn on_fault(point: u16, fault: Fault) {
    if conf!(fault_events) == 0 && counted(point, &fault) {
        return;
    }
    submit(point, fault);
}

/// Adds one to this CPU's count of the fault's key; false when the key is
/// new and the map has no room for it.
#[inline(always)]
fn counted(point: u16, fault: &Fault) -> bool {
    let key = FaultKey {
        dev: fault.dev.0,
        pmd: fault.pmd.0,
        result: fault.result,
    };
    if let Some(n) = FAULT_COUNTS.get_ptr_mut(key) {
        // SAFETY: this CPU's slot; nothing else runs on it meanwhile.
        unsafe { *n += 1 };
        return true;
    }
    // A per-CPU update writes only this CPU's slot (an existing key's other
    // slots are kept), so a key another CPU inserted meanwhile loses nothing.
    let inserted = FAULT_COUNTS.insert(key, 1u64, 0);
    let ok = inserted.is_ok();
    kept(point, inserted);
    ok
}
