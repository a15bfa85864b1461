//! The `fs_dax` fault tracepoints and the memory-failure tracepoint.
use dax_trace_common::{
    Dev, Flag,
    payload::{Fault, MemoryFailure},
    probe::idx,
};

use crate::conf;
use crate::emit::submit;

/// `fs_dax:dax_{pte,pmd}_fault_done` and `memory_failure_event`.
#[inline(always)]
pub fn on_tracepoint(point: u16, read: impl Fn(u32, u32) -> u64) {
    match point {
        idx::PTE_FAULT_DONE => submit(
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
        idx::PMD_FAULT_DONE => submit(
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
