//! The census of busy pages: every struct page of every FS-DAX pagemap is
//! read (in chunks of `KREAD_CHUNK` bytes, one reader run each) and a page
//! referenced beyond the kernel's idle rule is reported with its file. It
//! never stalls anything: the kernel only copies memory, and the census
//! stops at its time budget, reporting how far it got.
use std::time::{Duration, Instant};

use dax_trace_common::Config;
use dax_trace_common::kread::KREAD_CHUNK;

use super::kmem::{KernelMemory, KmemError};
use super::page::{PageFile, PageSpace, page_file};
use super::pagemap::PagemapFound;
use crate::resolve::state_layout::PageLayout;

/// Most busy pages listed (the rest are only counted).
pub const MAX_LISTED: usize = 4096;

/// One busy page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyPage {
    pub pgmap: u64,
    pub page: u64,
    pub pfn: u64,
    pub refcount: u64,
    pub mapcount: i64,
    pub file: PageFile,
}

/// What a census found and how far it got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    pub listed: Vec<BusyPage>,
    pub busy: u64,
    pub scanned: u64,
    pub total: u64,
    pub elapsed: Duration,
}

fn i32_in(b: &[u8], at: usize) -> i32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i32::from_le_bytes)
}

fn u64_in(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Counts the references that page-table mappings explain: none before
/// 6.15 (idle rule 1: mappings take no reference), the mapcount from 6.15.
fn mapped_refs(idle_refcount: u32, mapcount: i64) -> i64 {
    if idle_refcount == 0 {
        mapcount.max(0)
    } else {
        0
    }
}

/// Runs the census over the FS-DAX pagemaps, within `budget`.
pub fn run(
    mem: &dyn KernelMemory,
    c: &Config,
    p: &PageLayout,
    space: &PageSpace,
    pagemaps: &[PagemapFound],
    budget: Duration,
) -> Result<Census, KmemError> {
    let started = Instant::now();
    let ps = space.page_size as usize;
    let per_chunk = (KREAD_CHUNK / ps).max(1) as u64;
    let mut out = Census::default();
    let ranges: Vec<(u64, u64, u64)> = pagemaps
        .iter()
        .filter(|m| m.fs_dax)
        .flat_map(|m| m.ranges.iter().map(move |(s, e)| (m.pgmap, *s, *e)))
        .collect();
    out.total = ranges.iter().map(|(_, s, e)| e - s).sum();
    let mut buf = vec![0u8; per_chunk as usize * ps];
    'ranges: for (pgmap, start, end) in ranges {
        let mut pfn = start;
        while pfn < end {
            if started.elapsed() >= budget {
                break 'ranges;
            }
            let n = per_chunk.min(end - pfn);
            let bytes = &mut buf[..n as usize * ps];
            mem.read(space.page_of(pfn), bytes)?;
            for i in 0..n as usize {
                let at = i * ps;
                if u64_in(bytes, at + p.compound_head as usize) & 1 == 1 {
                    continue; // a tail page: its folio's head holds the count
                }
                let refcount = i32_in(bytes, at + c.page_refcount_off as usize) as i64;
                let next_is_tail = i + 1 < n as usize
                    && u64_in(bytes, at + ps + p.compound_head as usize) & 1 == 1;
                let mapcount = match (next_is_tail, p.large_mapcount) {
                    (true, Some(off)) => {
                        mem.i32_at(space.page_of(pfn + i as u64) + off as u64)? as i64 + 1
                    }
                    _ => i32_in(bytes, at + p.mapcount as usize) as i64 + 1,
                };
                let idle = c.idle_refcount as i64;
                if refcount - mapped_refs(c.idle_refcount, mapcount) > idle {
                    out.busy += 1;
                    if out.listed.len() < MAX_LISTED {
                        let page = space.page_of(pfn + i as u64);
                        out.listed.push(BusyPage {
                            pgmap,
                            page,
                            pfn: pfn + i as u64,
                            refcount: refcount as u64,
                            mapcount,
                            file: page_file(mem, page, c)?,
                        });
                    }
                }
            }
            out.scanned += n;
            pfn += n;
        }
    }
    out.elapsed = started.elapsed();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::kmem::FakeMemory;

    fn config(idle: u32) -> Config {
        let mut c = Config::zeroed();
        c.page_size = 64;
        c.page_refcount_off = 52;
        c.page_mapping_off = 24;
        c.page_index_off = 32;
        c.mapping_host_off = 0;
        c.inode_ino_off = 0x40;
        c.inode_sb_off = 0x28;
        c.sb_dev_off = 0x10;
        c.idle_refcount = idle;
        c
    }

    const P: PageLayout = PageLayout {
        mapcount: 48,
        compound_head: 8,
        large_mapcount: None,
    };

    fn setup(pages: u64) -> (FakeMemory, PageSpace, Vec<PagemapFound>) {
        let space = PageSpace {
            vmemmap: 0xffff_ea00_0000_0000,
            page_size: 64,
        };
        let mut m = FakeMemory::default();
        m.put(space.page_of(0x40000), vec![0; (pages * 64) as usize]);
        let maps = vec![PagemapFound {
            pgmap: 0x1,
            memory_type: 3,
            fs_dax: true,
            ranges: vec![(0x40000, 0x40000 + pages)],
            owner: 0,
        }];
        (m, space, maps)
    }

    #[test]
    fn before_6_15_a_page_above_refcount_one_is_busy_and_named_by_its_file() {
        let (mut m, space, maps) = setup(1000);
        for i in 0..1000u64 {
            m.poke_u32(space.page_of(0x40000 + i) + 52, 1);
        }
        let busy = space.page_of(0x40000 + 700);
        m.poke_u32(busy + 52, 2);
        // Its file: mapping -> inode 12 on dev 259:0, index 5.
        m.poke_u64(busy + 24, 0x7000);
        m.poke_u64(busy + 32, 5);
        m.put(0x7000, vec![0; 8]);
        m.poke_u64(0x7000, 0x8000);
        m.put(0x8000, vec![0; 0x80]);
        m.poke_u64(0x8040, 12);
        m.poke_u64(0x8028, 0x9000);
        m.put(0x9000, vec![0; 0x20]);
        m.poke_u32(0x9010, 259 << 20);
        let c = config(1);
        let got = run(&m, &c, &P, &space, &maps, Duration::from_secs(60)).expect("census");
        assert_eq!((got.scanned, got.total, got.busy), (1000, 1000, 1));
        let b = &got.listed[0];
        assert_eq!((b.pfn, b.refcount), (0x40000 + 700, 2));
        assert_eq!((b.file.ino, b.file.index), (12, Some(5)));
        assert_eq!(b.file.dev, crate::event::Dev::new(259, 0));
    }

    #[test]
    fn from_6_15_mapped_pages_are_not_busy_but_pinned_ones_are() {
        let (mut m, space, maps) = setup(4);
        // Page 0: idle (0). Page 1: mapped once (ref 1, _mapcount 0).
        // Page 2: mapped once and pinned (ref 2). Page 3: a tail page.
        m.poke_u32(space.page_of(0x40001) + 52, 1);
        m.poke_u32(space.page_of(0x40002) + 52, 2);
        m.poke_u32(space.page_of(0x40000) + 48, u32::MAX);
        m.poke_u32(space.page_of(0x40001) + 48, 0);
        m.poke_u32(space.page_of(0x40002) + 48, 0);
        m.poke_u64(space.page_of(0x40003) + 8, space.page_of(0x40002) | 1);
        m.poke_u32(space.page_of(0x40003) + 52, 9);
        let got = run(&m, &config(0), &P, &space, &maps, Duration::from_secs(60)).expect("census");
        assert_eq!(got.busy, 1, "{:?}", got.listed);
        assert_eq!(got.listed[0].pfn, 0x40002);
    }

    #[test]
    fn a_zero_budget_scans_nothing_and_says_so() {
        let (m, space, maps) = setup(10);
        let got = run(&m, &config(1), &P, &space, &maps, Duration::ZERO).expect("census");
        assert_eq!((got.scanned, got.total), (0, 10));
    }
}
