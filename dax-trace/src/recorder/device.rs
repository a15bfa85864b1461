//! `record --dev`: a device named the way `check --dev` accepts it (a
//! disk name `pmem0`, its node `/dev/pmem0`, or `MAJ:MIN`) resolved to the
//! dev_t the events carry. Live, the name is looked up on this host
//! (sysfs, or the device node); re-recording a trace (`--from`), in the
//! trace itself, whose devices are the ones that count.
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::event::Dev;
use crate::trace::{Reader, Record, TraceError};

/// Why a `--dev` cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("--dev {0:?}: bad MAJ:MIN (two numbers, such as 259:0)")]
    BadNumbers(String),
    #[error(
        "--dev {0:?}: no block device of that name here (give a disk name such as pmem0, /dev/pmem0, or MAJ:MIN)"
    )]
    NotHere(String),
    #[error("--dev {0:?}: not a block device")]
    NotBlock(String),
    #[error("--dev {spec:?}: no device of that name in {trace} (give its MAJ:MIN)")]
    NotInTrace { spec: String, trace: String },
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// Resolves `spec` on this host (`from: None`) or in the trace `from`.
pub fn resolve(spec: &str, from: Option<&Path>) -> Result<Dev, DeviceError> {
    if let Some((major, minor)) = spec.split_once(':') {
        return match (major.trim().parse(), minor.trim().parse()) {
            (Ok(major), Ok(minor)) => Ok(Dev::new(major, minor)),
            _ => Err(DeviceError::BadNumbers(spec.to_string())),
        };
    }
    let name = spec.strip_prefix("/dev/").unwrap_or(spec);
    match from {
        Some(trace) => in_trace(name, trace)?.ok_or_else(|| DeviceError::NotInTrace {
            spec: spec.to_string(),
            trace: trace.display().to_string(),
        }),
        None => on_host(spec, name, Path::new("/sys/class/block")),
    }
}

/// The dev_t the first event naming disk `name` gives it.
fn in_trace(name: &str, trace: &Path) -> Result<Option<Dev>, TraceError> {
    let mut reader = Reader::open(trace)?;
    for record in reader.by_ref() {
        // A damaged tail ends the search; the replay will say so.
        let Ok(Record::Event(event)) = record else {
            continue;
        };
        if let Some((_, dev)) = event
            .body
            .disk_names()
            .into_iter()
            .find(|(n, _)| *n == name)
        {
            return Ok(Some(dev));
        }
    }
    Ok(None)
}

/// A disk name through sysfs (`pmem0` → /sys/class/block/pmem0/dev), else
/// a device node (`/dev/mapper/x`).
fn on_host(spec: &str, name: &str, sys_block: &Path) -> Result<Dev, DeviceError> {
    if !name.contains('/')
        && let Ok(text) = std::fs::read_to_string(sys_block.join(name).join("dev"))
    {
        return resolve(text.trim(), None).map_err(|_| DeviceError::NotHere(spec.to_string()));
    }
    let node = if spec.contains('/') {
        Path::new(spec).to_path_buf()
    } else {
        Path::new("/dev").join(name)
    };
    let meta = std::fs::metadata(&node).map_err(|_| DeviceError::NotHere(spec.to_string()))?;
    if !meta.file_type().is_block_device() {
        return Err(DeviceError::NotBlock(spec.to_string()));
    }
    let rdev = meta.rdev();
    Ok(Dev::new(libc::major(rdev), libc::minor(rdev)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::synthetic;
    use crate::trace::{Header, Writer};

    #[test]
    fn events_name_pmem0_by_name_and_number() {
        use crate::event::EventBody;
        let events = synthetic::scenario();
        let claim = events
            .iter()
            .find(|e| matches!(e.body, EventBody::Claim(_)))
            .expect("a claim");
        assert_eq!(claim.body.devices(), vec![synthetic::PMEM0]);
        assert!(
            claim
                .body
                .disk_names()
                .contains(&("pmem0", synthetic::PMEM0))
        );
        let idle = events
            .iter()
            .find(|e| matches!(e.body, EventBody::PageIdle(_)))
            .expect("an idle");
        assert!(idle.body.devices().is_empty());
        // `record --dev` keeps a mount's DAX answer with the mount.
        let answer = EventBody::StateDaxMode(crate::event::StateDaxMode {
            dev: synthetic::PMEM0,
            ..Default::default()
        });
        assert_eq!(answer.devices(), vec![synthetic::PMEM0]);
    }

    #[test]
    fn numbers_need_no_lookup() {
        assert_eq!(resolve("259:3", None).ok(), Some(Dev::new(259, 3)));
        assert!(matches!(
            resolve("259:x", None),
            Err(DeviceError::BadNumbers(_))
        ));
    }

    #[test]
    fn names_resolve_through_sysfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("pmem7")).expect("mkdir");
        std::fs::write(dir.path().join("pmem7/dev"), "259:7\n").expect("write");
        assert_eq!(
            on_host("pmem7", "pmem7", dir.path()).ok(),
            Some(Dev::new(259, 7))
        );
        assert!(matches!(
            on_host("nosuchdisk9", "nosuchdisk9", dir.path()),
            Err(DeviceError::NotHere(_))
        ));
        assert!(matches!(
            on_host("/dev/null", "null", dir.path()),
            Err(DeviceError::NotBlock(_))
        ));
    }

    #[test]
    fn names_resolve_in_the_trace_with_or_without_dev() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.dxt");
        let header = Header::new(synthetic::session(), Vec::new());
        let mut w = Writer::new(Vec::new(), &header).expect("header");
        for e in synthetic::scenario() {
            w.write_event(&e).expect("event");
        }
        std::fs::write(&path, w.finish("duration").expect("finish").1).expect("write");
        for spec in ["pmem0", "/dev/pmem0"] {
            assert_eq!(resolve(spec, Some(&path)).ok(), Some(synthetic::PMEM0));
        }
        assert!(matches!(
            resolve("pmem5", Some(&path)),
            Err(DeviceError::NotInTrace { .. })
        ));
    }
}
