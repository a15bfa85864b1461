//! Synthetic event streams shaped like what the probes report on Debian 6.1
//! with a 512 MiB pmem0 (`memmap=512M!1G`): for tests, golden files, the
//! shipped sample (`samples/`) and the replay benchmark. Deterministic: the
//! same call always gives the same events.
//!
//! The scenario starts on a machine already in use: the trace begins with
//! the state at start (`state.rs`: pmem0 with xfs mounted since before the
//! trace, ext4 on a dm-linear over pmem1, pinned pages and a truncate already
//! waiting). The waiting truncate gets through, xfs is unmounted (the release
//! of a claim held since before the trace), then the sequence seen in the VM:
//! ext4 is mounted (a claim), pages fault in, an O_DIRECT read pins a page
//! while a truncate waits for it (busy page, wait begin, page idle, wait
//! end), and the filesystem is unmounted (a release); then the same on xfs,
//! ending with a lost wakeup (a stuck wait) as on 6.1. ext4 on dm-0 stays
//! mounted throughout.
//!
//! Who pinned the pages (`pins.rs`): each O_DIRECT reader is reported as the
//! owner of the page its truncate waits for, with its kernel stack (the
//! direct-I/O path through ext4 or xfs, module frames named); on ext4 its
//! reference is put before the page goes idle, on xfs the idle page closes
//! it. The last truncate waits for a page a `fio` read held: the read ends,
//! the page goes idle, the wakeup is lost, and the stuck wait names fio. An
//! io_uring process has its fixed buffers on a pmem0 file refused as
//! long-term pins (twice).
mod pins;
mod state;

use crate::event::{
    BusyPage, Claim, Drops, Fault, PageIdle, PutStats, Release, WaitBegin, WaitEnd,
};
use dax_trace_common::probe::POINTS;
pub use pins::{STACK_EXT4_DIO, STACK_URING_REGISTER, STACK_XFS_DIO, URING_BUFFER_PATH, stacks};
pub use state::{DAX_DEV1, DAX_DM, DM0, PGMAP1, PMEM_BYTES, PMEM1};

use crate::event::{ClaimApi, Dev, Event, EventBody, USERSPACE_POINT, WaitApi};
use crate::session::probe_report::{
    AttachKind, FamilyReport, PointReport, PointStatus, ProbeReport,
};
use crate::session::{SessionInfo, SourceKind};

/// Kernel release the synthetic session claims.
pub const KERNEL_RELEASE: &str = "6.1.0-synthetic-amd64";
/// `/dev/pmem0`.
pub const PMEM0: Dev = Dev::new(259, 0);
/// The pmem0 `dev_pagemap`.
pub const PGMAP: u64 = 0xffff_8880_0420_0000;
/// The pmem0 `dax_device`.
pub const DAX_DEV: u64 = 0xffff_8880_0431_0000;
/// First pfn of pmem0 (1 GiB) and its end (1.5 GiB).
pub const PFN_START: u64 = 0x40000;
pub const PFN_END: u64 = 0x60000;
/// The ext4 and xfs superblocks used as holders.
pub const EXT4_SB: u64 = 0xffff_8880_0a10_0000;
pub const XFS_MP: u64 = 0xffff_8880_0b20_0000;

/// A session as live capture would report it on the synthetic kernel.
pub fn session() -> SessionInfo {
    let attached = |point: u16, kind: AttachKind| PointReport {
        point,
        target: POINTS[point as usize].target.to_string(),
        module: None,
        status: PointStatus::Attached {
            kind,
            fallback_from: None,
        },
    };
    let family = |name: &str, points: Vec<PointReport>| FamilyReport {
        family: name.to_string(),
        points,
    };
    SessionInfo {
        source: SourceKind::Live,
        kernel_release: KERNEL_RELEASE.to_string(),
        probes: ProbeReport {
            kernel_release: KERNEL_RELEASE.to_string(),
            problems: Vec::new(),
            state: Vec::new(),
            families: vec![
                family("pagemap-lifetime", vec![attached(0, AttachKind::Fentry)]),
                family("claim", vec![attached(3, AttachKind::Fentry)]),
                family("release", vec![attached(9, AttachKind::Fentry)]),
                family("layout-wait", vec![attached(24, AttachKind::Kprobe)]),
                family("fault", vec![attached(33, AttachKind::Tracepoint)]),
            ],
            offsets: vec![
                ("dev_pagemap.type".to_string(), 20),
                ("page.pgmap".to_string(), 8),
                ("task_struct.pid".to_string(), 2416),
            ],
            limits: vec![("pinned pages with owners kept".to_string(), 131_072)],
        },
        monotonic_to_realtime_ns: 1_764_000_000_000_000_000,
    }
}

/// Builds events with increasing timestamps.
struct Script {
    ts_ns: u64,
    events: Vec<Event>,
}

