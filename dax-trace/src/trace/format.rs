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
//! The first record is the header, the last the summary; events (and, from
//! version 2, stack and state records) lie between.
use serde::{Deserialize, Serialize};

use crate::session::SessionInfo;

/// The version written. Bumped on any incompatible change (a new event kind,
/// a change of a payload struct or of the event header).
pub const FORMAT_VERSION: u32 = 6;
/// The oldest version still read (see `v1.rs`).
pub const OLDEST_READABLE_VERSION: u32 = 1;
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
    /// Version 1 only: an event in the 136-byte slot layout (`v1.rs`).
    RawEvent = 2,
    /// An event as JSON (serde of [`crate::event::Event`]).
    JsonEvent = 3,
    /// JSON [`Summary`]; always the last record.
    Summary = 4,
    /// Version 2: an event in its binary form, the 40-byte event header and
    /// its kind's payload struct (little-endian), as the ring buffer carries it.
    Event = 5,
    /// Version 2: JSON [`StackRecord`](crate::stacks::StackRecord), one per
    /// distinct kernel stack, before the first event that names its id.
    Stack = 6,
    /// Version 2: JSON [`StateRecord`], the state of the system at the start
    /// of the trace and its later updates.
    State = 7,
}

impl Tag {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Header,
            2 => Self::RawEvent,
            3 => Self::JsonEvent,
            4 => Self::Summary,
            5 => Self::Event,
            6 => Self::Stack,
            7 => Self::State,
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

    /// The triggers of a flight-recorder dump (`stuck-wait`, or several
    /// comma-separated), from its [`FLIGHT_WINDOW`] filter; `None` for a
    /// whole recording.
    pub fn flight_window(&self) -> Option<&str> {
        self.filters
            .iter()
            .find_map(|f| f.strip_prefix(FLIGHT_WINDOW))
    }
}

/// The filter string that marks a file as a flight-recorder window
/// (`record --ring`), followed by the triggers that made the dump:
/// `flight-window=stuck-wait`. The file then holds the state at start and
/// the last events before (and shortly after) the trigger, not the whole
/// history: readers must not judge it as if it did.
pub const FLIGHT_WINDOW: &str = "flight-window=";

/// The state of the system as a front end found it, many entries in one
/// record: at the start of a trace (`reason` "start") and whenever it changes
/// in ways events do not carry ("update").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    /// When the state was read (CLOCK_MONOTONIC, like events).
    pub ts_ns: u64,
    pub reason: String,
    /// The inventory: kinds of entries by name (`pagemaps`, `dax_devices`,
    /// `mounts`, `dm_tables`, `waits`, `busy_pages`), each a list of objects.
    /// Readers ignore names they do not know.
    #[serde(default)]
    pub entries: serde_json::Map<String, serde_json::Value>,
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

#[cfg(test)]
mod tests {
    use super::*;

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
