//! The output of a recording, opened before anything slow starts (attaching
//! the probes takes seconds, 20 under emulation): a path that cannot be
//! written fails at once. Nothing is lost in between: an existing file
//! (`--force`) is only emptied when recording starts, and a file this run
//! created is removed again if recording never starts.
use std::fs::File;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::TraceError;
use super::writer::{CreateOptions, create};

/// A trace file opened for a recording that has not started yet.
#[derive(Debug)]
pub struct Reserved {
    file: Option<File>,
    path: PathBuf,
    /// Created by this run (removed again unless taken).
    created: bool,
}

/// Opens `path` for a recording: creates it (0600) when it does not exist;
/// with `force`, opens an existing one without emptying it yet. Without
/// `force` an existing file is [`TraceError::Exists`].
pub fn reserve(path: &Path, opts: CreateOptions) -> Result<Reserved, TraceError> {
    let exists = std::fs::symlink_metadata(path).is_ok();
    if opts.force && exists {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|source| TraceError::Open {
                path: path.display().to_string(),
                source,
            })?;
        return Ok(Reserved {
            file: Some(file),
            path: path.to_path_buf(),
            created: false,
        });
    }
    let file = create(path, opts)?;
    Ok(Reserved {
        file: Some(file),
        path: path.to_path_buf(),
        created: true,
    })
}

impl Reserved {
    /// The file, emptied and private (0600): recording starts.
    pub fn take(mut self) -> Result<File, TraceError> {
        let open_error = |source| TraceError::Open {
            path: self.path.display().to_string(),
            source,
        };
        let Some(file) = self.file.take() else {
            return Err(open_error(std::io::Error::other("already taken")));
        };
        file.set_len(0).map_err(open_error)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(open_error)?;
        self.created = false;
        Ok(file)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if self.created && self.file.is_some() {
            // Best effort: the run failed before recording anything, and
            // an empty file would only be in the way of the next attempt.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_bad_path_fails_at_once() {
        let err = reserve(
            Path::new("/nonexistent/dir/t.dxt"),
            CreateOptions::default(),
        );
        assert!(matches!(err, Err(TraceError::Open { .. })), "{err:?}");
    }

    #[test]
    fn a_reservation_never_used_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.dxt");
        drop(reserve(&path, CreateOptions::default()).expect("reserves"));
        assert!(!path.exists());

        // An existing file kept with --force stays as it was.
        std::fs::write(&path, b"old recording").expect("write");
        drop(reserve(&path, CreateOptions { force: true }).expect("reserves"));
        assert_eq!(std::fs::read(&path).expect("read"), b"old recording");
        assert!(matches!(
            reserve(&path, CreateOptions::default()),
            Err(TraceError::Exists { .. })
        ));
    }

    #[test]
    fn taking_it_empties_and_keeps_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.dxt");
        std::fs::write(&path, b"old recording, longer").expect("write");
        let reserved = reserve(&path, CreateOptions { force: true }).expect("reserves");
        let mut file = reserved.take().expect("takes");
        file.write_all(b"new").expect("write");
        drop(file);
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
