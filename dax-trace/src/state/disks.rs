//! The state's userspace sources: mounts on DAX-capable disks
//! (mountinfo, with whether DAX is in effect there) and dm targets over DAX members (sysfs and the dm ioctl), as
//! read at start and again by the tracker for updates.
use std::collections::HashMap;

use super::daxmode;
use super::dm;
use super::mountinfo::{self, Mount};
use super::reading::Reading;
use super::sysfs::{BlockDevice, Sysfs};
use crate::event::{DiskName, Event, Flag, PathName, ShortName, StateDmTarget, StateMount};
use dax_trace_common::payload::state_bits;

/// The mounts on DAX-capable disks (or partitions of them).
pub fn dax_mounts(
    sysfs: &Sysfs,
    by_name: &HashMap<&str, &BlockDevice>,
    dax_disks: &[String],
    all: Vec<Mount>,
) -> Vec<(Mount, String)> {
    all.into_iter()
        .filter_map(|m| {
            let name = sysfs.name_of(m.dev)?;
            let capable = by_name.get(name.as_str()).is_some_and(|b| b.dax)
                || dax_disks
                    .iter()
                    .any(|d| name == *d || name.starts_with(&format!("{d}p")));
            capable.then_some((m, name))
        })
        .collect()
}

pub fn mount_event(ts: u64, m: &Mount, disk: &str, mounted: bool) -> Event {
    let body = StateMount {
        dev: m.dev,
        mounted: Flag::new(mounted),
        dax: Flag::new(m.dax),
        _pad: 0,
        fstype: ShortName::from_str_lossy(&m.fstype),
        disk: DiskName::from_str_lossy(disk),
        mount_point: PathName::from_str_lossy(&m.mount_point),
    };
    Event::own(ts, body.into())
}

pub(super) fn read_mounts(
    sysfs: &Sysfs,
    by_name: &HashMap<&str, &BlockDevice>,
    dax_disks: &[String],
    ts: u64,
    s: &mut Reading,
) {
    match mountinfo::read() {
        Ok(all) => {
            s.available |= state_bits::MOUNTS;
            for (m, disk) in dax_mounts(sysfs, by_name, dax_disks, all) {
                s.events.push(mount_event(ts, &m, &disk, true));
                s.events.push(daxmode::dax_mode_event(ts, &m));
                s.mounts.push(m);
            }
        }
        Err(e) => s
            .problems
            .push(format!("mounts: {}: {e}", mountinfo::path().display())),
    }
}

/// The dm targets over DAX-capable members, from the dm ioctl (sysfs
/// members without offsets when the ioctl fails).
pub fn dm_targets(
    disks: &[BlockDevice],
    by_name: &HashMap<&str, &BlockDevice>,
    problems: &mut Vec<String>,
) -> Vec<StateDmTarget> {
    let mut out = Vec::new();
    for d in disks.iter().filter(|d| d.dm_name.is_some()) {
        let members: Vec<&BlockDevice> = d
            .slaves
            .iter()
            .filter_map(|n| by_name.get(n.as_str()).copied())
            .filter(|m| m.dax)
            .collect();
        if members.is_empty() {
            continue;
        }
        let dm_name = d.dm_name.clone().unwrap_or_default();
        let target = |member: &BlockDevice, t: Option<&dm::Target>, sector: u64| StateDmTarget {
            dm: d.dev,
            member: member.dev,
            dm_disk: ShortName::from_str_lossy(&d.name),
            dm_name: DiskName::from_str_lossy(&dm_name),
            member_disk: DiskName::from_str_lossy(&member.name),
            target: ShortName::from_str_lossy(t.map_or("", |t| t.target_type.as_str())),
            start_sector: t.map_or(0, |t| t.start_sector),
            sectors: t.map_or(0, |t| t.sectors),
            member_sector: sector,
            present: Flag::new(true),
            _pad: 0,
        };
        match dm::table(&dm_name) {
            Ok(table) => {
                for t in &table {
                    for (dev, sector) in t.members() {
                        if let Some(m) = members.iter().find(|m| m.dev == dev) {
                            out.push(target(m, Some(t), sector));
                        }
                    }
                }
            }
            Err(e) => {
                problems.push(format!("dm: {e}: members from sysfs only"));
                out.extend(members.iter().map(|m| target(m, None, 0)));
            }
        }
    }
    out
}

pub(super) fn read_dm(
    disks: &[BlockDevice],
    by_name: &HashMap<&str, &BlockDevice>,
    ts: u64,
    s: &mut Reading,
) {
    s.available |= state_bits::DM;
    s.dm_targets = dm_targets(disks, by_name, &mut s.problems);
    for t in &s.dm_targets {
        s.events.push(Event::own(ts, (*t).into()));
    }
}