impl Script {
    fn at(&mut self, after_us: u64, pid: u32, comm: &str, point: u16, body: EventBody) {
        self.ts_ns += after_us * 1_000;
        self.events.push(Event {
            ts_ns: self.ts_ns,
            cpu: pid % 2,
            pid,
            tid: pid,
            comm: comm.into(),
            point,
            body,
        });
    }

    fn stats(&mut self, puts: u64, idles: u64) {
        self.at(
            0,
            999,
            "daxtrace",
            USERSPACE_POINT,
            EventBody::PutStats(PutStats {
                pgmap: PGMAP,
                puts,
                idles,
            }),
        );
    }

    /// mount, faults, DMA vs truncate, umount: one filesystem's cycle.
    fn mount_cycle(&mut self, fs: Fs, base_pid: u32) {
        let (holder, wait_api, wait_point, fstype, stack) = match fs {
            Fs::Ext4 => (
                EXT4_SB,
                WaitApi::Ext4BreakLayouts,
                24,
                "ext4",
                STACK_EXT4_DIO,
            ),
            Fs::Xfs => (XFS_MP, WaitApi::XfsBreakLayouts, 25, "xfs", STACK_XFS_DIO),
        };
        self.at(
            20_000,
            base_pid,
            "mount",
            3,
            EventBody::Claim(Claim {
                dax_dev: DAX_DEV,
                holder,
                holder_ops: 0xffff_ffff_8200_0000,
                bdev: PMEM0,
                disk: "pmem0".into(),
                granted: true.into(),
                api: ClaimApi::FsDaxGetByBdev.into(),
                start_off: 0,
                ..Default::default()
            }),
        );
        self.mount_update(fstype, "/mnt/pmem0", true);
        let ino = 12 + u64::from(base_pid % 7);
        for i in 0..4u64 {
            self.at(
                150,
                base_pid + 1,
                "dma-truncate",
                33,
                EventBody::Fault(Fault {
                    dev: PMEM0,
                    ino,
                    address: 0x7f00_0000_0000 + i * 4096,
                    pgoff: i,
                    result: 0x100,
                    pmd: false.into(),
                    ..Default::default()
                }),
            );
        }
        let pfn = PFN_START + 0x812;
        let inode = 0xffff_8880_0c00_0000 + ino * 0x400;
        self.at(
            300,
            base_pid + 2,
            "truncate",
            wait_point,
            EventBody::WaitBegin(WaitBegin {
                inode,
                ino,
                dev: PMEM0,
                api: wait_api.into(),
                ..Default::default()
            }),
        );
        self.at(
            5,
            base_pid + 2,
            "truncate",
            22,
            EventBody::BusyPage(BusyPage {
                mapping: inode + 0x200,
                page: 0xffff_ea00_0100_0000 + (pfn - PFN_START) * 64,
                pfn,
                ino,
                dev: PMEM0,
                pgmap: PGMAP,
                refcount: 3,
                index: Some(3).into(),
                ..Default::default()
            }),
        );
        // The O_DIRECT reader holding it since before the truncate began.
        self.pin_owner(base_pid + 1, "dma-truncate", pfn, 900, stack);
        let pinned_ns = self.ts_ns - 900_000;
        self.stats(40, 2);
        let idle_after_us = match fs {
            // The read completes: its reference is put, then the page is idle.
            Fs::Ext4 => {
                self.pin_release(4_150, pfn, base_pid + 1, pinned_ns);
                50
            }
            // Here the idle page closes it.
            Fs::Xfs => 4_200,
        };
        self.at(
            idle_after_us,
            base_pid + 1,
            "dma-truncate",
            19,
            EventBody::PageIdle(PageIdle {
                pgmap: PGMAP,
                pfn,
                page: 0xffff_ea00_0100_0000 + (pfn - PFN_START) * 64,
                refcount: 1,
            }),
        );
        self.at(
            60,
            base_pid + 2,
            "truncate",
            wait_point,
            EventBody::WaitEnd(WaitEnd {
                inode,
                ino,
                dev: PMEM0,
                api: wait_api.into(),
                latency_ns: 4_265_000,
                ret: 0,
                busy_pfn: Some(pfn).into(),
                busy_hits: 1,
            }),
        );
        self.umount(30_000, base_pid + 3, holder);
        self.mount_update(fstype, "/mnt/pmem0", false);
    }

    /// `fs_put_dax` of pmem0 by `holder`.
    fn umount(&mut self, after_us: u64, pid: u32, holder: u64) {
        self.at(
            after_us,
            pid,
            "umount",
            9,
            EventBody::Release(Release {
                dax_dev: DAX_DEV,
                holder,
                api: ClaimApi::FsPutDax.into(),
                holder_before: holder,
                ..Default::default()
            }),
        );
    }
}

#[derive(Clone, Copy)]
enum Fs {
    Ext4,
    Xfs,
}

