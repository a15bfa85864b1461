//! What live capture adds to kernel events before it sends them: the
//! symbolized kernel stacks they name (read from the programs' stack map
//! into the stream's [`StackTable`], once per id), the full path of the
//! file a refused long-term pin asked for (the mount point of the device
//! the kernel named joined with the kernel's dentry names, or, when the
//! kernel named nothing, the file mapped at the address in
//! `/proc/PID/maps` while the task still exists), and the device and driver
//! of a new pagemap (sysfs, [`super::pagemap_owner`]). Replay needs none:
//! the trace holds them.
use std::collections::HashSet;
use std::path::Path;

use aya::maps::{MapData, StackTraceMap};
use dax_trace_common::field::{PathName, StackId};
use dax_trace_common::payload::{RefusedPin, path_from};

use super::file_path::mounted_path;
use super::pagemap_owner;
use crate::event::{Event, EventBody};
use crate::stacks::{StackRecord, StackTable, stack_of};
use crate::state::sysfs::Sysfs;
use crate::symbolize::Symbolizer;

/// Stacks that could not be read are retried this many times at most.
const MAX_FAILED: usize = 4096;

/// Completes kernel events in place, before they enter the stream.
pub struct Enricher {
    stacks: Option<StackTraceMap<MapData>>,
    symbolizer: Symbolizer,
    table: StackTable,
    failed: HashSet<u32>,
    proc_root: std::path::PathBuf,
    mountinfo: std::path::PathBuf,
    sysfs: Sysfs,
}

impl Enricher {
    /// `stacks`: the programs' stack map (`None` when it could not be
    /// opened: events keep their ids, the trace has no frames for them).
    /// `symbolizer`: kallsyms, best read before the first stack comes
    /// ([`Symbolizer::loaded`]).
    pub fn new(
        stacks: Option<StackTraceMap<MapData>>,
        table: StackTable,
        symbolizer: Symbolizer,
    ) -> Self {
        Self {
            stacks,
            symbolizer,
            table,
            failed: HashSet::new(),
            proc_root: "/proc".into(),
            mountinfo: crate::state::mountinfo::path(),
            sysfs: Sysfs::default(),
        }
    }

    /// Whether [`Self::enrich`] has anything to do for `events`: a stack not
    /// read yet, or a refused pin without its full path. Most batches
    /// (faults, pages) have neither.
    pub fn needs_work(&self, events: &[Event]) -> bool {
        events.iter().any(|event| {
            self.unread_stack(event).is_some()
                || matches!(&event.body, EventBody::RefusedPin(r) if path_wanted(r))
                || matches!(&event.body, EventBody::PagemapCreate(c) if pagemap_owner::unnamed(c))
        })
    }

    fn unread_stack(&self, event: &Event) -> Option<StackId> {
        let id = stack_of(&event.body);
        let n = id.get()?;
        (!self.table.contains(n) && !self.failed.contains(&n)).then_some(id)
    }

    pub fn enrich(&mut self, events: &mut [Event]) {
        for event in events {
            if let Some(id) = self.unread_stack(event) {
                self.load(id);
            }
            if let EventBody::PagemapCreate(c) = &mut event.body {
                pagemap_owner::name(&self.sysfs, c);
            }
            if let EventBody::RefusedPin(r) = &mut event.body
                && path_wanted(r)
            {
                self.complete_path(event.pid, r);
            }
        }
    }

    /// The kernel's names joined with the mount point of its device; the
    /// after-the-fact reading of /proc/PID/maps only when the kernel named
    /// nothing.
    fn complete_path(&self, pid: u32, r: &mut RefusedPin) {
        if r.path_from == path_from::FS_ROOT {
            let mounted = std::fs::read_to_string(&self.mountinfo)
                .ok()
                .and_then(|m| mounted_path(&m, r.dev, r.path.as_str()));
            if let Some(p) = mounted {
                r.path = PathName::from_str_lossy(&p);
                r.path_from = path_from::MOUNTED;
            }
            return;
        }
        r.path = mapped_file(&self.proc_root, pid, r.start)
            .map(|p| PathName::from_str_lossy(&p))
            .unwrap_or(PathName::EMPTY);
    }

    /// Reads stack `id` (the kernel's id + 1) and symbolizes it.
    fn load(&mut self, id: StackId) {
        let Some(n) = id.get() else { return };
        let Some(map) = &self.stacks else { return };
        match map.get(&(n - 1), 0) {
            Ok(trace) => {
                let ips = trace.frames().iter().map(|f| f.ip);
                let frames = self.symbolizer.stack(ips);
                self.table.insert(StackRecord { id: n, frames });
            }
            Err(err) => {
                log::debug!("kernel stack {n} unreadable: {err}");
                if self.failed.len() < MAX_FAILED {
                    self.failed.insert(n);
                }
            }
        }
    }
}

/// A refused pin whose path recording should complete: the kernel's names
/// from the filesystem's root (a mount point to join), or no name at all.
fn path_wanted(r: &RefusedPin) -> bool {
    match r.path_from {
        path_from::FS_ROOT => r.dev.0 != 0,
        path_from::MAPS => r.path.is_empty(),
        _ => false,
    }
}

