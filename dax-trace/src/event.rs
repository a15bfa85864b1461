//! The decoded event model: what the probes report, in one type that live
//! capture, trace replay, the collector, the exporters and the TUI all share.
//!
//! [`decode`] turns a [`RawEvent`] from the ring buffer into an [`Event`]; it is
//! the only place that knows the slot layout documented in
//! `dax_trace_common::kind`.
use crate::comm::Comm;
use dax_trace_common::{RawEvent, kind, probe};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A kernel `dev_t` (`MAJOR << 20 | MINOR`, the in-kernel encoding).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Dev(pub u32);

impl Dev {
    pub const fn major(self) -> u32 {
        self.0 >> 20
    }
    pub const fn minor(self) -> u32 {
        self.0 & 0xfffff
    }
    /// Builds a kernel dev_t from major and minor numbers.
    pub const fn new(major: u32, minor: u32) -> Self {
        Dev((major << 20) | (minor & 0xfffff))
    }
}

impl fmt::Display for Dev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major(), self.minor())
    }
}

/// How a claim or release was made; see [`probe::ClaimApi`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimApi {
    FsDaxGetByBdev,
    DaxGetByHost,
    FsDaxGet,
    SeedFsDaxClaim,
    SeedDmClaim,
    FsPutDax,
    PutDax,
    Unknown,
}

impl From<u64> for ClaimApi {
    fn from(v: u64) -> Self {
        match probe::ClaimApi::from_u64(v) {
            Some(probe::ClaimApi::FsDaxGetByBdev) => Self::FsDaxGetByBdev,
            Some(probe::ClaimApi::DaxGetByHost) => Self::DaxGetByHost,
            Some(probe::ClaimApi::FsDaxGet) => Self::FsDaxGet,
            Some(probe::ClaimApi::SeedFsDaxClaim) => Self::SeedFsDaxClaim,
            Some(probe::ClaimApi::SeedDmClaim) => Self::SeedDmClaim,
            Some(probe::ClaimApi::FsPutDax) => Self::FsPutDax,
            Some(probe::ClaimApi::PutDax) => Self::PutDax,
            None => Self::Unknown,
        }
    }
}

/// Which break-layouts path a wait went through; see [`probe::WaitApi`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitApi {
    Ext4BreakLayouts,
    XfsBreakLayouts,
    DaxBreakLayout,
    FuseDaxBreakLayouts,
    Unknown,
}

impl From<u64> for WaitApi {
    fn from(v: u64) -> Self {
        match probe::WaitApi::from_u64(v) {
            Some(probe::WaitApi::Ext4BreakLayouts) => Self::Ext4BreakLayouts,
            Some(probe::WaitApi::XfsBreakLayouts) => Self::XfsBreakLayouts,
            Some(probe::WaitApi::DaxBreakLayout) => Self::DaxBreakLayout,
            Some(probe::WaitApi::FuseDaxBreakLayouts) => Self::FuseDaxBreakLayouts,
            None => Self::Unknown,
        }
    }
}

/// One observed event with its context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// CLOCK_MONOTONIC nanoseconds (the trace header maps it to wall time).
    pub ts_ns: u64,
    pub cpu: u32,
    pub pid: u32,
    pub tid: u32,
    pub comm: Comm,
    /// The attach point index (`probe::POINTS`); `u16::MAX` for userspace-made events.
    pub point: u16,
    pub body: EventBody,
}

/// Attach point index used for events that userspace synthesizes (stats, drops).
pub const USERSPACE_POINT: u16 = u16::MAX;

