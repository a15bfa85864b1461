//! The on-disk layout: preamble, record framing, record payloads. Shared by
//! the writer and the reader so both sides use the same constants.
//!
//! ```text
//! preamble  "DAXTRACE" (8 bytes) | format version u32 LE | flags u32 LE (0)
//! record    crc32 u32 LE | length u32 LE | tag u8 | payload (length bytes)
//!           crc32 (IEEE) covers the length bytes, the tag and the payload:
//!           everything after it, one contiguous run of bytes
//! ```
//!
//! The first record is the header, the last the summary; events lie between.
use dax_trace_common::{ARGS, COMM_LEN, NAME_LEN, RAW_EVENT_SIZE, RawEvent};
use serde::{Deserialize, Serialize};

use crate::session::SessionInfo;

/// Bumped on any incompatible change (including new event kinds or a change
/// of [`RawEvent`]).
pub const FORMAT_VERSION: u32 = 1;
/// The first bytes of every trace file.
pub const MAGIC: [u8; 8] = *b"DAXTRACE";
/// Magic, version, flags.
pub const PREAMBLE_LEN: usize = 16;
/// CRC, length, tag.
pub const FRAME_LEN: usize = 9;
/// Where the bytes the CRC covers start in a record.
pub const CRC_COVERS_FROM: usize = 4;
/// Payloads longer than this are corruption, not data (the header with a full
/// probe table is a few tens of KiB).
pub const MAX_PAYLOAD: u32 = 4 << 20;

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// JSON [`Header`]; always the first record.
    Header = 1,
    /// An event in the 136-byte raw layout (little-endian).
    RawEvent = 2,
    /// An event as JSON (serde of [`crate::event::Event`]).
    JsonEvent = 3,
    /// JSON [`Summary`]; always the last record.
    Summary = 4,
}

impl Tag {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Header,
            2 => Self::RawEvent,
            3 => Self::JsonEvent,
            4 => Self::Summary,
            _ => return None,
        })
    }
}

/// The first record: everything needed to interpret the events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    /// The daxtrace version that recorded the file.
    pub tool_version: String,
    /// argv of the recording command.
    pub command_line: Vec<String>,
    /// When recording started, Unix-epoch nanoseconds.
    pub started_unix_ns: i64,
    /// Filters applied while recording (e.g. `dev=259:0`); empty: none.
    pub filters: Vec<String>,
    /// Kernel release, probe table as attached, BTF offsets, clock mapping.
    pub session: SessionInfo,
}

impl Header {
    /// A header for this daxtrace version and this process's command line.
    pub fn new(session: SessionInfo, filters: Vec<String>) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: std::env::args().collect(),
            started_unix_ns: unix_now_ns(),
            filters,
            session,
        }
    }
}

/// The last record, written when a recording finishes properly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Events in the file (raw and JSON records).
    pub events: u64,
    /// Events lost in the kernel: the sum over points of the last `Drops` total.
    pub drops: u64,
    /// `ts_ns` of the first and last event (CLOCK_MONOTONIC).
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    /// When recording ended, Unix-epoch nanoseconds.
    pub ended_unix_ns: i64,
    /// Why recording ended (`duration`, `interrupted`, `terminated`, `source-ended`).
    pub end_reason: String,
}

/// Current CLOCK_REALTIME in nanoseconds (0 before the epoch).
pub fn unix_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The preamble of this format version.
pub fn preamble() -> [u8; PREAMBLE_LEN] {
    let mut p = [0u8; PREAMBLE_LEN];
    p[..8].copy_from_slice(&MAGIC);
    p[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    p
}

/// The frame of a record whose payload follows: CRC, length, tag.
pub fn frame_head(tag: Tag, payload: &[u8]) -> [u8; FRAME_LEN] {
    let len = payload.len() as u32;
    let mut head = [0u8; FRAME_LEN];
    head[0..4].copy_from_slice(&record_crc(len, tag as u8, payload).to_le_bytes());
    head[4..8].copy_from_slice(&len.to_le_bytes());
    head[8] = tag as u8;
    head
}

/// CRC of a record: its length bytes, tag and payload (the same as
/// `crc32fast::hash` of the record's bytes from [`CRC_COVERS_FROM`] on).
pub fn record_crc(len: u32, tag: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&[tag]);
    h.update(payload);
    h.finalize()
}

