//! Names the file behind a refused long-term pin while the asking task is
//! still in the kernel: the VMA covering the address in its mm, that VMA's
//! file (device, inode) and the file's dentry names up to the filesystem's
//! root. Resolving it later from /proc raced with clients that exit right
//! after the refusal (fio does).
use aya_ebpf::helpers::{bpf_get_current_task, generated::bpf_probe_read_kernel};
use dax_trace_common::{
    config::{VMA_WALK_MAPLE, VMA_WALK_RBTREE},
    field::{Dev, PATH_LEN, PathName},
    payload::path_from,
};

use crate::conf;
use crate::maps::PATH_SCRATCH;
use crate::read::at;

/// Red-black tree levels walked (a tree of a million VMAs is under 40 deep).
const MAX_RB_DEPTH: u32 = 48;
/// Maple tree levels walked (a 64-bit tree is at most 9 range nodes deep;
/// an mm's is 2 to 4).
const MAX_MAPLE_DEPTH: u32 = 8;
/// Slots of a `maple_range_64` / `maple_leaf_64` node (pivots: one fewer).
const RANGE64_SLOTS: u64 = 16;
/// Slots of a `maple_arange_64` node.
const ARANGE64_SLOTS: u64 = 10;
/// `MAPLE_NODE_MASK`: the low bits of an encoded node pointer.
const MAPLE_NODE_MASK: u64 = 255;
/// `MAPLE_NODE_TYPE_SHIFT` and `MAPLE_NODE_TYPE_MASK`.
const MAPLE_TYPE_SHIFT: u64 = 3;
const MAPLE_TYPE_MASK: u64 = 0xf;
/// Directory levels walked from the file toward the root.
const MAX_DENTRY_DEPTH: u32 = 16;
/// Where the path is built right to left: bytes `[0, PATH_LEN)`; the upper
/// half stays zero, so a copy of `PATH_LEN` bytes from the path's start
/// reads the path and its NUL padding.
const SCRATCH_LEN: usize = 2 * PATH_LEN;

/// Room to build a path in, one per CPU (zeroed at load, upper half never written).
pub type PathScratch = [u8; SCRATCH_LEN];

/// What names the file mapped at a user address.
pub struct FileName {
    pub dev: Dev,
    pub ino: u64,
    pub path: PathName,
    pub path_from: u32,
}

/// The file mapped at `addr` in `mm` (current's mm when 0); `None` when the
/// kernel has no walk configured, the address is not mapped, or the memory
/// is anonymous.
#[inline(always)]
pub fn file_at(mm: u64, addr: u64) -> Option<FileName> {
    let mm = if mm != 0 {
        mm
    } else {
        // SAFETY: the helper returns the current task's pointer.
        at::<u64>(unsafe { bpf_get_current_task() }, conf!(task_mm_off))
    };
    if mm == 0 {
        return None;
    }
    let walk = conf!(vma_walk);
    let vma = if walk == VMA_WALK_RBTREE {
        rb_vma(mm, addr)
    } else if walk == VMA_WALK_MAPLE {
        maple_vma(mm, addr)
    } else {
        0
    };
    if vma == 0
        || at::<u64>(vma, conf!(vma_start_off)) > addr
        || at::<u64>(vma, conf!(vma_end_off)) <= addr
    {
        return None;
    }
    let file = at::<u64>(vma, conf!(vma_file_off));
    if file == 0 {
        return None;
    }
    let inode = at::<u64>(file, conf!(file_inode_off));
    let sb = at::<u64>(inode, conf!(inode_sb_off));
    let mut name = FileName {
        dev: Dev(at::<u32>(sb, conf!(sb_dev_off))),
        ino: at::<u64>(inode, conf!(inode_ino_off)),
        path: PathName::EMPTY,
        path_from: path_from::MAPS,
    };
    name.path_from = dentry_path(at::<u64>(file, conf!(file_dentry_off)), &mut name.path);
    Some(name)
}

/// `find_vma` of kernels up to 6.0: the lowest VMA ending above `addr`.
#[inline(always)]
fn rb_vma(mm: u64, addr: u64) -> u64 {
    let (rb_off, left, right) = (conf!(vma_rb_off), conf!(rb_left_off), conf!(rb_right_off));
    let mut node = at::<u64>(mm, conf!(mm_rb_off));
    let mut found = 0u64;
    let mut depth = 0u32;
    while depth < MAX_RB_DEPTH && node != 0 {
        depth += 1;
        let vma = node - rb_off as u64;
        if at::<u64>(vma, conf!(vma_end_off)) > addr {
            found = vma;
            if at::<u64>(vma, conf!(vma_start_off)) <= addr {
                break;
            }
            node = at::<u64>(node, left);
        } else {
            node = at::<u64>(node, right);
        }
    }
    found
}

