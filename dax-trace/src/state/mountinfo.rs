//! `/proc/self/mountinfo`: which filesystem is mounted from which device,
//! where, and whether with DAX on. One entry per superblock (device): bind
//! mounts and later mounts of the same device add nothing.
use crate::daxmode::Asked;
use crate::event::Dev;

use super::sysfs::parse_dev;

/// Names another mount table to read than `/proc/self/mountinfo`: in a
/// container sharing the host's PID namespace, `/proc/1/mountinfo` is the
/// host's (deploy/kubernetes sets it).
pub const PATH_ENV: &str = "DAXTRACE_MOUNTINFO";

/// The mount table read: [`PATH_ENV`] when set and not empty, else ours.
pub fn path() -> std::path::PathBuf {
    path_from(std::env::var_os(PATH_ENV))
}

fn path_from(var: Option<std::ffi::OsString>) -> std::path::PathBuf {
    var.filter(|v| !v.is_empty())
        .map_or_else(|| "/proc/self/mountinfo".into(), std::path::PathBuf::from)
}

/// A mounted superblock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub dev: Dev,
    pub fstype: String,
    /// The mount source (`/dev/pmem0`).
    pub source: String,
    /// Where it was first mounted (in mountinfo order).
    pub mount_point: String,
    /// `dax` or `dax=always` among the options.
    pub dax: bool,
    /// The DAX mode the options ask for (the last `dax` option).
    pub asked: Asked,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_dax(opts: &str) -> bool {
    opts.split(',').any(|o| o == "dax" || o == "dax=always")
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        let Some(dev) = parse_dev(l[2]) else { continue };
        if out.iter().any(|m| m.dev == dev) {
            continue;
        }
        out.push(Mount {
            dev,
            fstype: r[0].to_string(),
            source: unescape(r[1]),
            mount_point: unescape(l[4]),
            dax: has_dax(l[5]) || has_dax(r[2]),
            asked: Asked::from_options(&format!("{},{}", l[5], r[2])),
        });
    }
    out
}

/// Tells when the mount table changed, without reading it: the kernel
/// flags an open mountinfo file with POLLPRI after every change of the
/// mount namespace (`mounts_poll`), so one poll(2) a tick replaces a read
/// and a parse of the whole table.
pub struct ChangeWatch {
    file: std::fs::File,
}

impl ChangeWatch {
    /// Opens the mount table ([`path`]; changes count from now).
    pub fn open() -> std::io::Result<Self> {
        std::fs::File::open(path()).map(|file| Self { file })
    }

    /// The mount table changed since the last call (or the open). A poll
    /// that fails says "changed": reading again is the safe answer.
    pub fn changed(&mut self) -> bool {
        use std::os::fd::AsRawFd as _;
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a timeout of 0 (never blocks).
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n < 0 || pfd.revents & (libc::POLLPRI | libc::POLLERR) != 0
    }
}

/// Reads and parses the mount table ([`path`]).
pub fn read() -> std::io::Result<Vec<Mount>> {
    std::fs::read_to_string(path()).map(|t| parse(&t))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_environment_names_another_mount_table() {
        assert_eq!(path_from(None), Path::new("/proc/self/mountinfo"));
        assert_eq!(
            path_from(Some("".into())),
            Path::new("/proc/self/mountinfo")
        );
        assert_eq!(
            path_from(Some("/proc/1/mountinfo".into())),
            Path::new("/proc/1/mountinfo")
        );
    }

    #[test]
    fn an_unchanged_mount_table_reads_as_unchanged() {
        // Mounting needs privileges this test may not have; what it can
        // check everywhere is that an unchanged table reads as unchanged,
        // twice (the VM tests see real mounts change).
        let mut w = ChangeWatch::open().expect("mountinfo");
        assert!(!w.changed());
        assert!(!w.changed());
    }

    const TEXT: &str = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
40 1 259:0 / /mnt/dax\\040x rw,relatime shared:1 - ext4 /dev/pmem0 rw,dax=always
41 1 259:0 /sub /mnt/bind rw - ext4 /dev/pmem0 rw,dax=always
42 1 254:0 / /mnt/dm rw,relatime - xfs /dev/mapper/daxlin rw,attr2,inode64,dax
43 1 259:1 / /mnt/plain rw - ext4 /dev/pmem1 rw
garbage line
";

    #[test]
    fn one_entry_per_device_with_unescaped_mount_points_and_dax_flag() {
        let m = parse(TEXT);
        assert_eq!(m.len(), 4);
        let pmem = &m[1];
        assert_eq!(pmem.dev, Dev::new(259, 0));
        assert_eq!(pmem.mount_point, "/mnt/dax x");
        assert_eq!(pmem.fstype, "ext4");
        assert!(pmem.dax);
        assert!(m[2].dax, "legacy `dax` in xfs's super options");
        assert_eq!(m[2].source, "/dev/mapper/daxlin");
        assert!(!m[3].dax);
        assert_eq!(pmem.asked, Asked::Always);
        assert_eq!(m[2].asked, Asked::Dax);
        assert_eq!(m[3].asked, Asked::None);
        let never = parse("40 1 259:0 / /mnt/x rw - ext4 /dev/pmem0 rw,dax=never\n");
        assert_eq!((never[0].dax, never[0].asked), (false, Asked::Never));
        let inode = parse("40 1 259:0 / /mnt/x rw - xfs /dev/pmem0 rw,dax=inode\n");
        assert_eq!((inode[0].dax, inode[0].asked), (false, Asked::Inode));
    }
}
