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
            &read,
            FaultFields {
                dev: conf!(pte_fault_dev_off),
                ino: conf!(pte_fault_ino_off),
                address: conf!(pte_fault_address_off),
                pgoff: conf!(pte_fault_pgoff_off),
                result: conf!(pte_fault_result_off),
                pmd: false,
            },
        ),
        idx::PMD_FAULT_DONE => on_fault(
            point,
            &read,
            FaultFields {
                dev: conf!(pmd_fault_dev_off),
                ino: conf!(pmd_fault_ino_off),
                address: conf!(pmd_fault_address_off),
                pgoff: conf!(pmd_fault_pgoff_off),
                result: conf!(pmd_fault_result_off),
                pmd: true,
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

/// Where a fault tracepoint's fields lie in its record, and its size.
struct FaultFields {
    dev: u32,
    ino: u32,
    address: u32,
    pgoff: u32,
    result: u32,
    pmd: bool,
}

/// Counts the fault under its key, or sends it as a record when records
/// are asked for or its key finds no room in the map (counted as a
/// map-full loss: the fault itself is not lost). Counting reads only the
/// key's two fields: each read is a helper call, and the record's inode,
/// address and offset were three more on every fault, for nothing.
#[inline(always)]
fn on_fault(point: u16, read: &impl Fn(u32, u32) -> u64, at: FaultFields) {
    let dev = read(at.dev, 4) as u32;
    let result = read(at.result, 4) as u32;
    let pmd = Flag::new(at.pmd);
    let key = FaultKey {
        dev,
        pmd: pmd.0,
        result,
    };
    if conf!(fault_events) == 0 && counted(point, key) {
        return;
    }
    submit(
        point,
        Fault {
            dev: Dev(dev),
            _pad: 0,
            ino: read(at.ino, 8),
            address: read(at.address, 8),
            pgoff: read(at.pgoff, 8),
            result,
            pmd,
        },
    );
}

/// Adds one to this CPU's count of `key`; false when the key is
/// new and the map has no room for it.
#[inline(always)]
fn counted(point: u16, key: FaultKey) -> bool {
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
