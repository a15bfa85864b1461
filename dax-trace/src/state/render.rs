//! The text form of a state reading (`daxtrace state` without `--json`):
//! one line per entry, grouped by kind. In `state/` beside the readers, so
//! the binary only parses arguments and wires them to it.
use crate::event::{Event, EventBody};
use dax_trace_common::memory::MemoryKind;

/// What a device-dax device is while `driver` is bound to it.
pub fn device_dax_role(driver: &str) -> String {
    match driver {
        "" => "no driver bound".to_string(),
        "device_dax" => "driver device_dax (character device, generic pagemap)".to_string(),
        "fsdev_dax" => "driver fsdev_dax (fs-dax pagemap)".to_string(),
        "kmem" => "driver kmem (system RAM, no pagemap)".to_string(),
        other => format!("driver {other}"),
    }
}

/// One line per entry, grouped by kind.
pub fn render(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let line = match &e.body {
            EventBody::StateDaxDevice(d) if !d.device.is_empty() => format!(
                "dax device {:#x}: device-dax {} {}, {}, {} claim(s) held, {}",
                d.dax_dev,
                d.device,
                crate::human::whole_mib(d.size_bytes),
                if d.alive.get() { "alive" } else { "dead" },
                d.claims,
                device_dax_role(d.driver.as_str())
            ),
            EventBody::StateDaxDevice(d) => format!(
                "dax device {:#x}: disk {} ({}) {}, {}, {} claim(s) held{}",
                d.dax_dev,
                if d.disk.is_empty() {
                    "?"
                } else {
                    d.disk.as_str()
                },
                d.bdev,
                crate::human::whole_mib(d.size_bytes),
                if d.alive.get() { "alive" } else { "dead" },
                d.claims,
                if d.holder != 0 {
                    format!(", holder {:#x} ops {:#x}", d.holder, d.holder_ops)
                } else {
                    String::new()
                }
            ),
            EventBody::StatePagemap(p) => format!(
                "pagemap {:#x}: type {}{}{} pfns {:#x}..{:#x} ({} pages, {}) on {} {}{}",
                p.pgmap,
                p.memory_type,
                if p.fs_dax.get() { " (FS_DAX)" } else { "" },
                match p.kind.get() {
                    MemoryKind::Unknown | MemoryKind::FsDax => String::new(),
                    k => format!(" ({})", k.name()),
                },
                p.pfn_start,
                p.pfn_end,
                p.pages,
                crate::human::bytes(p.pages * 4096),
                if p.disk.is_empty() {
                    "?"
                } else {
                    p.disk.as_str()
                },
                p.backing,
                if p.driver.is_empty() {
                    String::new()
                } else {
                    format!(", driver {}", p.driver)
                }
            ),
            EventBody::StateMount(m) => format!(
                "mount: {} on {} ({}, {}dax) from {}",
                m.fstype,
                m.mount_point,
                m.dev,
                if m.dax.get() { "" } else { "no " },
                m.disk
            ),
            EventBody::StateDaxMode(d) => format!(
                "dax mode: {} ({}): {}",
                d.mount_point,
                d.dev,
                crate::daxmode::DaxMode::of_state(d).describe()
            ),
            EventBody::StateDmTarget(t) => format!(
                "dm {} ({}): {} {}+{} -> {} at sector {}",
                t.dm_name,
                t.dm_disk,
                t.target,
                t.start_sector,
                t.sectors,
                t.member_disk,
                t.member_sector
            ),
            EventBody::StateWait(w) => format!(
                "waiting: {} on pfn {:#x} (ino {}, index {}) for at least {} ms{}{}",
                crate::human::time::task(e.comm, e.pid, w.waiter_tid),
                w.pfn,
                w.ino,
                w.index.get().map_or("?".into(), |i| i.to_string()),
                w.slept_ns / 1_000_000,
                if w.uninterruptible.get() {
                    ", uninterruptible (eviction: hangs until the page is idle)"
                } else {
                    ""
                },
                if w.idle.get() {
                    ", page idle: wakeup lost?"
                } else {
                    ""
                }
            ),
            EventBody::StateBusyPage(b) => format!(
                "busy page: pfn {:#x} refcount {} (ino {} on {}, index {})",
                b.pfn,
                b.refcount,
                b.ino,
                b.dev,
                b.index.get().map_or("?".into(), |i| i.to_string())
            ),
            EventBody::StateEnd(s) => format!(
                "read in {} ms; census {} of {} pages, {} busy",
                s.elapsed_ns / 1_000_000,
                s.pages_scanned,
                s.pages_total,
                s.busy_pages
            ),
            _ => continue,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Dev, DiskName, Flag, OptU64, StateEnd, StateWait};

    fn ev(body: EventBody, comm: &str) -> Event {
        Event {
            ts_ns: 1,
            cpu: 0,
            pid: 0,
            tid: 585,
            comm: comm.into(),
            point: u16::MAX,
            body,
        }
    }

    #[test]
    fn a_mount_says_whether_dax_is_in_effect_there() {
        let d = crate::event::StateDaxMode {
            dev: Dev::new(259, 0),
            asked: crate::daxmode::Asked::Inode.code(),
            reported: Flag::new(true),
            sampled: 2,
            dax_files: 0,
            mount_point: crate::event::PathName::from_str_lossy("/mnt/dax"),
            ..Default::default()
        };
        let text = render(&[ev(d.into(), "daxtrace")]);
        assert_eq!(
            text,
            "dax mode: /mnt/dax (259:0): dax=inode asked, DAX not in effect (0 of 2 files sampled are DAX)\n"
        );
    }

    #[test]
    fn waits_name_the_waiter_and_flag_an_idle_page() {
        let w = StateWait {
            pfn: 0x48200,
            ino: 12,
            dev: Dev::new(259, 0),
            waiter_tid: 585,
            index: OptU64::new(Some(0)),
            slept_ns: 3_200_000_000,
            idle: Flag::new(true),
            ..StateWait::default()
        };
        let d = crate::event::StateDaxDevice {
            dax_dev: 0xffff_8880_0000_1000,
            disk: DiskName::from_str_lossy("pmem0"),
            bdev: Dev::new(259, 0),
            size_bytes: 512 << 20,
            alive: Flag::new(true),
            claims: 1,
            ..Default::default()
        };
        let text = render(&[
            ev(d.into(), "daxtrace"),
            ev(w.into(), "truncate"),
            ev(StateEnd::default().into(), "daxtrace"),
        ]);
        assert!(
            text.contains("disk pmem0 (259:0) 512 MiB, alive, 1 claim(s) held"),
            "{text}"
        );
        assert!(
            text.contains(
                "truncate[?/585] on pfn 0x48200 (ino 12, index 0) for at least 3200 ms, page idle"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_device_dax_device_says_what_its_driver_makes_of_it() {
        let d = crate::event::StateDaxDevice {
            dax_dev: 0xffff_8880_0000_2000,
            size_bytes: 502 << 20,
            alive: Flag::new(true),
            device: DiskName::from_str_lossy("dax0.0"),
            driver: DiskName::from_str_lossy("kmem"),
            ..Default::default()
        };
        let text = render(&[ev(d.into(), "daxtrace")]);
        assert!(
            text.contains(
                "dax device 0xffff888000002000: device-dax dax0.0 502 MiB, alive, 0 claim(s) held, driver kmem (system RAM, no pagemap)"
            ),
            "{text}"
        );
        let p = crate::event::StatePagemap {
            pgmap: 0xffff_8880_0001_0000,
            memory_type: 4,
            pfn_start: 0x40a00,
            pfn_end: 0x60000,
            pages: 0x1f600,
            nr_range: 1,
            backing: DiskName::from_str_lossy("dax0.0"),
            kind: MemoryKind::Generic.into(),
            driver: DiskName::from_str_lossy("device_dax"),
            ..Default::default()
        };
        let text = render(&[ev(p.into(), "daxtrace")]);
        assert!(
            text.contains("type 4 (generic) pfns 0x40a00..0x60000 (128512 pages, 502 MiB) on ? dax0.0, driver device_dax"),
            "{text}"
        );
    }
}
