//! Whether a file really is DAX: statx(2) STATX_ATTR_DAX.

use std::path::Path;

use anyhow::{Context, Result};

use crate::fs::path_cstring;

/// STATX_ATTR_DAX, set in stx_attributes when the file's data is accessed directly.
pub const STATX_ATTR_DAX: u64 = 0x0020_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaxState {
    Active,
    Inactive,
    /// The kernel does not report the attribute (before 5.8).
    Unreported,
}

impl DaxState {
    pub fn from_attributes(attributes: u64, mask: u64) -> DaxState {
        if mask & STATX_ATTR_DAX == 0 {
            DaxState::Unreported
        } else if attributes & STATX_ATTR_DAX != 0 {
            DaxState::Active
        } else {
            DaxState::Inactive
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            DaxState::Active => "STATX_ATTR_DAX set",
            DaxState::Inactive => "STATX_ATTR_DAX clear: the file is NOT DAX",
            DaxState::Unreported => "kernel does not report STATX_ATTR_DAX",
        }
    }
}

pub fn dax_state(path: &Path) -> Result<DaxState> {
    let c_path = path_cstring(path)?;
    // SAFETY: statx is plain data; the kernel fills it.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and buffer; raw syscall avoids depending on the libc wrapper.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_statx,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            0,
            libc::STATX_BASIC_STATS,
            &mut buf as *mut libc::statx,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statx {}", path.display()));
    }
    Ok(DaxState::from_attributes(
        buf.stx_attributes,
        buf.stx_attributes_mask,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_bits_decide() {
        assert_eq!(
            DaxState::from_attributes(STATX_ATTR_DAX, STATX_ATTR_DAX),
            DaxState::Active
        );
        assert_eq!(
            DaxState::from_attributes(0, STATX_ATTR_DAX | 0x10),
            DaxState::Inactive
        );
        assert_eq!(DaxState::from_attributes(0, 0x10), DaxState::Unreported);
    }

    #[test]
    fn files_here_are_not_dax() {
        // The build host has no pmem: whatever it reports, it is not Active.
        let state = dax_state(Path::new("/proc/self/exe")).expect("statx works");
        assert_ne!(state, DaxState::Active);
    }
}
