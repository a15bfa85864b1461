//! `--expect-dax MOUNTPOINT`: the `dax-in-effect` assertion. It holds when
//! every mount point named is a filesystem on a DAX-capable device whose
//! sampled regular files are all DAX, judged from a trace's
//! `state-dax-mode` samples (the last one per mount) or from the running
//! system now. Known not to be DAX fails; cannot tell (no regular file, a
//! kernel that does not report the attribute, a trace recorded before the
//! samples existed) is inconclusive.
use std::path::Path;

use super::{Assertion, Scope, Status, Verdict};
use crate::collector::Collector;
use crate::daxmode::{Asked, DaxMode, Effect};
use crate::state::daxmode::dax_mode_event;
use crate::state::disks::dax_mounts;
use crate::state::mountinfo;
use crate::state::sysfs::Sysfs;

/// What was found for one mount point asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// A mount of a DAX-capable device, and what its files said (None: no
    /// sample, as in traces recorded before samples existed).
    Mount {
        label: String,
        mode: Option<DaxMode>,
    },
    /// No such mount of a DAX-capable device, and why.
    Missing(String),
}

const ID: &str = "dax-in-effect";

/// The status one finding gives, with its line.
fn judge_one(asked: &str, found: &Found) -> (Status, String) {
    match found {
        Found::Missing(why) => (Status::Fail, format!("{asked}: {why}")),
        Found::Mount { label, mode: None } => (
            Status::Inconclusive,
            format!(
                "{asked} ({label}): no sample of its files (recorded before daxtrace took them)"
            ),
        ),
        Found::Mount {
            label,
            mode: Some(m),
        } => {
            let status = match m.effect {
                Effect::InEffect => Status::Pass,
                Effect::Partly | Effect::NotInEffect => Status::Fail,
                _ if m.asked == Asked::Never => Status::Fail,
                _ => Status::Inconclusive,
            };
            (status, format!("{asked} ({label}): {}", m.describe()))
        }
    }
}

/// The assertion over every finding: failures outrank inconclusive ones.
pub fn assertion(found: &[(String, Found)]) -> Assertion {
    let judged: Vec<(Status, String)> = found.iter().map(|(a, f)| judge_one(a, f)).collect();
    let status = if judged.iter().any(|(s, _)| *s == Status::Fail) {
        Status::Fail
    } else if judged.iter().any(|(s, _)| *s == Status::Inconclusive) {
        Status::Inconclusive
    } else {
        Status::Pass
    };
    Assertion {
        id: ID.to_string(),
        title: "DAX is in effect on every --expect-dax mount point".to_string(),
        status,
        details: judged
            .into_iter()
            .filter(|(s, _)| *s != Status::Pass)
            .map(|(_, line)| line)
            .collect(),
    }
}

/// `check --expect-dax` without a trace: a verdict of this one assertion,
/// judged on the running system now (no probe is loaded).
pub fn verdict_now(mount_points: &[String]) -> Verdict {
    let mut v = Verdict {
        outcome: super::Outcome::Pass,
        scope: Scope {
            source: "this system (now)".to_string(),
            events: 0,
            span_ns: 0,
            devices: 0,
            pagemaps: 0,
            filters: Vec::new(),
        },
        assertions: Vec::new(),
        notes: Vec::new(),
        pre_existing: Vec::new(),
        notices: Vec::new(),
    };
    v.push(assertion(&on_this_system(mount_points)));
    v
}

