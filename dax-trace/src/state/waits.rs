//! Threads already asleep on an FS-DAX page: `wait_var_event` sleepers hang
//! on `bit_wait_table[hash(var)]` as `wait_bit_queue_entry`s whose key is the
//! variable (`&page->_refcount` before 6.15, the folio from 6.15) with
//! `bit_nr` -1, and whose entry's `private` is the task. Break-layouts is
//! the only var wait on the pages of an FS-DAX pagemap, so every such
//! sleeper is a truncate, punch or reflink waiting for a busy page.
use super::kmem::{KernelMemory, KmemError};
use super::page::PageSpace;
use super::pagemap::PagemapFound;
use crate::resolve::state_layout::WaitLayout;

/// Heads in the table (`WAIT_TABLE_BITS` 8).
pub const TABLE_SIZE: usize = 256;
/// Most entries followed per head.
const MAX_PER_HEAD: usize = 256;

/// A sleeper found on a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sleeper {
    pub task: u64,
    pub tid: u32,
    pub comm: String,
    pub page: u64,
    pub pfn: u64,
    pub pgmap: u64,
    /// Asleep at least this long (the task's last run against ours).
    pub slept_ns: Option<u64>,
    /// In TASK_UNINTERRUPTIBLE (the eviction wait, 6.15+).
    pub uninterruptible: bool,
}

/// `TASK_UNINTERRUPTIBLE` in `task_struct.__state` (`state` before 5.14).
const TASK_UNINTERRUPTIBLE: u32 = 0x2;

/// Every sleeper on a page of the FS-DAX pagemaps in `pagemaps`.
pub fn scan(
    mem: &dyn KernelMemory,
    w: &WaitLayout,
    space: &PageSpace,
    pagemaps: &[PagemapFound],
) -> Result<Vec<Sleeper>, KmemError> {
    let head_size = w.head_size.max(1) as usize;
    let mut table = vec![0u8; TABLE_SIZE * head_size];
    mem.read(w.table_sym, &mut table)?;
    let mut out = Vec::new();
    for i in 0..TABLE_SIZE {
        let list = w.table_sym + (i * head_size) as u64 + w.head_list as u64;
        let at = i * head_size + w.head_list as usize;
        let mut next = u64::from_le_bytes(
            table[at..at + 8]
                .try_into()
                .map_err(|_| KmemError::Load("wait table layout".into()))?,
        );
        let mut n = 0;
        while next != list && next != 0 && n < MAX_PER_HEAD {
            n += 1;
            let wqe = next.wrapping_sub(w.wqe_entry as u64);
            let wbq = wqe.wrapping_sub(w.wq_entry as u64);
            let bit_nr = mem.i32_at(wbq + w.key_bit_nr as u64)?;
            if bit_nr == -1 {
                let var = mem.u64_at(wbq + w.key_flags as u64)?;
                if let Some((pgmap, pfn)) = page_of_var(space, pagemaps, var) {
                    let task = mem.u64_at(wqe + w.wqe_private as u64)?;
                    out.push(sleeper(mem, w, task, space.page_of(pfn), pfn, pgmap)?);
                }
            }
            next = mem.u64_at(next)?;
        }
    }
    Ok(out)
}

/// The FS-DAX page whose struct holds `var`.
fn page_of_var(space: &PageSpace, pagemaps: &[PagemapFound], var: u64) -> Option<(u64, u64)> {
    pagemaps.iter().filter(|p| p.fs_dax).find_map(|p| {
        p.ranges
            .iter()
            .find_map(|(s, e)| space.pfn_of(var, *s, *e))
            .map(|pfn| (p.pgmap, pfn))
    })
}

fn sleeper(
    mem: &dyn KernelMemory,
    w: &WaitLayout,
    task: u64,
    page: u64,
    pfn: u64,
    pgmap: u64,
) -> Result<Sleeper, KmemError> {
    let tid = mem.u32_at(task + w.task_pid as u64)?;
    let comm = mem.cstr_at(task + w.task_comm as u64, 16)?;
    let state = mem.u32_at(task + w.task_state as u64)?;
    let theirs = mem.u64_at(task + w.task_exec_start as u64)?;
    let ours = match mem.current_task() {
        Some(me) => Some(mem.u64_at(me + w.task_exec_start as u64)?),
        None => None,
    };
    Ok(Sleeper {
        task,
        tid,
        comm,
        page,
        pfn,
        pgmap,
        slept_ns: ours.and_then(|o| o.checked_sub(theirs)),
        uninterruptible: state & TASK_UNINTERRUPTIBLE != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::kmem::FakeMemory;

    const W: WaitLayout = WaitLayout {
        table_sym: 0x10_0000,
        head_size: 24,
        head_list: 8,
        key_flags: 0,
        key_bit_nr: 8,
        wq_entry: 24,
        wqe_private: 8,
        wqe_entry: 24,
        task_pid: 0x10,
        task_comm: 0x20,
        task_state: 0x8,
        task_exec_start: 0x40,
    };

    #[test]
    fn a_sleeper_on_a_dax_page_refcount_is_found_and_others_are_not() {
        let space = PageSpace {
            vmemmap: 0xffff_ea00_0000_0000,
            page_size: 64,
        };
        let pagemaps = vec![PagemapFound {
            pgmap: 0xffff_8880_0100_0000,
            memory_type: 3,
            fs_dax: true,
            ranges: vec![(0x40000, 0x60000)],
            owner: 0,
        }];
        let mut m = FakeMemory::default();
        m.put(W.table_sym, vec![0; TABLE_SIZE * 24]);
        // Every head empty (points at itself) except head 7.
        for i in 0..TABLE_SIZE as u64 {
            let list = W.table_sym + i * 24 + 8;
            m.poke_u64(list, list);
        }
        let head7 = W.table_sym + 7 * 24 + 8;
        // Two entries: a var wait on pfn 0x48200's _refcount (offset 52),
        // then a bit wait (bit_nr 3) that must be ignored.
        let (a, b) = (0x20_0000u64, 0x30_0000u64);
        for e in [a, b] {
            m.put(e, vec![0; 64]);
        }
        m.poke_u64(head7, a + 48);
        m.poke_u64(a + 48, b + 48);
        m.poke_u64(b + 48, head7);
        m.poke_u64(a, space.page_of(0x48200) + 52);
        m.poke_u32(a + 8, u32::MAX);
        m.poke_u64(a + 24 + 8, 0x50_0000);
        m.poke_u64(b, space.page_of(0x48201) + 52);
        m.poke_u32(b + 8, 3);
        m.put(0x50_0000, vec![0; 0x80]);
        m.poke_u32(0x50_0010, 585);
        m.poke(0x50_0020, b"truncate\0");
        m.poke_u64(0x50_0040, 1_000);
        m.poke_u32(0x50_0008, 0x1);
        m.put(0x60_0000, vec![0; 0x80]);
        m.poke_u64(0x60_0040, 3_500_000_000);
        m.task = Some(0x60_0000);
        let found = scan(&m, &W, &space, &pagemaps).expect("scan");
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!((s.tid, s.comm.as_str(), s.pfn), (585, "truncate", 0x48200));
        assert_eq!(s.page, space.page_of(0x48200));
        assert_eq!(s.slept_ns, Some(3_499_999_000));
        assert!(!s.uninterruptible, "state 0x1 is TASK_INTERRUPTIBLE");
    }
}
