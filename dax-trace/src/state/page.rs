//! Struct pages of ZONE_DEVICE memory: where the page of a pfn lives
//! (`vmemmap_base + pfn * sizeof(struct page)`) and which file a page
//! belongs to (`page->mapping->host`: inode number, device, and the page's
//! index in the file). Offsets are the probes' `Config`.
use dax_trace_common::Config;

use super::kmem::{KernelMemory, KmemError};
use crate::event::Dev;

/// The struct page array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSpace {
    pub vmemmap: u64,
    pub page_size: u64,
}

impl PageSpace {
    /// Reads `vmemmap_base` (or takes the fixed base).
    pub fn read(mem: &dyn KernelMemory, c: &Config) -> Result<Self, KmemError> {
        let vmemmap = if c.vmemmap_base_sym != 0 {
            mem.u64_at(c.vmemmap_base_sym)?
        } else {
            c.vmemmap_start
        };
        Ok(Self {
            vmemmap,
            page_size: c.page_size.max(1),
        })
    }

    pub fn page_of(&self, pfn: u64) -> u64 {
        self.vmemmap.wrapping_add(pfn.wrapping_mul(self.page_size))
    }

    /// The pfn of the struct page holding `addr`, if it lies in `[start, end)` pfns.
    pub fn pfn_of(&self, addr: u64, start: u64, end: u64) -> Option<u64> {
        let lo = self.page_of(start);
        let hi = self.page_of(end);
        (addr >= lo && addr < hi).then(|| start + (addr - lo) / self.page_size)
    }
}

/// The file a page belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFile {
    pub mapping: u64,
    pub ino: u64,
    pub dev: Dev,
    pub index: Option<u64>,
}

/// `page->mapping` and friends; a mapping with low bits set (anonymous,
/// movable, or the shared-page marker 0x1) or none gives no file.
pub fn page_file(mem: &dyn KernelMemory, page: u64, c: &Config) -> Result<PageFile, KmemError> {
    let mapping = mem.u64_at(page + c.page_mapping_off as u64)?;
    if mapping == 0 || mapping & 3 != 0 {
        return Ok(PageFile::default());
    }
    let host = mem.u64_at(mapping + c.mapping_host_off as u64)?;
    if host == 0 {
        return Ok(PageFile {
            mapping,
            ..PageFile::default()
        });
    }
    let ino = mem.u64_at(host + c.inode_ino_off as u64)?;
    let sb = mem.u64_at(host + c.inode_sb_off as u64)?;
    let dev = if sb != 0 {
        Dev(mem.u32_at(sb + c.sb_dev_off as u64)?)
    } else {
        Dev(0)
    };
    let index = if c.page_index_off != 0 {
        Some(mem.u64_at(page + c.page_index_off as u64)?)
    } else {
        None
    };
    Ok(PageFile {
        mapping,
        ino,
        dev,
        index,
    })
}
