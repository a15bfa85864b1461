//! The pin owner story of the synthetic scenario, shaped like 6.1: the
//! O_DIRECT reader that holds the page a truncate waits for (a FOLL_GET
//! reference through `get_user_pages_fast`, from the block layer's
//! direct-I/O path under ext4 or xfs), its release, the fio read behind the
//! last truncate's lost wakeup, and an io_uring process whose fixed buffers
//! on a DAX file the kernel refuses to pin long term.
use super::{PFN_START, PGMAP, PMEM0, Script};
use crate::event::{
    BusyPage, EventBody, PageIdle, PinOwner, PinRelease, RefusedPin, StuckWait, WaitApi, WaitBegin,
};
use crate::stacks::{StackFrame, StackRecord};
use dax_trace_common::field::{Dev, StackId};
use dax_trace_common::payload::path_from;
use dax_trace_common::probe::idx;

/// The stack of an O_DIRECT read under ext4.
pub const STACK_EXT4_DIO: StackId = StackId(1);
/// The same under xfs.
pub const STACK_XFS_DIO: StackId = StackId(2);
/// `IORING_REGISTER_BUFFERS` pinning its buffers.
pub const STACK_URING_REGISTER: StackId = StackId(3);

/// The file the io_uring process mapped its buffers from.
pub const URING_BUFFER_PATH: &str = "/mnt/pmem0/ring.buf";
/// Its inode number.
pub const URING_BUFFER_INO: u64 = 14;

fn frames(names: &[(&str, u64, Option<&str>)]) -> Vec<StackFrame> {
    names
        .iter()
        .enumerate()
        .map(|(i, (symbol, offset, module))| StackFrame {
            // vmlinux text, or module space for module frames.
            addr: if module.is_some() {
                0xffff_ffff_c080_0000 + (i as u64) * 0x1_0000 + offset
            } else {
                0xffff_ffff_8130_0000 + (i as u64) * 0x1_0000 + offset
            },
            symbol: Some((*symbol).to_string()),
            offset: *offset,
            module: module.map(str::to_string),
        })
        .collect()
}

/// The stack records the scenario's events name.
pub fn stacks() -> Vec<StackRecord> {
    let dio = |fs_read: &str, fs_file_read: &str, module: &'static str| {
        frames(&[
            ("get_user_pages_fast", 0x2d, None),
            ("__iov_iter_get_pages_alloc", 0x1a3, None),
            ("iov_iter_get_pages2", 0x31, None),
            ("bio_iov_iter_get_pages", 0xa2, None),
            ("iomap_dio_bio_iter", 0x2b6, None),
            ("__iomap_dio_rw", 0x4c1, None),
            ("iomap_dio_rw", 0x12, None),
            (fs_read, 0x8c, Some(module)),
            (fs_file_read, 0x5d, Some(module)),
            ("vfs_read", 0x1e4, None),
            ("ksys_read", 0x67, None),
            ("do_syscall_64", 0x5b, None),
            ("entry_SYSCALL_64_after_hwframe", 0x64, None),
        ])
    };
    vec![
        StackRecord {
            id: STACK_EXT4_DIO.0,
            frames: dio("ext4_dio_read_iter", "ext4_file_read_iter", "ext4"),
        },
        StackRecord {
            id: STACK_XFS_DIO.0,
            frames: dio("xfs_file_dio_read", "xfs_file_read_iter", "xfs"),
        },
        StackRecord {
            id: STACK_URING_REGISTER.0,
            frames: frames(&[
                ("pin_user_pages", 0x47, None),
                ("io_sqe_buffer_register", 0x19f, None),
                ("io_sqe_buffers_register", 0x18b, None),
                ("__io_uring_register", 0x6f1, None),
                ("__do_sys_io_uring_register", 0xd4, None),
                ("do_syscall_64", 0x5b, None),
                ("entry_SYSCALL_64_after_hwframe", 0x64, None),
            ]),
        },
    ]
}

/// `struct page` of a pmem0 pfn.
pub fn page_of(pfn: u64) -> u64 {
    0xffff_ea00_0100_0000 + (pfn - PFN_START) * 64
}

