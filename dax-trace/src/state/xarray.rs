//! Walking a kernel `struct xarray` (the `dax_hosts` and `pgmap_array`
//! tables) through [`KernelMemory`]. Entries are classified as the kernel
//! does (include/linux/xarray.h): low bits 00 a pointer, x1 a value, 10 an
//! internal entry, which above 4096 is a node and below it a sibling, retry
//! or zero marker. Only pointer entries are returned.
use super::kmem::{KernelMemory, KmemError};
use crate::resolve::state_layout::XarrayLayout;

/// Slots per node (`XA_CHUNK_SIZE` with CONFIG_BASE_SMALL off).
const CHUNK: usize = 64;
/// A 64-bit index needs at most 11 levels of 6 bits.
const MAX_DEPTH: u32 = 12;

/// An xarray walk stopped early.
#[derive(Debug, thiserror::Error)]
pub enum XarrayError {
    #[error(transparent)]
    Read(#[from] KmemError),
    #[error("xarray at {0:#x} has more than {1} nodes: walk stopped")]
    TooBig(u64, usize),
    #[error("xarray at {0:#x} is deeper than {MAX_DEPTH} levels: not an xarray")]
    TooDeep(u64),
}

fn is_node(entry: u64) -> bool {
    entry & 3 == 2 && entry > 4096
}

fn is_pointer(entry: u64) -> bool {
    entry != 0 && entry & 3 == 0
}

/// Every `(index, pointer)` of the xarray at `xarray`, visiting at most
/// `max_nodes` nodes.
pub fn pointers(
    mem: &dyn KernelMemory,
    layout: &XarrayLayout,
    xarray: u64,
    max_nodes: usize,
) -> Result<Vec<(u64, u64)>, XarrayError> {
    let head = mem.u64_at(xarray + layout.xa_head as u64)?;
    let mut out = Vec::new();
    if is_pointer(head) {
        out.push((0, head));
    } else if is_node(head) {
        let mut visited = 0;
        walk_node(
            mem,
            layout,
            xarray,
            head - 2,
            0,
            0,
            max_nodes,
            &mut visited,
            &mut out,
        )?;
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn walk_node(
    mem: &dyn KernelMemory,
    layout: &XarrayLayout,
    xarray: u64,
    node: u64,
    base: u64,
    depth: u32,
    max_nodes: usize,
    visited: &mut usize,
    out: &mut Vec<(u64, u64)>,
) -> Result<(), XarrayError> {
    if depth >= MAX_DEPTH {
        return Err(XarrayError::TooDeep(xarray));
    }
    *visited += 1;
    if *visited > max_nodes {
        return Err(XarrayError::TooBig(xarray, max_nodes));
    }
    let shift = mem.u8_at(node + layout.node_shift as u64)? as u32;
    if shift > 63 {
        return Err(XarrayError::TooDeep(xarray));
    }
    let mut slots = [0u8; CHUNK * 8];
    mem.read(node + layout.node_slots as u64, &mut slots)?;
    for (i, raw) in slots.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(raw);
        let entry = u64::from_le_bytes(b);
        let index = base | ((i as u64).checked_shl(shift).unwrap_or(0));
        if is_pointer(entry) {
            out.push((index, entry));
        } else if is_node(entry) && shift > 0 {
            walk_node(
                mem,
                layout,
                xarray,
                entry - 2,
                index,
                depth + 1,
                max_nodes,
                visited,
                out,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::kmem::FakeMemory;

    const LAYOUT: XarrayLayout = XarrayLayout {
        xa_head: 8,
        node_shift: 0,
        node_slots: 40,
    };

    fn node(mem: &mut FakeMemory, addr: u64, shift: u8, slots: &[(usize, u64)]) {
        let mut bytes = vec![0u8; 40 + CHUNK * 8];
        bytes[0] = shift;
        for (i, v) in slots {
            bytes[40 + i * 8..48 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        mem.put(addr, bytes);
    }

    #[test]
    fn a_single_entry_at_index_zero_lives_in_the_head() {
        let mut mem = FakeMemory::default();
        mem.put(0x1000, vec![0; 16]);
        mem.poke_u64(0x1008, 0xffff_8880_0000_1000);
        let got = pointers(&mem, &LAYOUT, 0x1000, 10).expect("walk");
        assert_eq!(got, vec![(0, 0xffff_8880_0000_1000)]);
    }

    #[test]
    fn two_levels_give_indexes_from_the_path_and_skip_values_and_siblings() {
        let mut mem = FakeMemory::default();
        mem.put(0x1000, vec![0; 16]);
        // Root at shift 6: slot 3 -> leaf node; slot 5 a value entry.
        mem.poke_u64(0x1008, 0x20_0000 + 2);
        node(&mut mem, 0x20_0000, 6, &[(3, 0x30_0000 + 2), (5, 0x7)]);
        // Leaf: slot 1 a pointer, slot 2 a sibling (internal 1<<2|2), slot 9 a pointer.
        node(
            &mut mem,
            0x30_0000,
            0,
            &[(1, 0xaaa0), (2, (1 << 2) | 2), (9, 0xbbb0)],
        );
        let got = pointers(&mem, &LAYOUT, 0x1000, 10).expect("walk");
        assert_eq!(got, vec![((3 << 6) | 1, 0xaaa0), ((3 << 6) | 9, 0xbbb0)]);
    }

    #[test]
    fn a_cycle_is_bounded() {
        let mut mem = FakeMemory::default();
        mem.put(0x1000, vec![0; 16]);
        mem.poke_u64(0x1008, 0x20_0000 + 2);
        // A node pointing at itself with a nonzero shift.
        node(&mut mem, 0x20_0000, 6, &[(0, 0x20_0000 + 2)]);
        let err = pointers(&mem, &LAYOUT, 0x1000, 1000).expect_err("cycle");
        assert!(matches!(err, XarrayError::TooDeep(_)), "{err}");
    }

    #[test]
    fn an_unreadable_node_is_an_error_not_an_empty_table() {
        let mut mem = FakeMemory::default();
        mem.put(0x1000, vec![0; 16]);
        mem.poke_u64(0x1008, 0x20_0000 + 2);
        assert!(matches!(
            pointers(&mem, &LAYOUT, 0x1000, 10),
            Err(XarrayError::Read(_))
        ));
    }
}
