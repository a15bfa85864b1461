//! Where the flight recorder's dumps go: `-o PATH` is a prefix, each dump
//! `PATH.0001.dxt`, `PATH.0002.dxt`, ... (a `.dxt` ending of PATH is
//! dropped first), numbered on from the highest dump already there so a
//! restarted recorder never replaces an earlier one. Each is written
//! atomically: a hidden temporary file in the same directory, synced, then
//! linked under its name (which fails rather than replace a file) and the
//! temporary removed, so a reader never sees half a dump.
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::trace::{CreateOptions, TraceError, create};

/// Why a dump could not be written, or the prefix not used.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{path}: the directory of the dumps cannot be used: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("-o {0:?} names no file prefix (give e.g. /var/tmp/flight)")]
    NoPrefix(String),
}

/// The names of the dumps of one recorder.
#[derive(Debug)]
pub struct DumpFiles {
    dir: PathBuf,
    stem: String,
    /// The number of the next dump.
    next: u32,
}

impl DumpFiles {
    /// The dumps of prefix `path`; checks at once that its directory exists
    /// and takes files (a temporary file is made and removed), so a bad
    /// path fails before the probes attach, not at the first trigger.
    pub fn new(path: &Path) -> Result<Self, DumpError> {
        let text = path.display().to_string();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .ok_or_else(|| DumpError::NoPrefix(text.clone()))?;
        let stem = name.strip_suffix(".dxt").unwrap_or(&name).to_string();
        if stem.is_empty() {
            return Err(DumpError::NoPrefix(text));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let listing = std::fs::read_dir(&dir).map_err(|source| dir_error(&dir, source))?;
        let highest = listing
            .filter_map(Result::ok)
            .filter_map(|entry| number_of(&stem, &entry.file_name().to_string_lossy()))
            .max()
            .unwrap_or(0);
        let files = Self {
            next: highest.saturating_add(1),
            dir,
            stem,
        };
        let probe = files.temporary();
        drop(
            create(&probe, CreateOptions::default()).map_err(|e| match e {
                TraceError::Open { source, .. } => dir_error(&files.dir, source),
                other => DumpError::Trace(other),
            })?,
        );
        std::fs::remove_file(&probe).map_err(|source| dir_error(&files.dir, source))?;
        Ok(files)
    }

    /// The path of dump number `n`.
    pub fn path_of(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{}.{n:04}.dxt", self.stem))
    }

    /// The path the next dump will get (unless a file takes it first).
    pub fn next_path(&self) -> PathBuf {
        self.path_of(self.next)
    }

    /// A glob-like description for messages: `DIR/flight.NNNN.dxt`.
    pub fn pattern(&self) -> String {
        self.dir
            .join(format!("{}.NNNN.dxt", self.stem))
            .display()
            .to_string()
    }

    fn temporary(&self) -> PathBuf {
        self.dir
            .join(format!(".{}.dxt.{}.tmp", self.stem, std::process::id()))
    }

    /// Writes the next dump: `fill` writes the whole trace into the
    /// temporary file (and syncs it); then it gets its name. On any error
    /// the temporary file is removed and no dump appears.
    pub fn write<T>(
        &mut self,
        fill: impl FnOnce(File) -> Result<T, TraceError>,
    ) -> Result<(PathBuf, T), DumpError> {
        let tmp = self.temporary();
        let result = (|| {
            let file = create(&tmp, CreateOptions { force: true })?;
            let made = fill(file)?;
            let path = self.link(&tmp)?;
            Ok((path, made))
        })();
        // The temporary file is gone either way (linked or abandoned).
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Links `tmp` under the next free number and syncs the directory.
    fn link(&mut self, tmp: &Path) -> Result<PathBuf, DumpError> {
        loop {
            let path = self.next_path();
            self.next = self.next.saturating_add(1);
            match std::fs::hard_link(tmp, &path) {
                Ok(()) => {
                    // The new name must survive a crash as the data does.
                    if let Ok(dir) = File::open(&self.dir) {
                        let _ = dir.sync_all();
                    }
                    return Ok(path);
                }
                // Someone made that name meanwhile: take the next.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && self.next < u32::MAX => {
                }
                Err(source) => {
                    return Err(DumpError::Io {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        }
    }
}

fn dir_error(dir: &Path, source: std::io::Error) -> DumpError {
    DumpError::Dir {
        path: dir.display().to_string(),
        source,
    }
}

/// The number of a dump file name of `stem` (`flight.0012.dxt` -> 12).
fn number_of(stem: &str, name: &str) -> Option<u32> {
    let digits = name
        .strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(".dxt")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn write_text(files: &mut DumpFiles, text: &'static [u8]) -> Result<PathBuf, DumpError> {
        files
            .write(|mut f| f.write_all(text).map_err(TraceError::Write))
            .map(|(p, ())| p)
    }

    #[test]
    fn dumps_are_numbered_after_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = DumpFiles::new(&dir.path().join("flight.dxt")).expect("usable");
        let first = write_text(&mut files, b"one").expect("writes");
        let second = write_text(&mut files, b"two").expect("writes");
        assert_eq!(first, dir.path().join("flight.0001.dxt"));
        assert_eq!(second, dir.path().join("flight.0002.dxt"));
        assert_eq!(std::fs::read(&first).expect("read"), b"one");
        assert_eq!(std::fs::read(&second).expect("read"), b"two");
        assert!(files.pattern().ends_with("flight.NNNN.dxt"));
        // Only the dumps are left: no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 2);
    }

    #[test]
    fn earlier_dumps_and_other_files_are_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("flight.0007.dxt"), b"old").expect("write");
        std::fs::write(dir.path().join("flight.notes"), b"x").expect("write");
        std::fs::write(dir.path().join("flight.12a.dxt"), b"x").expect("write");
        let mut files = DumpFiles::new(&dir.path().join("flight")).expect("usable");
        assert_eq!(files.next_path(), dir.path().join("flight.0008.dxt"));
        // A file that appears under the next name meanwhile is skipped.
        std::fs::write(dir.path().join("flight.0008.dxt"), b"racer").expect("write");
        let path = write_text(&mut files, b"new").expect("writes");
        assert_eq!(path, dir.path().join("flight.0009.dxt"));
        assert_eq!(
            std::fs::read(dir.path().join("flight.0007.dxt")).expect("r"),
            b"old"
        );
        assert_eq!(
            std::fs::read(dir.path().join("flight.0008.dxt")).expect("r"),
            b"racer"
        );
    }

    #[test]
    fn a_failed_dump_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = DumpFiles::new(&dir.path().join("flight")).expect("usable");
        let err = files.write(|mut f| -> Result<(), TraceError> {
            f.write_all(b"half a du").map_err(TraceError::Write)?;
            Err(TraceError::Write(std::io::Error::other("disk full")))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
        // The number was not used up by the failure.
        assert_eq!(files.next_path(), dir.path().join("flight.0001.dxt"));
    }

    #[test]
    fn a_bad_prefix_fails_at_once() {
        let err = DumpFiles::new(Path::new("/nonexistent/dir/flight")).expect_err("no dir");
        assert!(err.to_string().contains("/nonexistent/dir"), "{err}");
        assert!(matches!(
            DumpFiles::new(Path::new("/")),
            Err(DumpError::NoPrefix(_))
        ));
        assert!(matches!(
            DumpFiles::new(Path::new(".dxt")),
            Err(DumpError::NoPrefix(_))
        ));
    }
}