impl Script {
    /// The O_DIRECT reader `pid` that took its reference on `pfn`
    /// `held_us` ago, reported right after the busy page.
    pub(super) fn pin_owner(
        &mut self,
        pid: u32,
        comm: &str,
        pfn: u64,
        held_us: u64,
        stack: StackId,
    ) {
        let since_ns = self.ts_ns.saturating_sub(held_us * 1_000);
        self.at(
            0,
            pid,
            comm,
            idx::GET_USER_PAGES_FAST,
            EventBody::PinOwner(PinOwner {
                page: page_of(pfn),
                pfn,
                pgmap: PGMAP,
                since_ns,
                refs: 1,
                pin: false.into(),
                stack,
                remote: false.into(),
            }),
        );
    }

    /// The owner `owner` of `pfn` (pinned at `since_ns`) put its reference,
    /// from the I/O completion interrupt.
    pub(super) fn pin_release(&mut self, after_us: u64, pfn: u64, owner: u32, since_ns: u64) {
        self.at(
            after_us,
            0,
            "swapper/1",
            idx::PIN_USER_PAGES_FAST,
            EventBody::PinRelease(PinRelease {
                page: page_of(pfn),
                pfn,
                since_ns,
                owner_pid: owner,
                owner_tid: owner,
                pin: false.into(),
                by_idle: false.into(),
            }),
        );
    }

    /// An io_uring process registering 64 pages of fixed buffers mapped
    /// from a file on pmem0: FOLL_LONGTERM on FS-DAX, refused, twice (it
    /// retries).
    pub(super) fn refused_uring_buffers(&mut self, after_us: u64) {
        for _ in 0..2 {
            self.at(
                after_us,
                640,
                "uring_fixed",
                idx::PIN_USER_PAGES,
                EventBody::RefusedPin(RefusedPin {
                    start: 0x7f3a_4000_0000,
                    nr_pages: 64,
                    // FOLL_WRITE | FOLL_LONGTERM | FOLL_PIN on 6.1.
                    gup_flags: 0x0005_0001,
                    ret: -95,
                    stack: STACK_URING_REGISTER,
                    pin: true.into(),
                    // Named by the kernel at the refusal (device, inode,
                    // dentry names), joined with pmem0's mount point.
                    path: URING_BUFFER_PATH.into(),
                    dev: Dev::new(259, 0),
                    path_from: path_from::MOUNTED,
                    ino: URING_BUFFER_INO,
                }),
            );
        }
    }

    /// A truncate (tid 530) waits for a page a fio read (tid 560) holds;
    /// the read ends, the page goes idle, the wakeup is lost and a second
    /// later the scanner reports the waiter stuck.
    pub(super) fn lost_wakeup_behind_a_read(&mut self) {
        let pfn = PFN_START + 0x9a0;
        self.at(
            5_000,
            530,
            "truncate",
            24,
            EventBody::WaitBegin(WaitBegin {
                inode: 0xffff_8880_0c00_9000,
                ino: 40,
                dev: PMEM0,
                api: WaitApi::Ext4BreakLayouts.into(),
                ..Default::default()
            }),
        );
        let wait_begin_ns = self.ts_ns;
        self.at(
            5,
            530,
            "truncate",
            22,
            EventBody::BusyPage(BusyPage {
                mapping: 0xffff_8880_0c00_9200,
                page: page_of(pfn),
                pfn,
                ino: 40,
                dev: PMEM0,
                pgmap: PGMAP,
                refcount: 2,
                index: Some(0).into(),
                ..Default::default()
            }),
        );
        self.pin_owner(560, "fio", pfn, 2_000, STACK_EXT4_DIO);
        self.at(
            3_000,
            560,
            "fio",
            19,
            EventBody::PageIdle(PageIdle {
                pgmap: PGMAP,
                pfn,
                page: page_of(pfn),
                refcount: 1,
            }),
        );
        self.at(
            1_000_000,
            0,
            "swapper/0",
            38,
            EventBody::StuckWait(StuckWait {
                page: page_of(pfn),
                pfn,
                refcount: 1,
                wait_begin_ns,
                ino: 40,
                dev: PMEM0,
                waiter_tid: 530,
                pgmap: PGMAP,
            }),
        );
    }
}
