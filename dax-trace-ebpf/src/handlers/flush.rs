//! virtio-pmem flushes. `async_pmem_flush(nd_region, bio)` is the region's
//! flush callback: its bio names the disk, kept per region. The request to
//! the host is `virtio_pmem_flush(nd_region)`, which sleeps until the host
//! answers; it runs in the flusher (through a chained child bio, up to 6.1)
//! or in a flush worker (6.12+), and is what is timed.
use dax_trace_common::{Dev, payload::PmemFlush};

use crate::conf;
use crate::emit::{kept, now, submit};
use crate::maps::REGION_DISKS;
use crate::read::{at, bdev_dev};

/// `async_pmem_flush` entered: remember the region's disk.
#[inline(always)]
pub fn region_flushed(point: u16, region: u64, bio: u64) {
    if bio == 0 || conf!(bio_has_bdev) == 0 {
        return;
    }
    let bdev = at::<u64>(bio, conf!(bio_bdev_off));
    if bdev == 0 {
        return;
    }
    let dev = bdev_dev(bdev);
    if unsafe { REGION_DISKS.get(region) }.is_some_and(|d| *d == dev) {
        return;
    }
    kept(point, REGION_DISKS.insert(region, dev, 0));
}

/// The host request that entered at `start_ns` returned `ret`.
#[inline(always)]
pub fn flush_done(point: u16, region: u64, start_ns: u64, ret: u64) {
    let dev = unsafe { REGION_DISKS.get(region) }.copied().unwrap_or(0);
    submit(
        point,
        PmemFlush {
            region,
            latency_ns: now().saturating_sub(start_ns),
            dev: Dev(dev),
            ret: ret as u32 as i32,
        },
    );
}
