//! Reading version-1 trace files: their raw event records (tag 2) carried
//! every kind in one fixed 136-byte layout with eight untyped `a` slots. This
//! is the one place left that knows which slot meant what; it maps a v1 record
//! onto today's typed payloads so v1 files read exactly as they always did.
//! (v1 JSON events, tag 3, have the same serde form as today's events.)
//!
//! v1 raw layout, little-endian: ts_ns u64 | kind u16 | point u16 | cpu u32 |
//! pid u32 | tid u32 | comm [u8; 16] | a [u64; 8] | name [u8; 32].
use dax_trace_common::kind;

use crate::comm::Comm;
use crate::event::{
    BusyPage, Claim, ClaimApiCode, DaxAddHost, DaxAlloc, DaxKill, DecodeError, Dev, DiskName,
    DmAccess, DmMember, DmTableDax, Event, EventBody, Fault, Flag, HolderNotifyFailure,
    MemoryFailure, OptU64, PageIdle, PagemapCreate, PagemapDestroy, Release, StuckWait,
    WaitApiCode, WaitBegin, WaitEnd,
};

/// Size of a v1 raw event record.
pub const RAW_EVENT_SIZE: usize = 136;
const A_AT: usize = 40;
const NAME_AT: usize = A_AT + 64;

/// Decodes one v1 raw event record.
pub fn decode(b: &[u8; RAW_EVENT_SIZE]) -> Result<Event, DecodeError> {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let a: [u64; 8] = std::array::from_fn(|i| u64_at(A_AT + i * 8));
    let kind_num = u16_at(8);
    let point = u16_at(10);
    let name = || {
        let mut n = DiskName::EMPTY;
        n.0.copy_from_slice(&b[NAME_AT..NAME_AT + 32]);
        n
    };
    let flag = |v: u64| Flag::new(v != 0);
    let dev = |v: u64| Dev(v as u32);
    let body: EventBody = match kind_num {
        kind::PAGEMAP_CREATE => PagemapCreate {
            pgmap: a[0],
            memory_type: a[1] as u32,
            pfn_start: a[2],
            pfn_end: a[3],
            nr_range: a[4] as u32,
            owner: a[5],
            ret: a[6] as i64,
            fs_dax: flag(a[7]),
            ..Default::default()
        }
        .into(),
        kind::PAGEMAP_DESTROY => PagemapDestroy { pgmap: a[0] }.into(),
        kind::CLAIM => Claim {
            dax_dev: a[0],
            holder: a[1],
            bdev: dev(a[2]),
            holder_ops: a[3],
            granted: flag(a[4]),
            api: ClaimApiCode(a[5] as u32),
            start_off: a[6],
            disk: name(),
            ..Default::default()
        }
        .into(),
        kind::RELEASE => Release {
            dax_dev: a[0],
            holder: a[1],
            api: ClaimApiCode(a[2] as u32),
            holder_before: a[3],
            ..Default::default()
        }
        .into(),
        kind::DAX_ALLOC => DaxAlloc {
            dax_dev: a[0],
            private: a[1],
        }
        .into(),
        kind::DAX_KILL => DaxKill {
            dax_dev: a[0],
            holder: a[1],
        }
        .into(),
        kind::DAX_ADD_HOST => DaxAddHost {
            dax_dev: a[0],
            disk: name(),
        }
        .into(),
        kind::PAGE_IDLE => PageIdle {
            pgmap: a[0],
            pfn: a[1],
            page: a[2],
            refcount: a[3],
        }
        .into(),
        kind::BUSY_PAGE => BusyPage {
            mapping: a[0],
            page: a[1],
            pfn: a[2],
            ino: a[3],
            dev: dev(a[4]),
            pgmap: a[5],
            refcount: a[6],
            // v1 kept the index plus one, 0 for unknown.
            index: OptU64::new(a[7].checked_sub(1)),
            _pad: 0,
        }
        .into(),
        kind::WAIT_BEGIN => WaitBegin {
            inode: a[0],
            ino: a[1],
            dev: dev(a[2]),
            api: WaitApiCode(a[3] as u32),
            ..Default::default()
        }
        .into(),
        kind::WAIT_END => WaitEnd {
            inode: a[0],
            ino: a[1],
            dev: dev(a[2]),
            api: WaitApiCode(a[3] as u32),
            latency_ns: a[4],
            ret: a[5] as i64,
            // v1 used 0 for "no busy page".
            busy_pfn: OptU64::new((a[6] != 0).then_some(a[6])),
            busy_hits: a[7],
        }
        .into(),
        kind::DM_ACCESS => DmAccess {
            dm_dax_dev: a[0],
            member_dax_dev: a[1],
            dm_pgoff: a[2],
            member_pgoff: a[3],
            nr_pages: a[4],
        }
        .into(),
        kind::DM_TABLE_DAX => DmTableDax {
            table: a[0],
            capable: flag(a[1]),
            _pad: 0,
        }
        .into(),
        kind::DM_MEMBER => DmMember {
            member_dax_dev: a[0],
            taken: flag(a[1]),
            bdev: dev(a[2]),
            disk: name(),
        }
        .into(),
        kind::FAULT => Fault {
            dev: dev(a[0]),
            ino: a[1],
            address: a[2],
            pgoff: a[3],
            result: a[4] as u32,
            pmd: flag(a[5]),
            _pad: 0,
        }
        .into(),
        kind::MEMORY_FAILURE => MemoryFailure {
            pfn: a[0],
            mf_type: a[1] as u32,
            result: a[2] as u32,
        }
        .into(),
        kind::HOLDER_NOTIFY_FAILURE => HolderNotifyFailure {
            dax_dev: a[0],
            offset: a[1],
            len: a[2],
            flags: a[3],
            holder: a[4],
        }
        .into(),
        kind::STUCK_WAIT => StuckWait {
            page: a[0],
            pfn: a[1],
            refcount: a[2],
            wait_begin_ns: a[3],
            ino: a[4],
            dev: dev(a[5]),
            waiter_tid: a[6] as u32,
            pgmap: a[7],
        }
        .into(),
        // v1 never stored userspace kinds raw: they were JSON events.
        other => return Err(DecodeError::UnknownKind(other, point)),
    };
    Ok(Event {
        ts_ns: u64_at(0),
        cpu: u32_at(12),
        pid: u32_at(16),
        tid: u32_at(20),
        comm: Comm::from_c_bytes(&b[24..40]),
        point,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, a: [u64; 8], name: &[u8]) -> [u8; RAW_EVENT_SIZE] {
        let mut b = [0u8; RAW_EVENT_SIZE];
        b[0..8].copy_from_slice(&42u64.to_le_bytes());
        b[8..10].copy_from_slice(&kind.to_le_bytes());
        b[10..12].copy_from_slice(&3u16.to_le_bytes());
        b[16..20].copy_from_slice(&7u32.to_le_bytes());
        b[24..29].copy_from_slice(b"mount");
        for (i, v) in a.iter().enumerate() {
            b[A_AT + i * 8..A_AT + i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b[NAME_AT..NAME_AT + name.len()].copy_from_slice(name);
        b
    }

    #[test]
    fn claim_slots_map_to_named_fields() {
        let b = record(
            3,
            [0x1000, 0x2000, 259 << 20, 0x3000, 1, 1, 4096, 0],
            b"pmem0",
        );
        let e = decode(&b).expect("decodes");
        assert_eq!((e.ts_ns, e.pid, e.point), (42, 7, 3));
        assert_eq!(e.comm, "mount");
        let EventBody::Claim(c) = e.body else {
            panic!("not a claim: {:?}", e.body)
        };
        assert_eq!(
            (c.dax_dev, c.holder, c.holder_ops),
            (0x1000, 0x2000, 0x3000)
        );
        assert_eq!((c.bdev, c.disk.as_str()), (Dev::new(259, 0), "pmem0"));
        assert!(c.granted.get());
        assert_eq!(c.start_off, 4096);
        assert_eq!(c.api.get(), crate::event::ClaimApi::FsDaxGetByBdev);
    }

    #[test]
    fn v1_sentinels_become_explicit_unknowns() {
        let busy = decode(&record(9, [1, 2, 3, 4, 5, 6, 7, 0], b"")).expect("decodes");
        let EventBody::BusyPage(b) = busy.body else {
            panic!("not a busy page")
        };
        assert_eq!(b.index.get(), None);
        let busy = decode(&record(9, [1, 2, 3, 4, 5, 6, 7, 13], b"")).expect("decodes");
        let EventBody::BusyPage(b) = busy.body else {
            panic!("not a busy page")
        };
        assert_eq!(b.index.get(), Some(12));
        let end = decode(&record(11, [1, 2, 3, 2, 5, (-4i64) as u64, 0, 0], b"")).expect("decodes");
        let EventBody::WaitEnd(w) = end.body else {
            panic!("not a wait end")
        };
        assert_eq!((w.busy_pfn.get(), w.ret), (None, -4));
    }

    #[test]
    fn unknown_kinds_are_errors() {
        assert_eq!(
            decode(&record(100, [0; 8], b"")),
            Err(DecodeError::UnknownKind(100, 3))
        );
    }
}