/// What happened. Pointers are kernel addresses used as identities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventBody {
    PagemapCreate {
        pgmap: u64,
        memory_type: u32,
        fs_dax: bool,
        pfn_start: u64,
        pfn_end: u64,
        nr_range: u32,
        owner: u64,
        ret: i64,
    },
    PagemapDestroy {
        pgmap: u64,
    },
    Claim {
        /// The dax_device granted; 0 when the claim was refused or the lookup failed.
        dax_dev: u64,
        holder: u64,
        holder_ops: u64,
        bdev: Dev,
        disk: String,
        granted: bool,
        api: ClaimApi,
        start_off: u64,
    },
    Release {
        dax_dev: u64,
        holder: u64,
        api: ClaimApi,
        /// `dax_device.holder_data` before the release (0 where the kernel has no holders).
        holder_before: u64,
    },
    DaxAlloc {
        dax_dev: u64,
        private: u64,
    },
    DaxKill {
        dax_dev: u64,
        holder: u64,
    },
    DaxAddHost {
        dax_dev: u64,
        disk: String,
    },
    PageIdle {
        pgmap: u64,
        pfn: u64,
        page: u64,
        refcount: u64,
    },
    BusyPage {
        mapping: u64,
        page: u64,
        pfn: u64,
        ino: u64,
        dev: Dev,
        pgmap: u64,
        refcount: u64,
        /// The page's index in the file (its pgoff); `None` when unknown
        /// (no BTF offset, or a trace from before daxtrace read it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
    },
    WaitBegin {
        inode: u64,
        ino: u64,
        dev: Dev,
        api: WaitApi,
    },
    WaitEnd {
        inode: u64,
        ino: u64,
        dev: Dev,
        api: WaitApi,
        latency_ns: u64,
        ret: i64,
        busy_pfn: Option<u64>,
        busy_hits: u64,
    },
    DmAccess {
        dm_dax_dev: u64,
        member_dax_dev: u64,
        dm_pgoff: u64,
        member_pgoff: u64,
        nr_pages: u64,
    },
    DmTableDax {
        table: u64,
        capable: bool,
    },
    DmMember {
        member_dax_dev: u64,
        taken: bool,
        bdev: Dev,
        disk: String,
    },
    Fault {
        dev: Dev,
        ino: u64,
        address: u64,
        pgoff: u64,
        result: u32,
        pmd: bool,
    },
    MemoryFailure {
        pfn: u64,
        mf_type: u32,
        result: u32,
    },
    HolderNotifyFailure {
        dax_dev: u64,
        offset: u64,
        len: u64,
        flags: u64,
        holder: u64,
    },
    StuckWait {
        page: u64,
        pfn: u64,
        refcount: u64,
        wait_begin_ns: u64,
        ino: u64,
        dev: Dev,
        waiter_tid: u32,
        pgmap: u64,
    },
    /// Userspace, periodic: cumulative put counters of one pagemap (summed over CPUs).
    PutStats {
        pgmap: u64,
        puts: u64,
        idles: u64,
    },
    /// Userspace, periodic: cumulative events lost at one attach point.
    Drops {
        point: u16,
        total: u64,
    },
}

impl EventBody {
    /// The stable kebab-case name of the variant (matches the serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            EventBody::PagemapCreate { .. } => "pagemap-create",
            EventBody::PagemapDestroy { .. } => "pagemap-destroy",
            EventBody::Claim { .. } => "claim",
            EventBody::Release { .. } => "release",
            EventBody::DaxAlloc { .. } => "dax-alloc",
            EventBody::DaxKill { .. } => "dax-kill",
            EventBody::DaxAddHost { .. } => "dax-add-host",
            EventBody::PageIdle { .. } => "page-idle",
            EventBody::BusyPage { .. } => "busy-page",
            EventBody::WaitBegin { .. } => "wait-begin",
            EventBody::WaitEnd { .. } => "wait-end",
            EventBody::DmAccess { .. } => "dm-access",
            EventBody::DmTableDax { .. } => "dm-table-dax",
            EventBody::DmMember { .. } => "dm-member",
            EventBody::Fault { .. } => "fault",
            EventBody::MemoryFailure { .. } => "memory-failure",
            EventBody::HolderNotifyFailure { .. } => "holder-notify-failure",
            EventBody::StuckWait { .. } => "stuck-wait",
            EventBody::PutStats { .. } => "put-stats",
            EventBody::Drops { .. } => "drops",
        }
    }
}

/// A raw record that cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("ring buffer record of {0} bytes, expected {1}")]
    Size(usize, usize),
    #[error("unknown event kind {0} from attach point {1}")]
    UnknownKind(u16, u16),
}

/// Reads a NUL-padded C string slot.
fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    // The common case (valid UTF-8) skips the lossy scan.
    match std::str::from_utf8(&bytes[..end]) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(&bytes[..end]).into_owned(),
    }
}

