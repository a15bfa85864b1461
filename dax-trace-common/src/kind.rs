//! Event kinds: the number and name of each payload struct of
//! [`crate::payload`]. [`for_each_kind!`](crate::for_each_kind) is the one list;
//! everything that dispatches on a kind (the kind constants and
//! [`Payload`] here, userspace's decoded event type, its JSON name, its
//! trace-file encoding) is generated from it.

/// A kind's payload: the struct that follows the [`crate::EventHeader`].
pub trait Payload: Copy {
    /// The kind number in [`crate::EventHeader::kind`].
    const KIND: u16;
    /// The stable kebab-case name (JSON `type`, logs, counts).
    const NAME: &'static str;
}

/// Calls `$m! { NUMBER_CONST = number, PayloadStruct, "name", made_by; ... }`
/// with every event kind. `made_by` is `kernel` for kinds the eBPF programs
/// send and `userspace` for kinds the loader makes (periodic counters).
///
/// Numbers are part of the trace format: append only, never reuse one.
#[macro_export]
macro_rules! for_each_kind {
    ($m:ident) => {
        $m! {
            PAGEMAP_CREATE = 1, PagemapCreate, "pagemap-create", kernel;
            PAGEMAP_DESTROY = 2, PagemapDestroy, "pagemap-destroy", kernel;
            CLAIM = 3, Claim, "claim", kernel;
            RELEASE = 4, Release, "release", kernel;
            DAX_ALLOC = 5, DaxAlloc, "dax-alloc", kernel;
            DAX_KILL = 6, DaxKill, "dax-kill", kernel;
            DAX_ADD_HOST = 7, DaxAddHost, "dax-add-host", kernel;
            PAGE_IDLE = 8, PageIdle, "page-idle", kernel;
            BUSY_PAGE = 9, BusyPage, "busy-page", kernel;
            WAIT_BEGIN = 10, WaitBegin, "wait-begin", kernel;
            WAIT_END = 11, WaitEnd, "wait-end", kernel;
            DM_ACCESS = 12, DmAccess, "dm-access", kernel;
            DM_TABLE_DAX = 13, DmTableDax, "dm-table-dax", kernel;
            FAULT = 14, Fault, "fault", kernel;
            MEMORY_FAILURE = 15, MemoryFailure, "memory-failure", kernel;
            HOLDER_NOTIFY_FAILURE = 16, HolderNotifyFailure, "holder-notify-failure", kernel;
            STUCK_WAIT = 17, StuckWait, "stuck-wait", kernel;
            DM_MEMBER = 18, DmMember, "dm-member", kernel;
            PIN_OWNER = 19, PinOwner, "pin-owner", kernel;
            PIN_RELEASE = 20, PinRelease, "pin-release", kernel;
            REFUSED_PIN = 21, RefusedPin, "refused-pin", kernel;
            PAGE_ORPHANED = 22, PageOrphaned, "page-orphaned", kernel;
            ORPHAN_IDLE = 23, OrphanIdle, "orphan-idle", kernel;
            BLOCKED_WAIT = 24, BlockedWait, "blocked-wait", kernel;
            PMEM_FLUSH = 25, PmemFlush, "pmem-flush", kernel;
            PUT_STATS = 100, PutStats, "put-stats", userspace;
            DROPS = 101, Drops, "drops", userspace;
            STATE_PAGEMAP = 102, StatePagemap, "state-pagemap", userspace;
            STATE_DAX_DEVICE = 103, StateDaxDevice, "state-dax-device", userspace;
            STATE_MOUNT = 104, StateMount, "state-mount", userspace;
            STATE_DM_TARGET = 105, StateDmTarget, "state-dm-target", userspace;
            STATE_WAIT = 106, StateWait, "state-wait", userspace;
            STATE_BUSY_PAGE = 107, StateBusyPage, "state-busy-page", userspace;
            STATE_END = 108, StateEnd, "state-end", userspace;
            STATE_DAX_MODE = 109, StateDaxMode, "state-dax-mode", userspace;
            FAULT_COUNTS = 110, FaultCounts, "fault-counts", userspace;
        }
    };
}

macro_rules! kind_consts {
    ($($konst:ident = $num:literal, $ty:ident, $name:literal, $by:ident;)*) => {
        $(
            #[doc = concat!("Kind number of [`crate::payload::", stringify!($ty), "`].")]
            pub const $konst: u16 = $num;

            impl Payload for crate::payload::$ty {
                const KIND: u16 = $num;
                const NAME: &'static str = $name;
            }
        )*

        /// Human name of a kind number, for logs and errors.
        pub fn name(kind: u16) -> &'static str {
            match kind {
                $($num => $name,)*
                _ => "unknown",
            }
        }

        /// Every kind number with its name, in declaration order.
        pub const ALL: &[(u16, &str)] = &[$(($num, $name),)*];
    };
}

for_each_kind!(kind_consts);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_unique() {
        for (i, (num, name)) in ALL.iter().enumerate() {
            for (other_num, other_name) in &ALL[i + 1..] {
                assert_ne!(num, other_num, "{name} and {other_name} share a number");
                assert_ne!(name, other_name);
            }
            assert_eq!(super::name(*num), *name);
        }
        assert_eq!(super::name(999), "unknown");
    }
}
