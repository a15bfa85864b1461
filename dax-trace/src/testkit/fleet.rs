//! A synthetic fleet of pmem devices, each with an fs-DAX pagemap, a mounted
//! filesystem, pinned pages, truncate waits and faults: the events behind the
//! dashboard's snapshot tests and its refresh benchmark. Deterministic.
use crate::event::{
    BusyPage, Claim, DaxAddHost, DaxAlloc, Fault, PagemapCreate, WaitBegin, WaitEnd,
};
use crate::event::{ClaimApi, Dev, Event, EventBody, WaitApi};

/// pfns per device (256 MiB of 4 KiB pages).
const PFNS_PER_DEVICE: u64 = 0x10000;

/// The shape of the fleet.
#[derive(Clone, Copy, Debug)]
pub struct Fleet {
    pub devices: u32,
    /// Busy pages of device `i` is `busy_pages * (i + 1) / devices`, so
    /// devices differ and sorting shows. They are pinned after the waits
    /// ended, so they are still busy at the end.
    pub busy_pages: u64,
    /// Finished waits per device (latencies spread from 0.5 ms upward).
    pub waits: u64,
    pub faults: u64,
}

pub fn pgmap(i: u32) -> u64 {
    0xffff_8880_1000_0000 + u64::from(i) * 0x10_0000
}

pub fn dax_dev(i: u32) -> u64 {
    0xffff_8880_2000_0000 + u64::from(i) * 0x1000
}

pub fn bdev(i: u32) -> Dev {
    Dev::new(259, i)
}

impl Fleet {
    /// Events in time order, starting 100 s after boot.
    pub fn events(&self) -> Vec<Event> {
        let mut s = Stream {
            ts_ns: 100_000_000_000,
            events: Vec::new(),
        };
        for i in 0..self.devices {
            self.bring_up(&mut s, i);
        }
        for i in 0..self.devices {
            self.load(&mut s, i);
        }
        s.events
    }

    fn bring_up(&self, s: &mut Stream, i: u32) {
        let pfn_start = 0x100000 + u64::from(i) * PFNS_PER_DEVICE;
        let disk = format!("pmem{i}");
        s.push(
            1_000,
            200,
            "modprobe",
            EventBody::PagemapCreate(PagemapCreate {
                pgmap: pgmap(i),
                memory_type: 3,
                fs_dax: true.into(),
                pfn_start,
                pfn_end: pfn_start + PFNS_PER_DEVICE,
                nr_range: 1,
                owner: 0,
                ret: 0,
                ..Default::default()
            }),
        );
        s.push(
            10,
            200,
            "modprobe",
            EventBody::DaxAlloc(DaxAlloc {
                dax_dev: dax_dev(i),
                private: 0,
            }),
        );
        s.push(
            10,
            200,
            "modprobe",
            EventBody::DaxAddHost(DaxAddHost {
                dax_dev: dax_dev(i),
                disk: disk.as_str().into(),
            }),
        );
        s.push(
            5_000,
            300 + i,
            "mount",
            EventBody::Claim(Claim {
                dax_dev: dax_dev(i),
                holder: 0xffff_8880_3000_0000 + u64::from(i) * 0x1000,
                holder_ops: 0xffff_ffff_8200_0000,
                bdev: bdev(i),
                disk: disk.as_str().into(),
                granted: true.into(),
                api: ClaimApi::FsDaxGetByBdev.into(),
                start_off: 0,
                ..Default::default()
            }),
        );
    }

    fn load(&self, s: &mut Stream, i: u32) {
        let pfn_start = 0x100000 + u64::from(i) * PFNS_PER_DEVICE;
        let pid = 1000 + i;
        for f in 0..self.faults {
            s.push(
                50,
                pid,
                "fio",
                EventBody::Fault(Fault {
                    dev: bdev(i),
                    ino: 12,
                    address: 0x7f00_0000_0000 + f * 4096,
                    pgoff: f,
                    result: 0x100,
                    pmd: (f % 8 == 0).into(),
                    ..Default::default()
                }),
            );
        }
        for w in 0..self.waits {
            let inode = 0xffff_8880_5000_0000 + u64::from(i) * 0x1000;
            s.push(
                100,
                2000 + i,
                "truncate",
                EventBody::WaitBegin(WaitBegin {
                    inode,
                    ino: 12,
                    dev: bdev(i),
                    api: WaitApi::Ext4BreakLayouts.into(),
                    ..Default::default()
                }),
            );
            let latency_ns = 500_000 * (w + 1) * u64::from(i + 1);
            s.push(
                latency_ns / 1_000,
                2000 + i,
                "truncate",
                EventBody::WaitEnd(WaitEnd {
                    inode,
                    ino: 12,
                    dev: bdev(i),
                    api: WaitApi::Ext4BreakLayouts.into(),
                    latency_ns,
                    ret: 0,
                    busy_pfn: Some(pfn_start).into(),
                    busy_hits: 1,
                }),
            );
        }
        let busy = self.busy_pages * u64::from(i + 1) / u64::from(self.devices.max(1));
        for p in 0..busy {
            let pfn = pfn_start + p;
            s.push(
                20,
                2000 + i,
                "truncate",
                EventBody::BusyPage(BusyPage {
                    mapping: 0xffff_8880_4000_0000 + u64::from(i) * 0x1000,
                    page: 0xffff_ea00_0000_0000 + pfn * 64,
                    pfn,
                    ino: 12 + p % 3,
                    dev: bdev(i),
                    pgmap: pgmap(i),
                    refcount: 2,
                    index: Some(p).into(),
                    ..Default::default()
                }),
            );
        }
    }
}

struct Stream {
    ts_ns: u64,
    events: Vec<Event>,
}

impl Stream {
    fn push(&mut self, after_us: u64, pid: u32, comm: &str, body: EventBody) {
        self.ts_ns += after_us * 1_000;
        self.events.push(Event {
            ts_ns: self.ts_ns,
            cpu: 0,
            pid,
            tid: pid,
            comm: comm.into(),
            point: 0,
            body,
        });
    }
}
