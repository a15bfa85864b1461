//! Kernel memory reads at offsets from [`crate::maps::CONFIG`].
use aya_ebpf::helpers::{bpf_probe_read_kernel, bpf_probe_read_kernel_buf};
use dax_trace_common::{Config, OptU64};

use crate::maps::{CONFIG, VMEMMAP_SEEN};

/// Reads one field of the config without letting the compiler fold the
/// (zero) initializer: the loader rewrites .rodata before load.
#[macro_export]
macro_rules! conf {
    ($field:ident) => {
        unsafe { core::ptr::read_volatile(&raw const $crate::maps::CONFIG.$field) }
    };
}

/// The argument count of `point`'s function on this kernel (0..=6).
#[inline(always)]
pub fn nargs(point: u16) -> u8 {
    let idx = point as usize;
    if idx >= CONFIG.ret_index.len() {
        return 0;
    }
    unsafe { core::ptr::read_volatile(&raw const CONFIG.ret_index[idx]) }
}

/// Reads a `T` at `base + off`; 0-like default on a null base or a fault.
#[inline(always)]
pub fn at<T: Copy + Default>(base: u64, off: u32) -> T {
    if base == 0 {
        return T::default();
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T) }.unwrap_or_default()
}

/// Reads a NUL-terminated name of up to 32 bytes at `base + off`.
#[inline(always)]
pub fn name_at(base: u64, off: u32, out: &mut [u8; 32]) {
    if base == 0 {
        return;
    }
    let _ = unsafe { bpf_probe_read_kernel_buf((base + off as u64) as *const u8, out) };
}

/// The struct page array's base: `vmemmap_base`'s value, or the fixed base.
/// `vmemmap_base` is set once at boot (KASLR): the first read is kept in
/// `VMEMMAP_SEEN`, and later ones are a map load instead of a helper call
/// (on every pagemap lookup and put of an O_DIRECT into DAX memory).
#[inline(always)]
fn vmemmap() -> u64 {
    let sym: u64 = conf!(vmemmap_base_sym);
    if sym == 0 {
        return conf!(vmemmap_start);
    }
    let Some(seen) = VMEMMAP_SEEN.get_ptr_mut(0) else {
        return at::<u64>(sym, 0);
    };
    // SAFETY: the one slot of an array map; every writer writes the same value.
    unsafe {
        if *seen == 0 {
            *seen = at::<u64>(sym, 0);
        }
        *seen
    }
}

/// pfn -> `struct page *`.
#[inline(always)]
pub fn page_of_pfn(pfn: u64) -> u64 {
    let size: u64 = conf!(page_size);
    vmemmap() + pfn * size
}

/// `struct page *` (or folio) -> pfn, using `vmemmap_base` and `sizeof(struct page)`.
#[inline(always)]
pub fn page_to_pfn(page: u64) -> u64 {
    let size: u64 = conf!(page_size);
    if page == 0 || size == 0 {
        return 0;
    }
    let base = vmemmap();
    if page < base {
        return 0;
    }
    (page - base) / size
}

/// The `dev_pagemap` of a ZONE_DEVICE page or folio.
#[inline(always)]
pub fn page_pgmap(page: u64) -> u64 {
    at::<u64>(page, conf!(page_pgmap_off))
}

/// The page's index in its file (`page->index`, `folio->index`); none when
/// the running kernel's BTF gave no offset for it.
#[inline(always)]
pub fn page_index(page: u64) -> OptU64 {
    let off: u32 = conf!(page_index_off);
    if off == 0 {
        return OptU64::NONE;
    }
    OptU64(at::<u64>(page, off))
}

/// The page's reference count (`_refcount`, an atomic_t).
#[inline(always)]
pub fn page_refcount(page: u64) -> i32 {
    at::<i32>(page, conf!(page_refcount_off))
}

/// `block_device.bd_dev`.
#[inline(always)]
pub fn bdev_dev(bdev: u64) -> u32 {
    at::<u32>(bdev, conf!(bdev_dev_off))
}

/// `bdev->bd_disk->disk_name`.
#[inline(always)]
pub fn bdev_disk_name(bdev: u64, out: &mut [u8; 32]) {
    let disk = at::<u64>(bdev, conf!(bdev_disk_off));
    name_at(disk, conf!(disk_name_off), out);
}

/// `inode->i_ino` and `inode->i_sb->s_dev`.
#[inline(always)]
pub fn inode_ident(inode: u64) -> (u64, u32) {
    let ino = at::<u64>(inode, conf!(inode_ino_off));
    let sb = at::<u64>(inode, conf!(inode_sb_off));
    (ino, at::<u32>(sb, conf!(sb_dev_off)))
}

/// `S_DAX` in `inode.i_flags`: `(1 << 13)` in include/linux/fs.h from 4.x
/// through 7.x (0 when the kernel is built without FS_DAX, where no inode is
/// DAX and no break-layouts call waits).
const S_DAX: u32 = 1 << 13;

/// The inode has DAX on (`IS_DAX`); true when the offset of `i_flags` is
/// unknown, so that nothing is filtered out on a kernel we cannot read.
#[inline(always)]
pub fn inode_is_dax(inode: u64) -> bool {
    let off: u32 = conf!(inode_flags_off);
    off == 0 || at::<u32>(inode, off) & S_DAX != 0
}

/// `dax_device.holder_data`, or 0 on kernels without holders.
#[inline(always)]
pub fn dax_holder(dax_dev: u64) -> u64 {
    let has: u32 = conf!(dax_has_holder);
    if has == 0 {
        return 0;
    }
    at::<u64>(dax_dev, conf!(dax_holder_data_off))
}

/// True for an `ERR_PTR` value or NULL.
#[inline(always)]
pub fn is_err_or_null(ptr: u64) -> bool {
    ptr == 0 || ptr >= (-4095i64) as u64
}

/// Keeps the `Config` type referenced for the loader's BTF lookups.
pub const fn config_size() -> usize {
    core::mem::size_of::<Config>()
}