/// The path of the file mapped at `addr` in process `pid`; `None` when the
/// process is gone or the memory is anonymous.
pub fn mapped_file(proc_root: &Path, pid: u32, addr: u64) -> Option<String> {
    let maps = std::fs::read_to_string(proc_root.join(pid.to_string()).join("maps")).ok()?;
    file_at(&maps, addr)
}

/// The file of the `/proc/PID/maps` line covering `addr`.
pub fn file_at(maps: &str, addr: u64) -> Option<String> {
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (lo, hi) = fields.next()?.split_once('-')?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        if !(lo..hi).contains(&addr) {
            return None;
        }
        // perms offset dev inode path (the path may hold spaces).
        let path: Vec<&str> = fields.skip(4).collect();
        let path = path.join(" ");
        (path.starts_with('/')).then_some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
5581d000-5581e000 r--p 00000000 fe:01 1234 /usr/bin/fio
7f0000000000-7f0000200000 rw-s 00000000 103:00 12 /mnt/dax/my file
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]
";

    #[test]
    fn the_file_behind_an_address_is_found_with_spaces_in_its_name() {
        assert_eq!(
            file_at(MAPS, 0x7f00_0000_1000).as_deref(),
            Some("/mnt/dax/my file")
        );
        assert_eq!(file_at(MAPS, 0x5581_d000).as_deref(), Some("/usr/bin/fio"));
    }

    #[test]
    fn anonymous_memory_and_unmapped_addresses_have_no_file() {
        assert_eq!(file_at(MAPS, 0x7f00_0020_0000), None);
        assert_eq!(file_at(MAPS, 0x7ffd_0000), None);
        assert_eq!(file_at(MAPS, 0x1000), None);
    }

    /// A refusal as the kernel names it: `/ringbuf` from the root of the
    /// filesystem on 259:0, inode 12, by a process that has gone.
    fn kernel_named(path: &str) -> Vec<Event> {
        let mut events = vec![Event::own(
            1,
            RefusedPin {
                start: 0x7f00_0000_1000,
                ret: -95,
                path: PathName::from_str_lossy(path),
                dev: dax_trace_common::field::Dev::new(259, 0),
                path_from: path_from::FS_ROOT,
                ino: 12,
                ..Default::default()
            }
            .into(),
        )];
        // No such process: /proc has nothing to say about it.
        events[0].pid = u32::MAX - 1;
        events
    }

    fn enricher_with_mounts(mountinfo: &str) -> (Enricher, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mountinfo");
        std::fs::write(&path, mountinfo).expect("write mountinfo");
        let mut e = Enricher::new(None, StackTable::new(), Symbolizer::from_text(""));
        e.mountinfo = path;
        (e, dir)
    }

    fn refused_of(events: &[Event]) -> &RefusedPin {
        let EventBody::RefusedPin(r) = &events[0].body else {
            panic!("kind changed");
        };
        r
    }

    #[test]
    fn the_kernels_name_of_a_gone_process_file_is_joined_with_its_mount_point() {
        let (mut e, _dir) = enricher_with_mounts(
            "22 1 0:20 / / rw - tmpfs rootfs rw\n30 22 259:0 / /mnt/dax rw - ext4 /dev/pmem0 rw,dax=always\n",
        );
        let mut events = kernel_named("/ringbuf");
        assert!(e.needs_work(&events), "a mount point to join");
        e.enrich(&mut events);
        let r = refused_of(&events);
        assert_eq!(r.path.as_str(), "/mnt/dax/ringbuf");
        assert_eq!(r.path_from, path_from::MOUNTED);
        assert_eq!(r.ino, 12);
        assert!(!e.needs_work(&events), "complete");
    }

    #[test]
    fn without_a_mount_of_its_device_the_kernels_name_stays_as_read() {
        let (mut e, _dir) = enricher_with_mounts("22 1 0:20 / / rw - tmpfs rootfs rw\n");
        let mut events = kernel_named("/dir/ringbuf");
        e.enrich(&mut events);
        let r = refused_of(&events);
        assert_eq!(r.path.as_str(), "/dir/ringbuf");
        assert_eq!(r.path_from, path_from::FS_ROOT);
    }

    #[test]
    fn a_refused_pin_of_our_own_mapping_names_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("buffer");
        std::fs::write(&path, vec![0u8; 8192]).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        // SAFETY: a fresh shared read-only mapping of our own file.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        assert_ne!(addr, libc::MAP_FAILED);
        let mut events = vec![Event::own(
            1,
            dax_trace_common::payload::RefusedPin {
                start: addr as u64 + 4096,
                ret: -95,
                ..Default::default()
            }
            .into(),
        )];
        events[0].pid = std::process::id();
        let mut e = Enricher::new(None, StackTable::new(), Symbolizer::from_text(""));
        assert!(e.needs_work(&events), "a refused pin without its file");
        e.enrich(&mut events);
        assert!(!e.needs_work(&events), "its file is filled in");
        // SAFETY: unmapping what we mapped above.
        unsafe { libc::munmap(addr, 8192) };
        let EventBody::RefusedPin(r) = &events[0].body else {
            panic!("kind changed");
        };
        let want = path.canonicalize().expect("canonical");
        assert_eq!(r.path.as_str(), want.to_str().expect("utf-8 path"));
    }
}