/// Writes `raw` in the little-endian on-disk layout.
pub fn raw_to_le(raw: &RawEvent, out: &mut [u8; RAW_EVENT_SIZE]) {
    out[0..8].copy_from_slice(&raw.ts_ns.to_le_bytes());
    out[8..10].copy_from_slice(&raw.kind.to_le_bytes());
    out[10..12].copy_from_slice(&raw.point.to_le_bytes());
    out[12..16].copy_from_slice(&raw.cpu.to_le_bytes());
    out[16..20].copy_from_slice(&raw.pid.to_le_bytes());
    out[20..24].copy_from_slice(&raw.tid.to_le_bytes());
    out[24..24 + COMM_LEN].copy_from_slice(&raw.comm);
    let a_start = 24 + COMM_LEN;
    for (i, v) in raw.a.iter().enumerate() {
        out[a_start + i * 8..a_start + i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    let n_start = a_start + ARGS * 8;
    out[n_start..n_start + NAME_LEN].copy_from_slice(&raw.name);
}

/// Reads the little-endian on-disk layout.
pub fn raw_from_le(b: &[u8; RAW_EVENT_SIZE]) -> RawEvent {
    let u64_at = |i: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(v)
    };
    let u32_at = |i: usize| {
        let mut v = [0u8; 4];
        v.copy_from_slice(&b[i..i + 4]);
        u32::from_le_bytes(v)
    };
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut raw = RawEvent::zeroed();
    raw.ts_ns = u64_at(0);
    raw.kind = u16_at(8);
    raw.point = u16_at(10);
    raw.cpu = u32_at(12);
    raw.pid = u32_at(16);
    raw.tid = u32_at(20);
    raw.comm.copy_from_slice(&b[24..24 + COMM_LEN]);
    let a_start = 24 + COMM_LEN;
    for (i, slot) in raw.a.iter_mut().enumerate() {
        *slot = u64_at(a_start + i * 8);
    }
    let n_start = a_start + ARGS * 8;
    raw.name.copy_from_slice(&b[n_start..n_start + NAME_LEN]);
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_layout_round_trips_and_is_little_endian() {
        let mut raw = RawEvent::zeroed();
        raw.ts_ns = 0x0102_0304_0506_0708;
        raw.kind = 3;
        raw.point = 0x0a0b;
        raw.cpu = 1;
        raw.pid = 2;
        raw.tid = 3;
        raw.comm[0] = b'x';
        raw.a = [1, 2, 3, 4, 5, 6, 7, u64::MAX];
        raw.name[31] = b'z';
        let mut buf = [0u8; RAW_EVENT_SIZE];
        raw_to_le(&raw, &mut buf);
        assert_eq!(buf[0], 0x08);
        assert_eq!(&buf[10..12], &[0x0b, 0x0a]);
        assert_eq!(buf[RAW_EVENT_SIZE - 1], b'z');
        assert_eq!(raw_from_le(&buf), raw);
    }

    #[test]
    fn crc_covers_length_tag_and_payload() {
        let base = record_crc(3, 2, b"abc");
        assert_ne!(base, record_crc(4, 2, b"abc"));
        assert_ne!(base, record_crc(3, 1, b"abc"));
        assert_ne!(base, record_crc(3, 2, b"abd"));
        let mut record = frame_head(Tag::RawEvent, b"abc").to_vec();
        record.extend_from_slice(b"abc");
        assert_eq!(&record[0..4], &base.to_le_bytes());
        assert_eq!(crc32fast::hash(&record[CRC_COVERS_FROM..]), base);
    }
}
