//! The dax_devices that exist: every inode of the dax pseudo-filesystem
//! (`dax_superblock->s_inodes`) with a device number is one `dax_device`
//! (the root directory inode has none). A claim (`fs_dax_get_by_bdev`,
//! `dax_get_by_host`) takes a reference on that inode with `igrab` and a
//! release drops it, so the references beyond the device's own
//! (`DaxLayout::two_ref_ops`) are the claims held now. The disk each serves is `host` on 5.x and the
//! `dax_hosts` table (gendisk -> dax_device) from 6.1.
use std::collections::HashMap;

use super::kmem::{KernelMemory, KmemError};
use super::xarray::{self, XarrayError};
use crate::resolve::state_layout::{DaxLayout, HostsLayout, XarrayLayout};

/// Most dax devices read (a bound on a corrupt or racing list).
pub const MAX_DAX_DEVICES: usize = 4096;

/// One dax_device as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaxDeviceFound {
    pub dax_dev: u64,
    /// The dax character device number (kernel encoding).
    pub rdev: u32,
    pub alive: bool,
    /// References on its inode beyond its own.
    pub claims: u32,
    pub holder: u64,
    pub holder_ops: u64,
    /// The disk it serves, when known.
    pub disk: Option<String>,
}

/// Reads every dax_device; `hosts` fills in disk names on 6.1+.
pub fn read_all(mem: &dyn KernelMemory, l: &DaxLayout) -> Result<Vec<DaxDeviceFound>, KmemError> {
    let sb = mem.u64_at(l.superblock_sym)?;
    let mut out = Vec::new();
    if sb == 0 {
        return Ok(out);
    }
    let head = sb + l.sb_inodes as u64;
    let mut next = mem.u64_at(head)?;
    while next != head && next != 0 && out.len() < MAX_DAX_DEVICES {
        let inode = next.wrapping_sub(l.inode_sb_list as u64);
        let rdev = mem.u32_at(inode + l.inode_rdev as u64)?;
        if rdev != 0 {
            out.push(read_one(mem, l, inode, rdev)?);
        }
        next = mem.u64_at(next)?;
    }
    Ok(out)
}

fn read_one(
    mem: &dyn KernelMemory,
    l: &DaxLayout,
    inode: u64,
    rdev: u32,
) -> Result<DaxDeviceFound, KmemError> {
    let dax_dev = inode.wrapping_sub(l.dax_inode as u64);
    let flags = mem.u64_at(dax_dev + l.dax_flags as u64)?;
    let count = mem.i32_at(inode + l.inode_count as u64)?;
    let field = |off: Option<u32>| -> Result<u64, KmemError> {
        match off {
            Some(o) => mem.u64_at(dax_dev + o as u64),
            None => Ok(0),
        }
    };
    let disk = match l.host {
        Some(o) => match mem.u64_at(dax_dev + o as u64)? {
            0 => None,
            // A short kstrdup'd name may end near unmapped memory: retry shorter.
            ptr => Some(mem.cstr_at(ptr, 32).or_else(|_| mem.cstr_at(ptr, 8))?)
                .filter(|s| !s.is_empty()),
        },
        None => None,
    };
    Ok(DaxDeviceFound {
        dax_dev,
        rdev,
        alive: (flags >> l.alive_bit.min(63)) & 1 == 1,
        claims: count.saturating_sub(own_refs(mem, l, dax_dev)?).max(0) as u32,
        holder: field(l.holder_data)?,
        holder_ops: field(l.holder_ops)?,
        disk,
    })
}

/// References the device's inode holds of its own (see `DaxLayout::two_ref_ops`).
fn own_refs(mem: &dyn KernelMemory, l: &DaxLayout, dax_dev: u64) -> Result<i32, KmemError> {
    if l.two_ref_ops == 0 {
        return Ok(1);
    }
    let ops = mem.u64_at(dax_dev + l.ops as u64)?;
    Ok(if ops == l.two_ref_ops { 2 } else { 1 })
}