/// The sample scenario: the state at start, the wait found at attach ends,
/// the xfs mounted before the trace is unmounted, an ext4 and an xfs mount
/// cycle with DMA vs truncate, a lost wakeup on the last wait, and one drop
/// report.
pub fn scenario() -> Vec<Event> {
    let mut s = Script {
        ts_ns: 5_000_000_000,
        events: Vec::new(),
    };
    s.state_at_start();
    // The truncate found waiting gets through, and the xfs mounted before
    // the trace is unmounted: the release of a claim held since before it.
    s.attach_wait_ends(2_000);
    s.umount(8_000, 300, XFS_MP);
    s.mount_update("xfs", "/mnt/xfs", false);
    s.mount_cycle(Fs::Ext4, 310);
    s.refused_uring_buffers(3_000);
    s.stats(96, 4);
    s.mount_cycle(Fs::Xfs, 420);
    // A last truncate that sleeps on a page nobody will wake it for.
    s.lost_wakeup_behind_a_read();
    s.at(
        0,
        999,
        "daxtrace",
        USERSPACE_POINT,
        EventBody::Drops(Drops {
            point: 33,
            total: 2,
            ..Default::default()
        }),
    );
    s.events
}

/// `n` events of a busy page storm (faults, busy pages, idles, periodic
/// stats) for throughput benchmarks: cheap to make, realistic to decode.
pub fn page_storm(n: u64) -> impl Iterator<Item = Event> {
    (0..n).map(|i| {
        let pfn = PFN_START + (i * 7919) % (PFN_END - PFN_START);
        let body = match i % 64 {
            0 => EventBody::PutStats(PutStats {
                pgmap: PGMAP,
                puts: i * 3,
                idles: i,
            }),
            k if k % 3 == 0 => EventBody::BusyPage(BusyPage {
                mapping: 0xffff_8880_0c00_0200,
                page: 0xffff_ea00_0100_0000 + (pfn - PFN_START) * 64,
                pfn,
                ino: 12,
                dev: PMEM0,
                pgmap: PGMAP,
                refcount: 2,
                index: Some(i % 4096).into(),
                ..Default::default()
            }),
            k if k % 3 == 1 => EventBody::PageIdle(PageIdle {
                pgmap: PGMAP,
                pfn,
                page: 0xffff_ea00_0100_0000 + (pfn - PFN_START) * 64,
                refcount: 1,
            }),
            _ => EventBody::Fault(Fault {
                dev: PMEM0,
                ino: 12,
                address: 0x7f00_0000_0000 + (i % 4096) * 4096,
                pgoff: i % 4096,
                result: 0x100,
                pmd: false.into(),
                ..Default::default()
            }),
        };
        Event {
            ts_ns: 1_000_000_000 + i * 200,
            cpu: (i % 2) as u32,
            pid: 4000 + (i % 4) as u32,
            tid: 4000 + (i % 4) as u32,
            comm: "fio".into(),
            point: 33,
            body,
        }
    })
}

/// Where the shipped sample lives, relative to the repository root, and the
/// command that regenerates it.
pub const SAMPLE_PATH: &str = "samples/synthetic-6.1.dxt";
pub const SAMPLE_COMMAND: &str = "cargo run -p dax-trace --example synthetic_sample";

/// The complete bytes of the shipped sample trace: [`scenario`] recorded
/// with a fixed header and end time, so regenerating gives the same file.
pub fn sample_trace() -> Result<Vec<u8>, crate::trace::TraceError> {
    let session = session();
    let events = scenario();
    let boot_to_unix = |ts_ns: u64| (i128::from(ts_ns) + session.monotonic_to_realtime_ns) as i64;
    let started = boot_to_unix(events.first().map_or(0, |e| e.ts_ns) - 1_000_000);
    let ended = boot_to_unix(events.last().map_or(0, |e| e.ts_ns) + 1_000_000);
    let header = crate::trace::Header {
        command_line: SAMPLE_COMMAND.split(' ').map(str::to_string).collect(),
        started_unix_ns: started,
        ..crate::trace::Header::new(session, Vec::new())
    };
    let mut w = crate::trace::Writer::new(Vec::new(), &header)?;
    // Stack records go before the first event naming them.
    for stack in stacks() {
        w.write_stack(&stack)?;
    }
    for e in &events {
        w.write_event(e)?;
    }
    Ok(w.finish_at("duration", ended)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_is_deterministic_and_ordered() {
        let a = scenario();
        assert_eq!(a, scenario());
        assert!(a.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        let claims = a
            .iter()
            .filter(|e| matches!(e.body, EventBody::Claim(_)))
            .count();
        let releases = a
            .iter()
            .filter(|e| matches!(e.body, EventBody::Release(_)))
            .count();
        // The first release is of the claim held since before the trace.
        assert_eq!((claims, releases), (2, 3));
        assert!(matches!(a[0].body, EventBody::StatePagemap(_)));
    }
}
