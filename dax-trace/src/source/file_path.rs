//! Turns what the kernel read at a refused long-term pin (the file's device
//! and its dentry names from the filesystem's root) into the path a user
//! knows: the mount point of that device joined with those names. It needs
//! only the mount table, which outlives the process that asked.
use dax_trace_common::field::Dev;

use crate::state::mountinfo::unescape;
use crate::state::sysfs::parse_dev;

/// The path under which `fs_path` (a path from the root of the filesystem
/// on `dev`, as `/dir/file`) is reachable in the mount table `mountinfo`;
/// `None` when no mount of `dev` shows it. Of the mounts of `dev`, the one
/// whose root (a bind mount's subdirectory, else `/`) is the longest prefix
/// of `fs_path` wins, ties to the first in the table.
pub fn mounted_path(mountinfo: &str, dev: Dev, fs_path: &str) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        // id parent major:minor root mount-point options...
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 5 || parse_dev(fields[2]) != Some(dev) {
            continue;
        }
        let root = unescape(fields[3]);
        let Some(rest) = under(fs_path, &root) else {
            continue;
        };
        if best.as_ref().is_some_and(|(len, _)| *len >= root.len()) {
            continue;
        }
        let mount_point = unescape(fields[4]);
        let joined = if mount_point == "/" {
            rest.to_string()
        } else {
            format!("{}{rest}", mount_point.trim_end_matches('/'))
        };
        best = Some((root.len(), joined));
    }
    best.map(|(_, p)| p)
}

/// `path` with the directory `root` taken off its front (keeping the
/// leading `/`); `None` when `path` does not lie under `root`.
fn under<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    rest.starts_with('/').then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 0:20 / / rw,relatime - tmpfs rootfs rw
30 22 259:0 / /mnt/dax rw,relatime - ext4 /dev/pmem0 rw,dax=always
31 22 259:0 /jobs /srv/my\\040jobs rw,relatime - ext4 /dev/pmem0 rw,dax=always
32 22 259:1 / / rw - xfs /dev/pmem1 rw,dax=always
";

    #[test]
    fn a_file_is_named_under_the_mount_point_of_its_device() {
        let dev = Dev::new(259, 0);
        assert_eq!(
            mounted_path(MOUNTINFO, dev, "/ringbuf").as_deref(),
            Some("/mnt/dax/ringbuf")
        );
    }

    #[test]
    fn a_bind_mounted_directory_names_its_files_by_the_bind_mount() {
        let dev = Dev::new(259, 0);
        assert_eq!(
            mounted_path(MOUNTINFO, dev, "/jobs/a/b").as_deref(),
            Some("/srv/my jobs/a/b")
        );
        // "/jobsite" is not under "/jobs".
        assert_eq!(
            mounted_path(MOUNTINFO, dev, "/jobsite").as_deref(),
            Some("/mnt/dax/jobsite")
        );
    }

    #[test]
    fn a_filesystem_mounted_at_the_root_keeps_its_path() {
        assert_eq!(
            mounted_path(MOUNTINFO, Dev::new(259, 1), "/var/buf").as_deref(),
            Some("/var/buf")
        );
    }

    #[test]
    fn an_unmounted_device_gives_nothing() {
        assert_eq!(mounted_path(MOUNTINFO, Dev::new(8, 1), "/f"), None);
        assert_eq!(mounted_path("", Dev::new(259, 0), "/f"), None);
    }
}
