//! A loop device over a file, attached with the loop ioctls (no losetup
//! variant to depend on) and detached on drop.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::progress;

const LOOP_SET_FD: libc::Ioctl = 0x4C00;
const LOOP_CLR_FD: libc::Ioctl = 0x4C01;
const LOOP_CTL_GET_FREE: libc::Ioctl = 0x4C82;

#[derive(Debug)]
pub struct LoopDevice {
    path: PathBuf,
    device: File,
}

impl LoopDevice {
    /// Attach `backing` to a free loop device.
    pub fn attach(backing: &Path) -> Result<LoopDevice> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(backing)
            .with_context(|| format!("opening {}", backing.display()))?;
        let control = File::open("/dev/loop-control")
            .context("opening /dev/loop-control (is the loop module loaded?)")?;
        // Another process may take the free device between the two ioctls: retry.
        for _ in 0..5 {
            // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number.
            let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
            if n < 0 {
                return Err(std::io::Error::last_os_error()).context("LOOP_CTL_GET_FREE");
            }
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let device = open_node(&path)?;
            // SAFETY: LOOP_SET_FD takes the backing file descriptor by value.
            let rc = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_SET_FD, file.as_raw_fd()) };
            if rc == 0 {
                return Ok(LoopDevice { path, device });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EBUSY) {
                return Err(err).with_context(|| format!("LOOP_SET_FD on {}", path.display()));
            }
        }
        bail!("no free loop device after 5 attempts")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Open a freshly created device node, waiting briefly for devtmpfs to show it.
fn open_node(path: &Path) -> Result<File> {
    let mut last = None;
    for _ in 0..50 {
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => return Ok(f),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                last = Some(err);
                thread::sleep(Duration::from_millis(20));
            }
            Err(err) => return Err(err).with_context(|| format!("opening {}", path.display())),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("not found")))
        .with_context(|| format!("{} did not appear", path.display()))
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // SAFETY: LOOP_CLR_FD takes no argument. While a holder (dm) still has the
        // device open the kernel detaches it when the holder closes it.
        let rc = unsafe { libc::ioctl(self.device.as_raw_fd(), LOOP_CLR_FD, 0) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            progress!("cleanup: detaching {}: {err}", self.path.display());
        }
    }
}
