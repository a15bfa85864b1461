//! The dev_pagemaps that exist: `pgmap_array` maps every pfn of every
//! ZONE_DEVICE range to its `dev_pagemap` (mm/memremap.c), so its distinct
//! pointers are all the pagemaps. Layouts come from the probes' `Config`.
use std::collections::BTreeSet;

use dax_trace_common::Config;

use super::kmem::{KernelMemory, KmemError};
use super::xarray::{self, XarrayError};
use crate::resolve::state_layout::XarrayLayout;

/// Most ranges read per pagemap.
const MAX_RANGES: u32 = 16;
/// Most xarray nodes visited: one per 64 pfns when multi-index entries are off.
const MAX_NODES: usize = 1 << 20;

/// One dev_pagemap as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagemapFound {
    pub pgmap: u64,
    pub memory_type: u32,
    pub fs_dax: bool,
    /// Pfn ranges, end exclusive.
    pub ranges: Vec<(u64, u64)>,
    pub owner: u64,
}

impl PagemapFound {
    pub fn pages(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e.saturating_sub(*s)).sum()
    }
}

/// Every pagemap in `pgmap_array` at `array`.
pub fn read_all(
    mem: &dyn KernelMemory,
    xa: &XarrayLayout,
    array: u64,
    config: &Config,
) -> Result<Vec<PagemapFound>, XarrayError> {
    let pointers: BTreeSet<u64> = xarray::pointers(mem, xa, array, MAX_NODES)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut out = Vec::new();
    for pgmap in pointers {
        out.push(read_one(mem, pgmap, config)?);
    }
    Ok(out)
}

fn read_one(mem: &dyn KernelMemory, pgmap: u64, c: &Config) -> Result<PagemapFound, KmemError> {
    let memory_type = mem.u32_at(pgmap + c.pgmap_type_off as u64)?;
    let nr_range = if c.pgmap_has_nr_range != 0 {
        mem.u32_at(pgmap + c.pgmap_nr_range_off as u64)?
            .clamp(1, MAX_RANGES)
    } else {
        1
    };
    let mut ranges = Vec::new();
    for i in 0..nr_range as u64 {
        let at = pgmap + c.pgmap_range_off as u64 + i * 16;
        let (start, end) = (mem.u64_at(at)?, mem.u64_at(at + 8)?);
        // struct range: physical bytes, end inclusive.
        if end > start {
            ranges.push((start >> 12, (end + 1) >> 12));
        }
    }
    let owner = if c.pgmap_has_owner != 0 {
        mem.u64_at(pgmap + c.pgmap_owner_off as u64)?
    } else {
        0
    };
    Ok(PagemapFound {
        pgmap,
        memory_type,
        fs_dax: memory_type == c.fsdax_type,
        ranges,
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::kmem::FakeMemory;

    #[test]
    fn pagemaps_are_read_once_each_with_pfn_ranges() {
        let xa = XarrayLayout {
            xa_head: 8,
            node_shift: 0,
            node_slots: 40,
        };
        let mut c = Config::zeroed();
        c.pgmap_type_off = 0x60;
        c.pgmap_range_off = 0x88;
        c.pgmap_nr_range_off = 0x80;
        c.pgmap_has_nr_range = 1;
        c.fsdax_type = 3;
        let mut m = FakeMemory::default();
        m.put(0x1000, vec![0; 16]);
        // A leaf node: the same pagemap in two slots (a multi-pfn range).
        m.poke_u64(0x1008, 0x2000 + 2);
        let mut node = vec![0u8; 40 + 512];
        for slot in [0usize, 1] {
            node[40 + slot * 8..48 + slot * 8].copy_from_slice(&0x8000u64.to_le_bytes());
        }
        m.put(0x2000, node);
        m.put(0x8000, vec![0; 0x100]);
        m.poke_u32(0x8060, 3);
        m.poke_u32(0x8080, 1);
        m.poke_u64(0x8088, 0x4000_0000);
        m.poke_u64(0x8090, 0x5fff_ffff);
        let found = read_all(&m, &xa, 0x1000, &c).expect("read");
        assert_eq!(found.len(), 1);
        assert!(found[0].fs_dax);
        assert_eq!(found[0].ranges, vec![(0x40000, 0x60000)]);
        assert_eq!(found[0].pages(), 0x20000);
    }
}
