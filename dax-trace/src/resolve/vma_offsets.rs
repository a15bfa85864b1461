//! The struct layouts a refused long-term pin needs to name its file in the
//! kernel: from the task's mm to the VMA covering the address (a red-black
//! tree up to 6.0, a maple tree from 6.1), and from the VMA's file to its
//! device, inode and dentry names. All or nothing: with one field missing
//! the programs walk nothing and recording falls back to /proc/PID/maps.
use dax_trace_common::{
    Config,
    config::{VMA_WALK_MAPLE, VMA_WALK_RBTREE},
};

use super::btf::{BtfError, KernelBtf};
use super::offsets::Offsets;

/// Reads the fields into `config` and sets `config.vma_walk`; leaves it 0
/// and says what was missing in `out.missing` when the kernel lacks one.
pub fn from_btf(btf: &KernelBtf, config: &mut Config, out: &mut Offsets) -> Result<(), BtfError> {
    let mut missing = Vec::new();
    let mut get = |s: &str, path: &str| -> Result<u32, BtfError> {
        match btf.path_offset(s, path)? {
            Some(off) => Ok(off),
            None => {
                missing.push(format!("{s}.{path}"));
                Ok(0)
            }
        }
    };
    let mut c = *config;
    c.task_mm_off = get("task_struct", "mm")?;
    c.vma_start_off = get("vm_area_struct", "vm_start")?;
    c.vma_end_off = get("vm_area_struct", "vm_end")?;
    c.vma_file_off = get("vm_area_struct", "vm_file")?;
    c.file_inode_off = get("file", "f_inode")?;
    c.file_dentry_off = get("file", "f_path.dentry")?;
    c.dentry_parent_off = get("dentry", "d_parent")?;
    c.dentry_name_off = get("dentry", "d_name.name")?;
    c.dentry_len_off = get("dentry", "d_name.len")?;
    let walk = if btf.path_offset("mm_struct", "mm_mt")?.is_some() {
        c.mm_mt_root_off = get("mm_struct", "mm_mt.ma_root")?;
        c.mt_range_pivot_off = get("maple_range_64", "pivot")?;
        c.mt_range_slot_off = get("maple_range_64", "slot")?;
        c.mt_arange_pivot_off = get("maple_arange_64", "pivot")?;
        c.mt_arange_slot_off = get("maple_arange_64", "slot")?;
        for (field, name) in [
            (&mut c.mt_leaf_64, "maple_leaf_64"),
            (&mut c.mt_range_64, "maple_range_64"),
            (&mut c.mt_arange_64, "maple_arange_64"),
        ] {
            match btf.enum_value("maple_type", name)? {
                Some(v) => *field = v as u32,
                None => missing.push(format!("enum maple_type: {name}")),
            }
        }
        VMA_WALK_MAPLE
    } else {
        c.mm_rb_off = get("mm_struct", "mm_rb.rb_node")?;
        c.vma_rb_off = get("vm_area_struct", "vm_rb")?;
        c.rb_left_off = get("rb_node", "rb_left")?;
        c.rb_right_off = get("rb_node", "rb_right")?;
        VMA_WALK_RBTREE
    };
    if !missing.is_empty() {
        out.missing.push(format!(
            "naming a refused pin's file in the kernel: {} (recording reads /proc/PID/maps instead)",
            missing.join(", ")
        ));
        return Ok(());
    }
    c.vma_walk = walk;
    *config = c;
    let name = if walk == VMA_WALK_MAPLE {
        "maple tree"
    } else {
        "red-black tree"
    };
    out.values.push((
        format!("refused pin's file: VMA walk ({name})"),
        walk as u64,
    ));
    Ok(())
}