/// Decodes a ring buffer record (exactly one [`RawEvent`]).
pub fn decode_bytes(bytes: &[u8]) -> Result<Event, DecodeError> {
    if bytes.len() != dax_trace_common::RAW_EVENT_SIZE {
        return Err(DecodeError::Size(
            bytes.len(),
            dax_trace_common::RAW_EVENT_SIZE,
        ));
    }
    // SAFETY: the length is checked, RawEvent is repr(C) plain data in which every
    // bit pattern is valid, and read_unaligned copes with any alignment.
    let raw = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RawEvent>()) };
    decode(&raw)
}

/// Decodes one raw event.
pub fn decode(raw: &RawEvent) -> Result<Event, DecodeError> {
    let a = raw.a;
    // Only three kinds carry a disk name: read it for those alone.
    let name = || c_str(&raw.name);
    let body = match raw.kind {
        kind::PAGEMAP_CREATE => EventBody::PagemapCreate {
            pgmap: a[0],
            memory_type: a[1] as u32,
            pfn_start: a[2],
            pfn_end: a[3],
            nr_range: a[4] as u32,
            owner: a[5],
            ret: a[6] as i64,
            fs_dax: a[7] != 0,
        },
        kind::PAGEMAP_DESTROY => EventBody::PagemapDestroy { pgmap: a[0] },
        kind::CLAIM => EventBody::Claim {
            dax_dev: a[0],
            holder: a[1],
            bdev: Dev(a[2] as u32),
            holder_ops: a[3],
            granted: a[4] != 0,
            api: ClaimApi::from(a[5]),
            start_off: a[6],
            disk: name(),
        },
        kind::RELEASE => EventBody::Release {
            dax_dev: a[0],
            holder: a[1],
            api: ClaimApi::from(a[2]),
            holder_before: a[3],
        },
        kind::DAX_ALLOC => EventBody::DaxAlloc {
            dax_dev: a[0],
            private: a[1],
        },
        kind::DAX_KILL => EventBody::DaxKill {
            dax_dev: a[0],
            holder: a[1],
        },
        kind::DAX_ADD_HOST => EventBody::DaxAddHost {
            dax_dev: a[0],
            disk: name(),
        },
        kind::PAGE_IDLE => EventBody::PageIdle {
            pgmap: a[0],
            pfn: a[1],
            page: a[2],
            refcount: a[3],
        },
        kind::BUSY_PAGE => EventBody::BusyPage {
            mapping: a[0],
            page: a[1],
            pfn: a[2],
            ino: a[3],
            dev: Dev(a[4] as u32),
            pgmap: a[5],
            refcount: a[6],
            index: a[7].checked_sub(1),
        },
        kind::WAIT_BEGIN => EventBody::WaitBegin {
            inode: a[0],
            ino: a[1],
            dev: Dev(a[2] as u32),
            api: WaitApi::from(a[3]),
        },
        kind::WAIT_END => EventBody::WaitEnd {
            inode: a[0],
            ino: a[1],
            dev: Dev(a[2] as u32),
            api: WaitApi::from(a[3]),
            latency_ns: a[4],
            ret: a[5] as i64,
            busy_pfn: (a[6] != 0).then_some(a[6]),
            busy_hits: a[7],
        },
        kind::DM_ACCESS => EventBody::DmAccess {
            dm_dax_dev: a[0],
            member_dax_dev: a[1],
            dm_pgoff: a[2],
            member_pgoff: a[3],
            nr_pages: a[4],
        },
        kind::DM_TABLE_DAX => EventBody::DmTableDax {
            table: a[0],
            capable: a[1] != 0,
        },
        kind::DM_MEMBER => EventBody::DmMember {
            member_dax_dev: a[0],
            taken: a[1] != 0,
            bdev: Dev(a[2] as u32),
            disk: name(),
        },
        kind::FAULT => EventBody::Fault {
            dev: Dev(a[0] as u32),
            ino: a[1],
            address: a[2],
            pgoff: a[3],
            result: a[4] as u32,
            pmd: a[5] != 0,
        },
        kind::MEMORY_FAILURE => EventBody::MemoryFailure {
            pfn: a[0],
            mf_type: a[1] as u32,
            result: a[2] as u32,
        },
        kind::HOLDER_NOTIFY_FAILURE => EventBody::HolderNotifyFailure {
            dax_dev: a[0],
            offset: a[1],
            len: a[2],
            flags: a[3],
            holder: a[4],
        },
        kind::STUCK_WAIT => EventBody::StuckWait {
            page: a[0],
            pfn: a[1],
            refcount: a[2],
            wait_begin_ns: a[3],
            ino: a[4],
            dev: Dev(a[5] as u32),
            waiter_tid: a[6] as u32,
            pgmap: a[7],
        },
        other => return Err(DecodeError::UnknownKind(other, raw.point)),
    };
    Ok(Event {
        ts_ns: raw.ts_ns,
        cpu: raw.cpu,
        pid: raw.pid,
        tid: raw.tid,
        comm: Comm::from_c_bytes(&raw.comm),
        point: raw.point,
        body,
    })
}

