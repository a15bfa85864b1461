//! The scenarios, and what they share: the device check, DAX files, the DAX check.

pub mod dma_truncate;
pub mod evict_dma;
pub mod faults;
pub mod memory_failure;
pub mod mount_cycles;
pub mod pin_heavy;
pub mod pin_owners;
pub mod smoke;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::blockdev;
use crate::cli::{Cli, Scenario};
use crate::progress;
use crate::report::Report;
use crate::statx::{self, DaxState};
use crate::watchdog::{self, Stage};

/// Writing a few MiB to pmem takes milliseconds; TCG and a busy host are slow.
const WRITE_DEADLINE: Duration = Duration::from_secs(60);

/// Run the scenario the command line names, recording into `report`.
/// An `Err` is a setup error; failed checks are in the report.
pub fn run(cli: &Cli, report: &mut Report) -> Result<()> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!("dax-workload must run as root (mkfs, mount, dmsetup, loop devices)");
    }
    preflight(&cli.dev)?;
    match &cli.scenario {
        Scenario::Smoke => smoke::run(report, &cli.dev, &cli.workdir),
        Scenario::MountCycles(args) => mount_cycles::run_pmem(report, &cli.dev, &cli.workdir, args),
        Scenario::DmMountCycles(args) => mount_cycles::run_dm(report, &cli.dev, &cli.workdir, args),
        Scenario::DmaTruncate(args) => dma_truncate::run(report, &cli.dev, &cli.workdir, args),
        Scenario::EvictDma(args) => evict_dma::run(report, &cli.dev, &cli.workdir, args),
        Scenario::Faults(args) => faults::run(report, &cli.dev, &cli.workdir, args),
        Scenario::MemoryFailure(args) => memory_failure::run(report, &cli.dev, &cli.workdir, args),
        Scenario::PinOwners(args) => pin_owners::run(report, &cli.dev, &cli.workdir, args),
        Scenario::PinHeavy(args) => pin_heavy::run(report, &cli.dev, &cli.workdir, args),
        Scenario::PoisonChild(_) => bail!("poison-child is run by memory-failure, not on its own"),
        Scenario::PinChild(_) => bail!("pin-child is run by pin-owners, not on its own"),
        Scenario::FutexPingpong(_) | Scenario::TruncateLoop(_) => {
            bail!("benchmark loops run without a report")
        }
    }
}

/// The pmem device must be a block device; say whether its queue claims DAX.
fn preflight(dev: &Path) -> Result<()> {
    blockdev::require_block_device(dev)?;
    let size = blockdev::size_bytes(dev)?;
    match blockdev::queue_dax(dev) {
        Some(true) => progress!("{}: {} MiB, queue/dax 1", dev.display(), size >> 20),
        Some(false) => progress!(
            "{}: {} MiB, queue/dax 0: not an fsdax namespace, DAX mounts will fail",
            dev.display(),
            size >> 20
        ),
        None => progress!("{}: {} MiB, queue/dax unknown", dev.display(), size >> 20),
    }
    Ok(())
}

/// Create `path` with `len` bytes of `fill`, on stable storage.
pub fn write_file(path: &Path, len: usize, fill: u8) -> Result<File> {
    let _guard = watchdog::watch(
        Stage::Setup,
        format!("writing and syncing {}", path.display()),
        WRITE_DEADLINE,
    );
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let chunk = vec![fill; 64 << 10];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n])
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n;
    }
    file.sync_all()
        .with_context(|| format!("fsync {}", path.display()))?;
    Ok(file)
}

/// Check (loudly) that `path` is a DAX file; returns whether it is.
pub fn check_dax(report: &mut Report, label: &str, path: &Path) -> Result<bool> {
    let state = statx::dax_state(path)?;
    Ok(report.check(
        format!("{label}: statx DAX"),
        state == DaxState::Active,
        format!("{}: {}", path.display(), state.describe()),
    ))
}