/// `mtree_load` of 6.1+: descends from the root through the slot whose
/// pivot (inclusive upper bound) is the first at or above `addr`; a leaf's
/// slot is the VMA (or NULL for a gap).
#[inline(always)]
fn maple_vma(mm: u64, addr: u64) -> u64 {
    let (leaf, range, arange) = (conf!(mt_leaf_64), conf!(mt_range_64), conf!(mt_arange_64));
    let mut entry = at::<u64>(mm, conf!(mm_mt_root_off));
    // xa_is_node: the root is a node marked internal (low bits 10) above
    // the first page; an mm with VMAs always has one. Below the root,
    // slots hold plain encoded nodes (pointer | type << 3 | 4).
    if entry & 3 != 2 || entry <= 4096 {
        return 0;
    }
    let mut depth = 0u32;
    while depth < MAX_MAPLE_DEPTH {
        depth += 1;
        if entry <= 4096 {
            return 0;
        }
        let node = entry & !MAPLE_NODE_MASK;
        let ty = ((entry >> MAPLE_TYPE_SHIFT) & MAPLE_TYPE_MASK) as u32;
        let (pivots, slots, n) = if ty == leaf || ty == range {
            (
                conf!(mt_range_pivot_off),
                conf!(mt_range_slot_off),
                RANGE64_SLOTS,
            )
        } else if ty == arange {
            (
                conf!(mt_arange_pivot_off),
                conf!(mt_arange_slot_off),
                ARANGE64_SLOTS,
            )
        } else {
            return 0;
        };
        let i = slot_of(node + pivots as u64, n, addr);
        entry = at::<u64>(node + slots as u64, (i * 8) as u32);
        if ty == leaf {
            return entry;
        }
    }
    0
}

/// The first of a node's `n - 1` pivots at or above `addr`, else the last
/// slot (whose bound is the node's own maximum). Within a node that covers
/// `addr` the pivots past its data are never reached: the one that ends
/// its data is the node's maximum.
#[inline(always)]
fn slot_of(pivots: u64, n: u64, addr: u64) -> u64 {
    let mut i = 0u64;
    while i < RANGE64_SLOTS - 1 {
        if i + 1 >= n || at::<u64>(pivots, (i * 8) as u32) >= addr {
            break;
        }
        i += 1;
    }
    i
}

/// Writes the dentry names from `dentry` up to its filesystem's root into
/// `out` as `/a/b/file`; the [`path_from`] value that says how complete it
/// is (`MAPS` when nothing could be read).
#[inline(always)]
fn dentry_path(dentry: u64, out: &mut PathName) -> u32 {
    let Some(buf) = PATH_SCRATCH.get_ptr_mut(0) else {
        return path_from::MAPS;
    };
    let buf = buf as *mut u8;
    let (parent_off, name_off, len_off) = (
        conf!(dentry_parent_off),
        conf!(dentry_name_off),
        conf!(dentry_len_off),
    );
    // The path ends at PATH_LEN - 1 (a NUL stays before the zero half).
    let mut pos = (PATH_LEN - 1) as u64;
    let mut d = dentry;
    let mut complete = false;
    let mut depth = 0u32;
    while depth < MAX_DENTRY_DEPTH && d != 0 {
        depth += 1;
        let parent = at::<u64>(d, parent_off);
        if parent == d {
            complete = true;
            break;
        }
        let len = at::<u32>(d, len_off) as u64;
        let name = at::<u64>(d, name_off);
        if len == 0 || len + 1 > pos || name == 0 {
            break;
        }
        pos -= len;
        // Masks for the verifier: pos + len stays inside the scratch.
        let (p, l) = (pos & (PATH_LEN as u64 - 1), len & (PATH_LEN as u64 - 1));
        // SAFETY: p + l < 2 * PATH_LEN, the scratch's size; the helper checks the source.
        let err = unsafe {
            bpf_probe_read_kernel(buf.add(p as usize).cast(), l as u32, name as *const _)
        };
        if err < 0 {
            pos += len;
            break;
        }
        pos -= 1;
        // SAFETY: pos < PATH_LEN.
        unsafe { *buf.add((pos & (PATH_LEN as u64 - 1)) as usize) = b'/' };
        d = parent;
    }
    if pos == (PATH_LEN - 1) as u64 {
        return path_from::MAPS;
    }
    // SAFETY: the (pos & mask) + PATH_LEN bytes lie inside the scratch; the
    // NUL at PATH_LEN - 1 and the zero half pad the copy.
    let err = unsafe {
        bpf_probe_read_kernel(
            out.0.as_mut_ptr().cast(),
            PATH_LEN as u32,
            buf.add((pos & (PATH_LEN as u64 - 1)) as usize) as *const _,
        )
    };
    if err < 0 {
        *out = PathName::EMPTY;
        return path_from::MAPS;
    }
    if complete {
        path_from::FS_ROOT
    } else {
        path_from::TAIL
    }
}
