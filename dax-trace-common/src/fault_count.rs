//! The key of the kernel's fault counters (`FAULT_COUNTS`, a per-CPU hash
//! map): DAX faults come by the thousand per second, and every consumer
//! only counts them, so by default the tracepoint program counts them in
//! the kernel and userspace streams the growth as `FaultCounts` events.

/// Most distinct (device, size, result) keys counted; a fault whose key
/// finds no room is sent as a `Fault` record instead (and counted lost to a
/// full map).
pub const MAX_FAULT_KEYS: u32 = 1_024;

/// What a fault is counted under.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultKey {
    /// The faulting file's filesystem device (`dev_t`, the record's `dev`).
    pub dev: u32,
    /// 1: a PMD (huge) fault, 0: a PTE fault.
    pub pmd: u32,
    /// `VM_FAULT_*` bits the fault handler returned.
    pub result: u32,
}

#[cfg(feature = "user")]
// SAFETY: three u32s, repr(C), no padding, every bit pattern valid.
unsafe impl aya::Pod for FaultKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_has_no_padding() {
        // The kernel hashes the key's bytes: a hole would make equal keys differ.
        assert_eq!(core::mem::size_of::<FaultKey>(), 12);
    }
}