impl ClaimApi {
    /// The ABI number of the API (0, decoded back as `Unknown`, for `Unknown`).
    pub const fn to_u64(self) -> u64 {
        match self {
            Self::FsDaxGetByBdev => probe::ClaimApi::FsDaxGetByBdev as u64,
            Self::DaxGetByHost => probe::ClaimApi::DaxGetByHost as u64,
            Self::FsDaxGet => probe::ClaimApi::FsDaxGet as u64,
            Self::SeedFsDaxClaim => probe::ClaimApi::SeedFsDaxClaim as u64,
            Self::SeedDmClaim => probe::ClaimApi::SeedDmClaim as u64,
            Self::FsPutDax => probe::ClaimApi::FsPutDax as u64,
            Self::PutDax => probe::ClaimApi::PutDax as u64,
            Self::Unknown => 0,
        }
    }
}

impl WaitApi {
    /// The ABI number of the API (0, decoded back as `Unknown`, for `Unknown`).
    pub const fn to_u64(self) -> u64 {
        match self {
            Self::Ext4BreakLayouts => probe::WaitApi::Ext4BreakLayouts as u64,
            Self::XfsBreakLayouts => probe::WaitApi::XfsBreakLayouts as u64,
            Self::DaxBreakLayout => probe::WaitApi::DaxBreakLayout as u64,
            Self::FuseDaxBreakLayouts => probe::WaitApi::FuseDaxBreakLayouts as u64,
            Self::Unknown => 0,
        }
    }
}

/// Copies `s` into a NUL-padded slot; `None` when [`c_str`] would not give it
/// back unchanged (too long, or holding a NUL).
fn put_c_str(slot: &mut [u8], s: &str) -> Option<()> {
    let bytes = s.as_bytes();
    if bytes.len() > slot.len() || bytes.contains(&0) {
        return None;
    }
    slot[..bytes.len()].copy_from_slice(bytes);
    Some(())
}

