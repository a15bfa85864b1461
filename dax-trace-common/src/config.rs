//! Load-time configuration of the eBPF programs.
//!
//! Aya's Rust eBPF emits no CO-RE relocations, so every struct offset the
//! programs use is read from the running kernel's BTF by the loader and handed
//! over in [`Config`] (a read-only global, `CONFIG`). A zero `*_present` flag
//! means the field does not exist on this kernel and must not be read.

/// Slots in the table of pages that waiters sleep on (`WATCHED` map).
pub const MAX_WATCHED_PAGES: u32 = 64;
/// Slots in the table of orphaned pages not yet idle (`ORPHANS` map).
pub const MAX_ORPHANED_PAGES: u32 = 64;
/// Size of the per-point tables below; must be >= `probe::POINTS.len()`.
pub const MAX_POINTS: usize = 64;

/// [`Config::vma_walk`]: the VMA red-black tree (`mm_rb`, up to 6.0).
pub const VMA_WALK_RBTREE: u32 = 1;
/// [`Config::vma_walk`]: the VMA maple tree (`mm_mt`, 6.1+).
pub const VMA_WALK_MAPLE: u32 = 2;

/// Offsets and flags computed from BTF at load time.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    // struct page / struct folio (folio overlays page, so one set serves both)
    /// `sizeof(struct page)`.
    pub page_size: u64,
    /// Address of the kernel variable `vmemmap_base` (from kallsyms); the
    /// programs read its value to turn a `struct page *` into a pfn. 0 when the
    /// kernel has no such symbol and `vmemmap_start` below is the fixed base.
    pub vmemmap_base_sym: u64,
    /// Fixed vmemmap base for kernels without `vmemmap_base` (no KASLR of it).
    pub vmemmap_start: u64,
    /// Offset of `page.pgmap` (ZONE_DEVICE union, up to 6.14) or `folio.pgmap`
    /// (6.15+): the page's `struct dev_pagemap *`.
    pub page_pgmap_off: u32,
    /// Offset of `page._refcount` (or `folio._refcount`), an `atomic_t` read as i32.
    pub page_refcount_off: u32,
    /// Offset of `page.mapping` (or `folio.mapping`): the file's `address_space`;
    /// read by the userspace state readers only.
    pub page_mapping_off: u32,
    /// Offset of `page.index` (or `folio.index`, `page.__folio_index`): the page's
    /// offset in its file, in pages; 0 when not found (indexes are left unknown).
    pub page_index_off: u32,
    /// Refcount of an idle FS-DAX page: 1 before 6.15, 0 from 6.15.
    pub idle_refcount: u32,
    // struct dev_pagemap
    /// Offset of `dev_pagemap.type` (`enum memory_type`).
    pub pgmap_type_off: u32,
    /// Offset of `dev_pagemap.range.start` (5.10+) or `res.start` (older): the first
    /// byte of the first range; its inclusive end is the u64 right after it.
    pub pgmap_range_off: u32,
    /// Offset of `dev_pagemap.nr_range`; meaningful only when `pgmap_has_nr_range` is 1.
    pub pgmap_nr_range_off: u32,
    /// Offset of `dev_pagemap.owner`; meaningful only when `pgmap_has_owner` is 1.
    pub pgmap_owner_off: u32,
    /// 1 when BTF has `dev_pagemap.nr_range`; 0: one range is assumed.
    pub pgmap_has_nr_range: u32,
    /// 1 when BTF has `dev_pagemap.owner`; 0: owners are reported as 0.
    pub pgmap_has_owner: u32,
    /// Value of `MEMORY_DEVICE_FS_DAX` in this kernel's `enum memory_type` (BTF):
    /// a pagemap whose type equals it is FS-DAX.
    pub fsdax_type: u32,
    /// Value of `MEMORY_DEVICE_GENERIC` (device-dax under `device_dax`); 0 when absent.
    pub generic_type: u32,
    /// Value of `MEMORY_DEVICE_PRIVATE`; 0 when absent.
    pub private_type: u32,
    /// Value of `MEMORY_DEVICE_COHERENT` (6.1+); 0 when absent.
    pub coherent_type: u32,
    /// Value of `MEMORY_DEVICE_PCI_P2PDMA`; 0 when absent.
    pub p2pdma_type: u32,
    // struct dax_device
    /// Offset of `dax_device.holder_data`; meaningful only when `dax_has_holder` is 1.
    pub dax_holder_data_off: u32,
    /// 1 when BTF has `dax_device.holder_data` (kernels with dax holders);
    /// 0: holders are reported as 0.
    pub dax_has_holder: u32,
    // struct block_device / gendisk
    /// Offset of `block_device.bd_dev` (the `dev_t`).
    pub bdev_dev_off: u32,
    /// Offset of `block_device.bd_disk` (the `struct gendisk *`).
    pub bdev_disk_off: u32,
    /// Offset of `gendisk.disk_name` (`char[DISK_NAME_LEN]`).
    pub disk_name_off: u32,
    // struct inode / super_block / address_space
    /// Offset of `inode.i_ino` (the inode number).
    pub inode_ino_off: u32,
    /// Offset of `inode.i_sb` (the `struct super_block *`).
    pub inode_sb_off: u32,
    /// Offset of `super_block.s_dev` (the filesystem's `dev_t`).
    pub sb_dev_off: u32,
    /// Offset of `address_space.host` (the file's `struct inode *`).
    pub mapping_host_off: u32,
    // tracepoint record layouts (from tracefs format files)
    /// Offset of `dev` (u32) in the `fs_dax/dax_pte_fault_done` record (tracefs format).
    pub pte_fault_dev_off: u32,
    /// Offset of `ino` (u64) in the `fs_dax/dax_pte_fault_done` record (tracefs format).
    pub pte_fault_ino_off: u32,
    /// Offset of `address` (u64) in the `fs_dax/dax_pte_fault_done` record (tracefs format).
    pub pte_fault_address_off: u32,
    /// Offset of `pgoff` (u64) in the `fs_dax/dax_pte_fault_done` record (tracefs format).
    pub pte_fault_pgoff_off: u32,
    /// Offset of `result` (u32) in the `fs_dax/dax_pte_fault_done` record (tracefs format).
    pub pte_fault_result_off: u32,
    /// Offset of `dev` (u32) in the `fs_dax/dax_pmd_fault_done` record (tracefs format).
    pub pmd_fault_dev_off: u32,
    /// Offset of `ino` (u64) in the `fs_dax/dax_pmd_fault_done` record (tracefs format).
    pub pmd_fault_ino_off: u32,
    /// Offset of `address` (u64) in the `fs_dax/dax_pmd_fault_done` record (tracefs format).
    pub pmd_fault_address_off: u32,
    /// Offset of `pgoff` (u64) in the `fs_dax/dax_pmd_fault_done` record (tracefs format).
    pub pmd_fault_pgoff_off: u32,
    /// Offset of `result` (u32) in the `fs_dax/dax_pmd_fault_done` record (tracefs format).
    pub pmd_fault_result_off: u32,
    /// Offset of `pfn` (u64) in the `ras/` or `memory_failure/` `memory_failure_event` record.
    pub mf_pfn_off: u32,
    /// Offset of `type` (u32) in the `ras/` or `memory_failure/` `memory_failure_event` record.
    pub mf_type_off: u32,
    /// Offset of `result` (u32) in the `ras/` or `memory_failure/` `memory_failure_event` record.
    pub mf_result_off: u32,
    /// `inode.i_flags`: a break-layouts call on an inode without `S_DAX`
    /// is left at once (0: unknown, every inode is followed).
    pub inode_flags_off: u32,
    /// `bio.bi_bdev` (5.12+); meaningful only when `bio_has_bdev` is 1.
    pub bio_bdev_off: u32,
    /// 1 when BTF has `bio.bi_bdev`: flushes name their disk.
    pub bio_has_bdev: u32,
    /// A waiter on an idle page for longer than this is reported stuck.
    pub stuck_after_ns: u64,
    /// `FOLL_LONGTERM` on this kernel, by release: `1 << 8` from 6.3, `0x10000`
    /// before. A gup call refused with this flag set is a `RefusedPin`.
    pub foll_longterm: u32,
    /// `FOLL_PIN` on this kernel, by release: 0 from 6.3 (internal there, never
    /// passed by callers), `0x40000` before.
    pub foll_pin: u32,
    /// Record owners of FS-DAX pages at the gup entry points (1) or not.
    pub track_pins: u32,
    /// Record kernel stacks on the kinds that carry one (1) or not (`--no-stacks`).
    pub stacks: u32,
    /// The kernel has `bpf_get_func_arg` / `bpf_get_func_ret` (5.17+), which
    /// its verifier inlines: fentry/fexit programs read their arguments
    /// with them instead of a `bpf_probe_read_kernel` call each.
    pub func_arg_helpers: u32,
    /// How a refused long-term pin finds the VMA covering its address: one
    /// of the `VMA_WALK_*` values (0: it does not, and names no file).
    pub vma_walk: u32,
    /// `task_struct.mm`.
    pub task_mm_off: u32,
    /// `mm_struct.mm_rb.rb_node` (up to 6.0: the VMA red-black tree's root).
    pub mm_rb_off: u32,
    /// `vm_area_struct.vm_rb` (up to 6.0: the VMA's node in that tree).
    pub vma_rb_off: u32,
    /// `rb_node.rb_left`.
    pub rb_left_off: u32,
    /// `rb_node.rb_right`.
    pub rb_right_off: u32,
    /// `mm_struct.mm_mt.ma_root` (6.1+: the VMA maple tree's root entry).
    pub mm_mt_root_off: u32,
    /// `maple_range_64.pivot` (also the layout of leaves, `maple_leaf_64`).
    pub mt_range_pivot_off: u32,
    /// `maple_range_64.slot`.
    pub mt_range_slot_off: u32,
    /// `maple_arange_64.pivot`.
    pub mt_arange_pivot_off: u32,
    /// `maple_arange_64.slot`.
    pub mt_arange_slot_off: u32,
    /// `enum maple_type` value `maple_leaf_64`.
    pub mt_leaf_64: u32,
    /// `enum maple_type` value `maple_range_64`.
    pub mt_range_64: u32,
    /// `enum maple_type` value `maple_arange_64`.
    pub mt_arange_64: u32,
    /// `vm_area_struct.vm_start`.
    pub vma_start_off: u32,
    /// `vm_area_struct.vm_end`.
    pub vma_end_off: u32,
    /// `vm_area_struct.vm_file`.
    pub vma_file_off: u32,
    /// `file.f_inode`.
    pub file_inode_off: u32,
    /// `file.f_path.dentry`.
    pub file_dentry_off: u32,
    /// `dentry.d_parent`.
    pub dentry_parent_off: u32,
    /// `dentry.d_name.name` (a `const unsigned char *`).
    pub dentry_name_off: u32,
    /// `dentry.d_name.len` (u32).
    pub dentry_len_off: u32,
    /// 1: every DAX fault is a `Fault` record in the ring buffer
    /// (`record --fault-events`); 0: faults are only counted per (dev, size,
    /// result) in the `FAULT_COUNTS` map, which userspace reads as
    /// `FaultCounts` events (a record is still sent when the map is full).
    pub fault_events: u32,
    /// For fexit programs: index of the return value in the context (the
    /// function's argument count), per attach point.
    pub ret_index: [u8; MAX_POINTS],
}

