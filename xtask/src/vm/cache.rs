//! Where the test bed keeps kernels, images and run directories (outside git).
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// `${XDG_CACHE_HOME:-~/.cache}/daxtrace`.
pub fn cache_root() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("daxtrace"));
    }
    let home = std::env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/daxtrace"))
}

/// Take the exclusive lock of a cache directory (released when the file is
/// dropped or the process ends), saying so when another run holds it.
pub fn lock_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(".lock");
    let lock = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "vm: waiting for another run to finish fetching or building in {}",
                dir.display()
            );
            lock.lock()
                .with_context(|| format!("locking {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_blocks_a_second_taker() {
        let t = tempfile::tempdir().unwrap();
        let first = lock_dir(t.path()).unwrap();
        let second = File::open(t.path().join(".lock")).unwrap();
        assert!(matches!(second.try_lock(), Err(TryLockError::WouldBlock)));
        drop(first);
        assert!(second.try_lock().is_ok());
    }
}
