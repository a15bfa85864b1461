//! device-mapper devices made with dmsetup, removed on drop.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::blockdev;
use crate::cmd;
use crate::progress;

const DMSETUP_DEADLINE: Duration = Duration::from_secs(60);

/// A dm-linear table mapping all of `dev` (`sectors` long) one to one.
pub fn linear_table(sectors: u64, dev: &Path) -> String {
    format!("0 {sectors} linear {} 0", dev.display())
}

/// A dm-delay table delaying every read and write of `dev` by `delay_ms`.
pub fn delay_table(sectors: u64, dev: &Path, delay_ms: u32) -> String {
    format!("0 {sectors} delay {} 0 {delay_ms}", dev.display())
}

/// The name of a device of ours: per process, so runs never collide.
pub fn device_name(role: &str) -> String {
    format!("daxwl-{role}-{}", std::process::id())
}

#[derive(Debug)]
pub struct DmDevice {
    name: String,
    node: PathBuf,
    removed: bool,
}

impl DmDevice {
    /// `dmsetup create NAME --table TABLE` (no udev in the guest: we do not
    /// wait for it, and find the node through sysfs).
    pub fn create(name: &str, table: &str) -> Result<DmDevice> {
        progress!("dmsetup create {name}: {table}");
        cmd::run(
            "dmsetup",
            &["create", "--noudevsync", name, "--table", table],
            DMSETUP_DEADLINE,
        )?;
        let mut device = DmDevice {
            name: name.to_owned(),
            node: PathBuf::new(),
            removed: false,
        };
        // The Drop of `device` removes it if finding its node fails.
        device.node = find_node(name)?;
        Ok(device)
    }

    pub fn node(&self) -> &Path {
        &self.node
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `dmsetup remove`, reporting failure.
    pub fn remove(mut self) -> Result<()> {
        self.removed = true;
        remove(&self.name)
    }
}

impl Drop for DmDevice {
    fn drop(&mut self) {
        if !self.removed
            && let Err(err) = remove(&self.name)
        {
            progress!("cleanup: {err:#}");
        }
    }
}

/// `/dev/dm-N` (devtmpfs) or else `/dev/mapper/NAME`.
fn find_node(name: &str) -> Result<PathBuf> {
    let out = cmd::output(
        "dmsetup",
        &[
            "info",
            "-c",
            "--noheadings",
            "--separator",
            ":",
            "-o",
            "major,minor",
            name,
        ],
        DMSETUP_DEADLINE,
    )?;
    let major_minor = parse_major_minor(&out)
        .ok_or_else(|| anyhow!("dmsetup info {name}: unexpected output {out:?}"))?;
    if let Ok(node) = blockdev::node_of(&major_minor)
        && node.exists()
    {
        return Ok(node);
    }
    let mapper = Path::new("/dev/mapper").join(name);
    if mapper.exists() {
        return Ok(mapper);
    }
    Err(anyhow!("no device node for {name} ({major_minor})"))
        .context("neither /dev/dm-N (devtmpfs) nor /dev/mapper has it")
}

/// "253:0" out of `dmsetup info -c -o major,minor --separator :`.
pub fn parse_major_minor(out: &str) -> Option<String> {
    let line = out.lines().map(str::trim).find(|l| !l.is_empty())?;
    let (major, minor) = line.split_once(':')?;
    let major: u32 = major.trim().parse().ok()?;
    let minor: u32 = minor.trim().parse().ok()?;
    Some(format!("{major}:{minor}"))
}

/// Remove, retrying while the device is still busy right after an umount.
fn remove(name: &str) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match cmd::run(
            "dmsetup",
            &["remove", "--noudevsync", name],
            DMSETUP_DEADLINE,
        ) {
            Ok(()) => return Ok(()),
            Err(err) if attempt >= 5 => {
                return Err(err).with_context(|| format!("removing dm device {name}"));
            }
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_table_maps_the_whole_device() {
        assert_eq!(
            linear_table(1_048_576, Path::new("/dev/pmem0")),
            "0 1048576 linear /dev/pmem0 0"
        );
    }

    #[test]
    fn delay_table_delays_from_offset_zero() {
        assert_eq!(
            delay_table(8192, Path::new("/dev/loop0"), 2000),
            "0 8192 delay /dev/loop0 0 2000"
        );
    }

    #[test]
    fn names_are_per_process() {
        let name = device_name("linear");
        assert!(name.starts_with("daxwl-linear-"));
        assert!(name.ends_with(&std::process::id().to_string()));
    }

    #[test]
    fn major_minor_is_parsed() {
        assert_eq!(parse_major_minor("253:0\n").as_deref(), Some("253:0"));
        assert_eq!(parse_major_minor("\n 254:17 \n").as_deref(), Some("254:17"));
        assert_eq!(parse_major_minor("Device does not exist.\n"), None);
        assert_eq!(parse_major_minor(""), None);
    }
}