fn trimmed(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

/// What a trace says of each mount point: the last answer told for it,
/// even if it was unmounted since (matched as written, trailing slashes
/// aside: the trace's mount points are the recording machine's).
pub fn in_trace(collector: &Collector, mount_points: &[String]) -> Vec<(String, Found)> {
    mount_points
        .iter()
        .map(|asked| {
            let want = trimmed(asked);
            let answer = collector
                .dax_answers()
                .find(|(at, _)| trimmed(at) == want)
                .map(|(_, a)| a);
            let mounted = collector
                .devices()
                .filter_map(|d| d.mount.as_ref().map(|m| (d, m)))
                .find(|(_, m)| trimmed(&m.mount_point) == want);
            let label = |dev: crate::event::Dev| {
                collector
                    .devices()
                    .find(|d| d.identity.bdev == dev)
                    .map_or_else(|| dev.to_string(), |d| d.identity.label())
            };
            let found = match (answer, mounted) {
                (Some(a), _) => Found::Mount {
                    label: label(a.dev),
                    mode: Some(a.mode),
                },
                (None, Some((d, _))) => Found::Mount {
                    label: d.identity.label(),
                    mode: None,
                },
                (None, None) => {
                    Found::Missing("not mounted on a DAX-capable device in the trace".to_string())
                }
            };
            (asked.clone(), found)
        })
        .collect()
}

/// What the running system says of each mount point now: the filesystem
/// that holds the path (a path inside a mount names that mount), if its
/// device is DAX-capable, sampled as `state` does.
pub fn on_this_system(mount_points: &[String]) -> Vec<(String, Found)> {
    let sysfs = Sysfs::default();
    let disks = sysfs.block_devices();
    let by_name = disks.iter().map(|d| (d.name.as_str(), d)).collect();
    let table = mountinfo::read();
    mount_points
        .iter()
        .map(|asked| {
            let found = match (&table, crate::state::daxmode::dev_of(Path::new(asked))) {
                (Err(e), _) => Found::Missing(format!("{}: {e}", mountinfo::path().display())),
                (_, Err(e)) => Found::Missing(e.to_string()),
                (Ok(all), Ok(dev)) => {
                    let on_dev: Vec<_> = all.iter().filter(|m| m.dev == dev).cloned().collect();
                    match dax_mounts(&sysfs, &by_name, &[], on_dev).into_iter().next() {
                        Some((m, disk)) => {
                            let e = dax_mode_event(0, &m);
                            let mode = match &e.body {
                                crate::event::EventBody::StateDaxMode(s) => {
                                    Some(DaxMode::of_state(s))
                                }
                                _ => None,
                            };
                            Found::Mount {
                                label: format!(
                                    "{} on {disk} ({dev}) at {}",
                                    m.fstype, m.mount_point
                                ),
                                mode,
                            }
                        }
                        None => Found::Missing(format!(
                            "its filesystem ({dev}) is not on a DAX-capable device"
                        )),
                    }
                }
            };
            (asked.clone(), found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::fixture::{PMEM0, Script};
    use crate::testkit::fixture_state::ALL_SOURCES;

    fn collector(s: &Script) -> Collector {
        let mut c = Collector::default();
        for e in s.build() {
            c.ingest(&e);
        }
        c
    }

    fn judged(sampled: u32, dax_files: u32, asked: Asked, mount_point: &str) -> Assertion {
        let mut s = Script::xfs_mounted_at_start();
        s.state_dax_mode(PMEM0, "/mnt/x", asked, sampled, dax_files)
            .state_end(0, ALL_SOURCES);
        assertion(&in_trace(&collector(&s), &[mount_point.to_string()]))
    }

    #[test]
    fn every_sampled_file_dax_passes_and_any_other_fails() {
        assert_eq!(judged(3, 3, Asked::Always, "/mnt/x/").status, Status::Pass);
        let partly = judged(3, 1, Asked::Inode, "/mnt/x");
        assert_eq!(partly.status, Status::Fail);
        assert_eq!(
            partly.details,
            [
                "/mnt/x (pmem0 (259:0)): dax=inode asked, DAX partly in effect (1 of 3 files sampled are DAX)"
            ]
        );
        assert_eq!(judged(2, 0, Asked::Never, "/mnt/x").status, Status::Fail);
    }

    #[test]
    fn a_mount_point_unmounted_during_the_trace_keeps_its_last_answer() {
        let mut s = Script::xfs_mounted_at_start();
        s.state_dax_mode(PMEM0, "/mnt/x", Asked::Never, 1, 0)
            .state_end(0, ALL_SOURCES)
            .state_mount(PMEM0, "pmem0", "xfs", "/mnt/x", false)
            .state_mount(PMEM0, "pmem0", "ext4", "/mnt/y", true)
            .state_dax_mode(PMEM0, "/mnt/y", Asked::Always, 1, 1)
            .state_end(1, ALL_SOURCES);
        let c = collector(&s);
        let found = in_trace(&c, &["/mnt/x".to_string(), "/mnt/y".to_string()]);
        let a = assertion(&found);
        assert_eq!(a.status, Status::Fail);
        assert_eq!(
            a.details,
            [
                "/mnt/x (pmem0 (259:0)): dax=never asked, DAX not in effect (0 of 1 file sampled is DAX)"
            ]
        );
        assert_eq!(assertion(&found[1..]).status, Status::Pass);
    }

    #[test]
    fn cannot_tell_is_inconclusive_unless_dax_was_turned_off() {
        let empty = judged(0, 0, Asked::Always, "/mnt/x");
        assert_eq!(empty.status, Status::Inconclusive);
        assert!(empty.details[0].ends_with("DAX unknown: no regular file to sample"));
        assert_eq!(judged(0, 0, Asked::Never, "/mnt/x").status, Status::Fail);
    }

    #[test]
    fn a_mount_point_not_in_the_trace_fails_and_an_older_trace_cannot_tell() {
        let missing = judged(3, 3, Asked::Always, "/mnt/y");
        assert_eq!(missing.status, Status::Fail);
        assert_eq!(
            missing.details,
            ["/mnt/y: not mounted on a DAX-capable device in the trace"]
        );
        let older = assertion(&in_trace(
            &collector(&Script::xfs_mounted_before()),
            &["/mnt/x".to_string()],
        ));
        assert_eq!(older.status, Status::Inconclusive);
    }

    #[test]
    fn on_this_system_a_path_that_is_not_there_fails_with_the_reason() {
        let found = on_this_system(&["/nonexistent/daxtrace-test".to_string()]);
        let a = assertion(&found);
        assert_eq!(a.status, Status::Fail);
        assert!(a.details[0].contains("No such file"), "{:?}", a.details);
    }
}