impl Config {
    /// All offsets zero, nothing present.
    pub const fn zeroed() -> Self {
        Self {
            page_size: 0,
            vmemmap_base_sym: 0,
            vmemmap_start: 0xffff_ea00_0000_0000,
            page_pgmap_off: 0,
            page_refcount_off: 0,
            page_mapping_off: 0,
            page_index_off: 0,
            idle_refcount: 1,
            pgmap_type_off: 0,
            pgmap_range_off: 0,
            pgmap_nr_range_off: 0,
            pgmap_owner_off: 0,
            pgmap_has_nr_range: 0,
            pgmap_has_owner: 0,
            fsdax_type: 0,
            generic_type: 0,
            private_type: 0,
            coherent_type: 0,
            p2pdma_type: 0,
            dax_holder_data_off: 0,
            dax_has_holder: 0,
            bdev_dev_off: 0,
            bdev_disk_off: 0,
            disk_name_off: 0,
            inode_ino_off: 0,
            inode_sb_off: 0,
            sb_dev_off: 0,
            mapping_host_off: 0,
            pte_fault_dev_off: 0,
            pte_fault_ino_off: 0,
            pte_fault_address_off: 0,
            pte_fault_pgoff_off: 0,
            pte_fault_result_off: 0,
            pmd_fault_dev_off: 0,
            pmd_fault_ino_off: 0,
            pmd_fault_address_off: 0,
            pmd_fault_pgoff_off: 0,
            pmd_fault_result_off: 0,
            mf_pfn_off: 0,
            mf_type_off: 0,
            mf_result_off: 0,
            inode_flags_off: 0,
            bio_bdev_off: 0,
            bio_has_bdev: 0,
            stuck_after_ns: 1_000_000_000,
            foll_longterm: 0x10000,
            foll_pin: 0x40000,
            track_pins: 1,
            stacks: 1,
            func_arg_helpers: 0,
            vma_walk: 0,
            task_mm_off: 0,
            mm_rb_off: 0,
            vma_rb_off: 0,
            rb_left_off: 0,
            rb_right_off: 0,
            mm_mt_root_off: 0,
            mt_range_pivot_off: 0,
            mt_range_slot_off: 0,
            mt_arange_pivot_off: 0,
            mt_arange_slot_off: 0,
            mt_leaf_64: 0,
            mt_range_64: 0,
            mt_arange_64: 0,
            vma_start_off: 0,
            vma_end_off: 0,
            vma_file_off: 0,
            file_inode_off: 0,
            file_dentry_off: 0,
            dentry_parent_off: 0,
            dentry_name_off: 0,
            dentry_len_off: 0,
            fault_events: 0,
            ret_index: [0; MAX_POINTS],
        }
    }
}