/// The inverse of [`decode`]: the raw record that decodes to exactly `event`.
///
/// `None` when no raw record does: userspace-made bodies (`PutStats`, `Drops`)
/// have no kernel kind, and strings longer than their slot, strings holding a
/// NUL and `busy_pfn: Some(0)` cannot be represented. Trace files store such
/// events another way.
pub fn encode(event: &Event) -> Option<RawEvent> {
    let mut raw = RawEvent::zeroed();
    raw.ts_ns = event.ts_ns;
    raw.cpu = event.cpu;
    raw.pid = event.pid;
    raw.tid = event.tid;
    raw.point = event.point;
    raw.comm = event.comm.to_c_bytes();
    let (kind, a) = match &event.body {
        EventBody::PagemapCreate {
            pgmap,
            memory_type,
            fs_dax,
            pfn_start,
            pfn_end,
            nr_range,
            owner,
            ret,
        } => (
            kind::PAGEMAP_CREATE,
            [
                *pgmap,
                u64::from(*memory_type),
                *pfn_start,
                *pfn_end,
                u64::from(*nr_range),
                *owner,
                *ret as u64,
                u64::from(*fs_dax),
            ],
        ),
        EventBody::PagemapDestroy { pgmap } => {
            (kind::PAGEMAP_DESTROY, [*pgmap, 0, 0, 0, 0, 0, 0, 0])
        }
        EventBody::Claim {
            dax_dev,
            holder,
            holder_ops,
            bdev,
            disk,
            granted,
            api,
            start_off,
        } => {
            put_c_str(&mut raw.name, disk)?;
            (
                kind::CLAIM,
                [
                    *dax_dev,
                    *holder,
                    u64::from(bdev.0),
                    *holder_ops,
                    u64::from(*granted),
                    api.to_u64(),
                    *start_off,
                    0,
                ],
            )
        }
        EventBody::Release {
            dax_dev,
            holder,
            api,
            holder_before,
        } => (
            kind::RELEASE,
            [*dax_dev, *holder, api.to_u64(), *holder_before, 0, 0, 0, 0],
        ),
        EventBody::DaxAlloc { dax_dev, private } => {
            (kind::DAX_ALLOC, [*dax_dev, *private, 0, 0, 0, 0, 0, 0])
        }
        EventBody::DaxKill { dax_dev, holder } => {
            (kind::DAX_KILL, [*dax_dev, *holder, 0, 0, 0, 0, 0, 0])
        }
        EventBody::DaxAddHost { dax_dev, disk } => {
            put_c_str(&mut raw.name, disk)?;
            (kind::DAX_ADD_HOST, [*dax_dev, 0, 0, 0, 0, 0, 0, 0])
        }
        EventBody::PageIdle {
            pgmap,
            pfn,
            page,
            refcount,
        } => (
            kind::PAGE_IDLE,
            [*pgmap, *pfn, *page, *refcount, 0, 0, 0, 0],
        ),
        EventBody::BusyPage {
            mapping,
            page,
            pfn,
            ino,
            dev,
            pgmap,
            refcount,
            index,
        } => (
            kind::BUSY_PAGE,
            [
                *mapping,
                *page,
                *pfn,
                *ino,
                u64::from(dev.0),
                *pgmap,
                *refcount,
                match index {
                    Some(i) => i.checked_add(1)?,
                    None => 0,
                },
            ],
        ),
        EventBody::WaitBegin {
            inode,
            ino,
            dev,
            api,
        } => (
            kind::WAIT_BEGIN,
            [*inode, *ino, u64::from(dev.0), api.to_u64(), 0, 0, 0, 0],
        ),
        EventBody::WaitEnd {
            inode,
            ino,
            dev,
            api,
            latency_ns,
            ret,
            busy_pfn,
            busy_hits,
        } => {
            let busy_pfn = match busy_pfn {
                Some(0) => return None,
                Some(pfn) => *pfn,
                None => 0,
            };
            (
                kind::WAIT_END,
                [
                    *inode,
                    *ino,
                    u64::from(dev.0),
                    api.to_u64(),
                    *latency_ns,
                    *ret as u64,
                    busy_pfn,
                    *busy_hits,
                ],
            )
        }
        EventBody::DmAccess {
            dm_dax_dev,
            member_dax_dev,
            dm_pgoff,
            member_pgoff,
            nr_pages,
        } => (
            kind::DM_ACCESS,
            [
                *dm_dax_dev,
                *member_dax_dev,
                *dm_pgoff,
                *member_pgoff,
                *nr_pages,
                0,
                0,
                0,
            ],
        ),
        EventBody::DmTableDax { table, capable } => (
            kind::DM_TABLE_DAX,
            [*table, u64::from(*capable), 0, 0, 0, 0, 0, 0],
        ),
        EventBody::DmMember {
            member_dax_dev,
            taken,
            bdev,
            disk,
        } => {
            put_c_str(&mut raw.name, disk)?;
            (
                kind::DM_MEMBER,
                [
                    *member_dax_dev,
                    u64::from(*taken),
                    u64::from(bdev.0),
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        }
        EventBody::Fault {
            dev,
            ino,
            address,
            pgoff,
            result,
            pmd,
        } => (
            kind::FAULT,
            [
                u64::from(dev.0),
                *ino,
                *address,
                *pgoff,
                u64::from(*result),
                u64::from(*pmd),
                0,
                0,
            ],
        ),
        EventBody::MemoryFailure {
            pfn,
            mf_type,
            result,
        } => (
            kind::MEMORY_FAILURE,
            [*pfn, u64::from(*mf_type), u64::from(*result), 0, 0, 0, 0, 0],
        ),
        EventBody::HolderNotifyFailure {
            dax_dev,
            offset,
            len,
            flags,
            holder,
        } => (
            kind::HOLDER_NOTIFY_FAILURE,
            [*dax_dev, *offset, *len, *flags, *holder, 0, 0, 0],
        ),
        EventBody::StuckWait {
            page,
            pfn,
            refcount,
            wait_begin_ns,
            ino,
            dev,
            waiter_tid,
            pgmap,
        } => (
            kind::STUCK_WAIT,
            [
                *page,
                *pfn,
                *refcount,
                *wait_begin_ns,
                *ino,
                u64::from(dev.0),
                u64::from(*waiter_tid),
                *pgmap,
            ],
        ),
        EventBody::PutStats { .. } | EventBody::Drops { .. } => return None,
    };
    raw.kind = kind;
    raw.a = a;
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: u16) -> RawEvent {
        let mut r = RawEvent::zeroed();
        r.kind = kind;
        r.ts_ns = 42;
        r.pid = 7;
        r.tid = 8;
        r.comm[..5].copy_from_slice(b"mount");
        r
    }

    #[test]
    fn claim_decodes_every_slot() {
        let mut r = raw(kind::CLAIM);
        r.a = [
            0xffff_1000,
            0xffff_2000,
            Dev::new(259, 0).0 as u64,
            0xffff_3000,
            1,
            1,
            4096,
            0,
        ];
        r.name[..5].copy_from_slice(b"pmem0");
        let e = decode(&r).expect("decodes");
        assert_eq!(e.comm, "mount");
        assert_eq!(
            e.body,
            EventBody::Claim {
                dax_dev: 0xffff_1000,
                holder: 0xffff_2000,
                holder_ops: 0xffff_3000,
                bdev: Dev::new(259, 0),
                disk: "pmem0".into(),
                granted: true,
                api: ClaimApi::FsDaxGetByBdev,
                start_off: 4096,
            }
        );
    }

    #[test]
    fn wait_end_without_busy_page_has_no_pfn() {
        let mut r = raw(kind::WAIT_END);
        r.a = [1, 12, 5, 2, 1_000, (-4i64) as u64, 0, 0];
        match decode(&r).expect("decodes").body {
            EventBody::WaitEnd {
                busy_pfn, ret, api, ..
            } => {
                assert_eq!(busy_pfn, None);
                assert_eq!(ret, -4);
                assert_eq!(api, WaitApi::XfsBreakLayouts);
            }
            other => panic!("wrong body {other:?}"),
        }
    }

    #[test]
    fn unknown_kind_and_bad_size_are_errors() {
        assert_eq!(decode(&raw(999)), Err(DecodeError::UnknownKind(999, 0)));
        assert_eq!(decode_bytes(&[0u8; 10]), Err(DecodeError::Size(10, 136)));
    }

    #[test]
    fn dev_t_round_trips_and_prints_like_ls() {
        let d = Dev::new(259, 3);
        assert_eq!((d.major(), d.minor()), (259, 3));
        assert_eq!(d.to_string(), "259:3");
    }

    #[test]
    fn event_serializes_with_a_type_tag() {
        let e = decode(&raw(kind::PAGEMAP_DESTROY)).expect("decodes");
        let json = serde_json::to_string(&e).expect("serializes");
        assert!(json.contains(r#""type":"pagemap-destroy""#), "{json}");
        let back: Event = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, e);
    }

    #[test]
    fn encode_inverts_decode_for_every_kernel_kind() {
        for k in 1..=kind::DM_MEMBER {
            let mut r = raw(k);
            r.point = 3;
            r.cpu = 1;
            // Slots a decoder ignores must be zero for the inverse to be exact,
            // so start from a decoded event rather than from arbitrary slots.
            r.a = [11, 1, 13, 14, 1, 2, 17, 18];
            r.name[..5].copy_from_slice(b"pmem1");
            let event = decode(&r).expect("decodes");
            let again = encode(&event).expect("kernel kinds encode");
            assert_eq!(decode(&again).expect("decodes"), event, "kind {k}");
        }
    }

    #[test]
    fn unrepresentable_events_do_not_encode() {
        let mut e = decode(&raw(kind::PAGEMAP_DESTROY)).expect("decodes");
        e.body = EventBody::Drops { point: 1, total: 2 };
        assert_eq!(encode(&e), None);
        e.body = EventBody::DaxAddHost {
            dax_dev: 1,
            disk: "nul\0inside".into(),
        };
        assert_eq!(encode(&e), None);
    }
}
