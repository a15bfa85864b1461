//! The birth of a `dev_pagemap` (memremap_pages): its type and range.
use dax_trace_common::field::MemoryKindCode;
use dax_trace_common::memory::{MemoryKind, MemoryTypes};
use dax_trace_common::{DiskName, Flag, payload::PagemapCreate};

use crate::conf;
use crate::emit::submit;
use crate::pins;
use crate::read::at;

#[inline(always)]
pub(super) fn pagemap_create(point: u16, pgmap: u64, ret: u64) {
    let ty: u32 = at::<u32>(pgmap, conf!(pgmap_type_off));
    let start: u64 = at::<u64>(pgmap, conf!(pgmap_range_off));
    let end: u64 = at::<u64>(pgmap, conf!(pgmap_range_off) + 8);
    let has_nr: u32 = conf!(pgmap_has_nr_range);
    let has_owner: u32 = conf!(pgmap_has_owner);
    let fsdax: u32 = conf!(fsdax_type);
    let types = MemoryTypes {
        fsdax,
        generic: conf!(generic_type),
        private: conf!(private_type),
        coherent: conf!(coherent_type),
        p2pdma: conf!(p2pdma_type),
    };
    pins::pagemap_known(
        point,
        pgmap,
        start >> 12,
        (end + 1) >> 12,
        ty == fsdax && ret < (-4095i64) as u64,
    );
    submit(
        point,
        PagemapCreate {
            pgmap,
            memory_type: ty,
            fs_dax: Flag::new(ty == fsdax),
            pfn_start: start >> 12,
            pfn_end: (end + 1) >> 12,
            nr_range: if has_nr != 0 {
                at::<i32>(pgmap, conf!(pgmap_nr_range_off)) as u32
            } else {
                1
            },
            _pad: 0,
            owner: if has_owner != 0 {
                at::<u64>(pgmap, conf!(pgmap_owner_off))
            } else {
                0
            },
            // memremap_pages returns the mapped address or an ERR_PTR.
            ret: if ret >= (-4095i64) as u64 {
                ret as i64
            } else {
                0
            },
            kind: MemoryKindCode::new(MemoryKind::classify(ty, &types)),
            _pad2: 0,
            device: DiskName::EMPTY,
            driver: DiskName::EMPTY,
        },
    );
}