/// 6.1+: dax_device -> disk name, from the `dax_hosts` xarray.
pub fn read_hosts(
    mem: &dyn KernelMemory,
    hosts: &HostsLayout,
    xa: &XarrayLayout,
) -> Result<HashMap<u64, String>, XarrayError> {
    let mut out = HashMap::new();
    for (gendisk, dax_dev) in xarray::pointers(mem, xa, hosts.hosts_sym, 4096)? {
        let name = mem.cstr_at(gendisk + hosts.disk_name as u64, 32)?;
        out.insert(dax_dev, name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::kmem::FakeMemory;

    fn layout(host: Option<u32>) -> DaxLayout {
        DaxLayout {
            superblock_sym: 0x100,
            sb_inodes: 0x40,
            inode_sb_list: 0x20,
            inode_count: 0x30,
            inode_rdev: 0x10,
            dax_inode: 0x8,
            dax_flags: 0x200,
            alive_bit: 0,
            holder_data: if host.is_none() { Some(0x208) } else { None },
            holder_ops: if host.is_none() { Some(0x210) } else { None },
            host,
            ops: 0x220,
            two_ref_ops: if host.is_some() {
                0xffff_ffff_c011_10a0
            } else {
                0
            },
        }
    }

    /// A superblock at 0x1000 whose s_inodes list holds the root inode and
    /// two dax_devices at 0x2000 and 0x3000.
    fn memory(l: &DaxLayout) -> FakeMemory {
        let mut m = FakeMemory::default();
        m.put(0x100, vec![0; 8]);
        m.poke_u64(0x100, 0x1000);
        m.put(0x1000, vec![0; 0x100]);
        let head = 0x1000 + l.sb_inodes as u64;
        let root = 0x5000u64;
        let devs = [0x2000u64, 0x3000];
        let nodes: Vec<u64> = std::iter::once(root + l.dax_inode as u64)
            .chain(devs.iter().map(|d| d + l.dax_inode as u64))
            .map(|inode| inode + l.inode_sb_list as u64)
            .collect();
        for base in std::iter::once(root).chain(devs) {
            m.put(base, vec![0; 0x300]);
        }
        m.poke_u64(head, nodes[0]);
        for (i, n) in nodes.iter().enumerate() {
            m.poke_u64(*n, *nodes.get(i + 1).unwrap_or(&head));
        }
        for (i, d) in devs.iter().enumerate() {
            let inode = d + l.dax_inode as u64;
            m.poke_u32(inode + l.inode_rdev as u64, (252 << 20) | i as u32);
            m.poke_u32(inode + l.inode_count as u64, 1 + i as u32 * 2);
            m.poke_u64(d + l.dax_flags as u64, 1);
        }
        m
    }

    #[test]
    fn inodes_with_a_device_number_are_dax_devices_and_extra_references_are_claims() {
        let l = layout(None);
        let mut m = memory(&l);
        m.poke_u64(0x3000 + 0x208, 0xffff_8880_dead_0000);
        let found = read_all(&m, &l).expect("read");
        assert_eq!(found.len(), 2, "the root inode is not a device: {found:?}");
        assert_eq!(found[0].dax_dev, 0x2000);
        assert_eq!((found[0].claims, found[1].claims), (0, 2));
        assert!(found[0].alive && found[1].alive);
        assert_eq!(found[1].holder, 0xffff_8880_dead_0000);
        assert_eq!(found[0].disk, None);
    }

    #[test]
    fn five_ten_names_the_disk_through_host() {
        let l = layout(Some(0x218));
        let mut m = memory(&l);
        m.put(0x9000, b"pmem0\0\0\0".to_vec());
        // Only 8 bytes readable: the shorter retry finds the name.
        m.poke_u64(0x2000 + 0x218, 0x9000);
        m.put(0x9100, vec![0; 32]);
        let found = read_all(&m, &l).expect("read");
        assert_eq!(found[0].disk.as_deref(), Some("pmem0"));
        assert_eq!(found[1].disk, None, "a null host is no name");
        assert_eq!(found[0].holder, 0, "5.x has no holders");
        // On 5.x a pmem device (ops = pmem_dax_ops) holds two references of
        // its own, any other one: counts 1 and 3 read as 0 and 1 claims for
        // pmem, 0 and 2 for another driver.
        assert_eq!((found[0].claims, found[1].claims), (0, 2));
        m.poke_u64(0x2000 + 0x220, 0xffff_ffff_c011_10a0);
        m.poke_u64(0x3000 + 0x220, 0xffff_ffff_c011_10a0);
        let found = read_all(&m, &l).expect("read");
        assert_eq!((found[0].claims, found[1].claims), (0, 1));
    }

    #[test]
    fn an_unreadable_list_is_an_error() {
        let l = layout(None);
        let mut m = FakeMemory::default();
        m.put(0x100, vec![0; 8]);
        m.poke_u64(0x100, 0x1000);
        assert!(read_all(&m, &l).is_err());
    }
}
