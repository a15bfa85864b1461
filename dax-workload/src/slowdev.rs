//! The slow non-DAX device the O_DIRECT pin reads from: dm-delay over a loop
//! device over a file on tmpfs. Torn down in reverse order on drop.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::blockdev;
use crate::dm::{self, DmDevice};
use crate::loopdev::LoopDevice;
use crate::progress;

/// Byte every sector of the slow device holds.
pub const FILL: u8 = 0x5a;

#[derive(Debug)]
pub struct SlowDevice {
    // Field order is drop order: dm device, then loop device, then the file.
    dm: DmDevice,
    _loop: LoopDevice,
    _backing: Backing,
}

impl SlowDevice {
    /// A `size`-byte device whose reads each take `delay_ms`.
    pub fn create(backing: PathBuf, size: usize, delay_ms: u32) -> Result<SlowDevice> {
        let backing = Backing::create(backing, size)?;
        let lo = LoopDevice::attach(&backing.0)?;
        let sectors = blockdev::size_sectors(lo.path())?;
        let table = dm::delay_table(sectors, lo.path(), delay_ms);
        let dm = DmDevice::create(&dm::device_name("delay"), &table)
            .context("dm-delay over the loop device (is dm-delay loaded?)")?;
        progress!(
            "slow device {} ({} ms reads) over {}",
            dm.node().display(),
            delay_ms,
            lo.path().display()
        );
        Ok(SlowDevice {
            dm,
            _loop: lo,
            _backing: backing,
        })
    }

    pub fn node(&self) -> &Path {
        self.dm.node()
    }

    /// Open for O_DIRECT reads: the data goes straight into the caller's pages.
    pub fn open_direct(&self) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(self.node())
            .with_context(|| format!("opening {} O_DIRECT", self.node().display()))
    }
}

/// The backing file, removed on drop.
#[derive(Debug)]
struct Backing(PathBuf);

impl Backing {
    fn create(path: PathBuf, size: usize) -> Result<Backing> {
        let mut file =
            File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let backing = Backing(path);
        file.write_all(&vec![FILL; size])
            .with_context(|| format!("filling {}", backing.0.display()))?;
        file.sync_all().context("syncing the backing file")?;
        Ok(backing)
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_file(&self.0) {
            progress!("cleanup: removing {}: {err}", self.0.display());
        }
    }
}
