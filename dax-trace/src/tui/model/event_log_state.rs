//! Event log lines of the state at start and its updates: what was found,
//! in words, rather than every field.
use crate::event::{
    EventBody, StateBusyPage, StateDaxDevice, StateDmTarget, StateEnd, StateMount, StatePagemap,
    StateWait,
};
use crate::human::compact::{bytes, duration};

fn ptr(p: u64) -> String {
    format!("~{:07x}", p & 0xfff_ffff)
}

/// The line of a `state-*` event; `None` for other kinds.
pub(super) fn line(body: &EventBody) -> Option<String> {
    Some(match body {
        EventBody::StatePagemap(StatePagemap {
            pgmap,
            pfn_start,
            pfn_end,
            pages,
            disk,
            backing,
            ..
        }) => format!(
            "pgmap {} pfn {pfn_start:#x}-{pfn_end:#x} {} {} {}",
            ptr(*pgmap),
            bytes(pages * 4096),
            disk,
            backing
        ),
        EventBody::StateDaxDevice(StateDaxDevice {
            dax_dev,
            holder,
            disk,
            claims,
            size_bytes,
            alive,
            ..
        }) => format!(
            "{disk} dax {} {} {claims} claims holder {}{}",
            ptr(*dax_dev),
            bytes(*size_bytes),
            ptr(*holder),
            if alive.get() { "" } else { " dead" }
        ),
        EventBody::StateMount(StateMount {
            mounted,
            dax,
            fstype,
            disk,
            mount_point,
            ..
        }) => format!(
            "{fstype} on {mount_point} ({disk}{}) {}",
            if dax.get() { ", dax" } else { "" },
            if mounted.get() {
                "mounted"
            } else {
                "unmounted"
            }
        ),
        EventBody::StateDaxMode(d) => format!(
            "{}: {}",
            d.mount_point,
            crate::daxmode::DaxMode::of_state(d).describe()
        ),
        EventBody::StateDmTarget(StateDmTarget {
            dm_disk,
            dm_name,
            member_disk,
            target,
            start_sector,
            sectors,
            present,
            ..
        }) => format!(
            "{dm_disk} ({dm_name}) {start_sector}+{sectors} {target} -> {member_disk}{}",
            if present.get() { "" } else { " removed" }
        ),
        EventBody::StateWait(StateWait {
            pfn,
            ino,
            dev,
            ended,
            ..
        }) if ended.get() => format!("pfn {pfn:#x} ino {ino} on {dev}: no longer waiting"),
        EventBody::StateWait(StateWait {
            pfn,
            ino,
            dev,
            slept_ns,
            uninterruptible,
            ..
        }) => format!(
            "pfn {pfn:#x} ino {ino} on {dev}: waiting for at least {}{}",
            duration(*slept_ns),
            if uninterruptible.get() {
                ", uninterruptible (eviction)"
            } else {
                ""
            }
        ),
        EventBody::StateBusyPage(StateBusyPage {
            pfn,
            ino,
            dev,
            index,
            refcount,
            ..
        }) => format!(
            "pfn {pfn:#x} ino {ino} on {dev} pgoff {} ref {refcount}",
            index
                .get()
                .map_or_else(|| "-".to_string(), |i| i.to_string())
        ),
        EventBody::StateEnd(StateEnd {
            reason,
            pagemaps,
            dax_devices,
            mounts,
            dm_targets,
            waits,
            busy_pages,
            elapsed_ns,
            ..
        }) => format!(
            "{}: {pagemaps} pagemaps {dax_devices} dax {mounts} mounts {dm_targets} dm {waits} waits {busy_pages} busy in {}",
            if *reason == 0 {
                "state at start"
            } else {
                "update"
            },
            duration(*elapsed_ns)
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Dev;

    #[test]
    fn state_kinds_read_as_words() {
        let mount = EventBody::StateMount(StateMount {
            dev: Dev::new(259, 0),
            mounted: true.into(),
            dax: true.into(),
            fstype: "xfs".into(),
            disk: "pmem0".into(),
            mount_point: "/mnt/x".into(),
            ..Default::default()
        });
        assert_eq!(
            line(&mount).as_deref(),
            Some("xfs on /mnt/x (pmem0, dax) mounted")
        );
        let end = EventBody::StateEnd(StateEnd {
            pagemaps: 1,
            dax_devices: 2,
            elapsed_ns: 3_000_000,
            ..Default::default()
        });
        assert_eq!(
            line(&end).as_deref(),
            Some("state at start: 1 pagemaps 2 dax 0 mounts 0 dm 0 waits 0 busy in 3.0ms")
        );
        assert_eq!(line(&EventBody::PutStats(Default::default())), None);
    }
}
