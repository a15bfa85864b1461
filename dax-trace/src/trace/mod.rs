//! Trace files: what `daxtrace record` writes and replay, report, check and
//! export read back. The layout is specified in `docs/trace-format.md`.
//!
//! # Why this encoding
//!
//! Page events can arrive at millions per second, and replay should reach at
//! least 5 M events/s, so the hot path must be a copy, a CRC and a decode,
//! never a parser:
//!
//! - **Events are stored as the kernel wrote them** (version 2): the
//!   40-byte event header and the kind's `#[repr(C)]` payload struct, turned
//!   back into an [`Event`](crate::event::Event) by the same
//!   [`event::decode_bytes`](crate::event::decode_bytes) that live capture
//!   uses: one length check and one copy, no allocation. Userspace-made kinds
//!   (`put-stats`, `drops`) are payload structs too, so every event has a
//!   binary form. Version-1 files (one 136-byte slot layout for all kinds)
//!   are read by `v1.rs`.
//! - **Rare records are JSON** (the header with the whole
//!   [`SessionInfo`](crate::session::SessionInfo), the closing summary, the
//!   stack table and the state at start, which carry many entries each): they
//!   are self-describing, readable with `strings`, and can grow fields without
//!   a format bump.
//! - **Every record is framed by its length and a CRC32** (crc32fast, SIMD):
//!   a file cut anywhere (SIGKILL, power loss, full disk) replays every
//!   complete record and the reader says at which byte and why it stopped; a
//!   flipped bit fails the CRC of its record and everything before it is kept.
//!   Fixed-size blocks with one CRC would be a little smaller, but a cut would
//!   then lose a whole block instead of at most one record.
//!
//! The cost is size: 9 bytes of framing and 40 of header per event, 57 to 129
//! bytes in all depending on the kind. Page events are rare compared to the
//! puts they summarize (puts are counted in the kernel and recorded as
//! `PutStats` once a second), so the size stays modest in practice.
pub mod format;
pub mod reader;
pub mod reserve;
pub mod v1;
pub mod writer;

#[cfg(test)]
mod tests;

pub use format::{FLIGHT_WINDOW, FORMAT_VERSION, Header, StateRecord, Summary};
pub use reader::{End, Reader, Record};
pub use reserve::{Reserved, reserve};
pub use writer::{CreateOptions, Writer, create};

/// A trace file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} already exists (pass --force to overwrite it)")]
    Exists { path: String },
    #[error("reading the trace: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing the trace: {0}")]
    Write(#[source] std::io::Error),
    #[error("encoding a trace record as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("starting the thread that reads the trace: {0}")]
    Thread(#[source] std::io::Error),
    #[error("not a daxtrace trace file (no DAXTRACE magic at the start)")]
    NotATrace,
    #[error(
        "trace format version {found} is not supported (this daxtrace reads versions {oldest} to {newest})"
    )]
    Version {
        found: u32,
        oldest: u32,
        newest: u32,
    },
    /// The file ends before a complete record (or without a summary): every
    /// record before `offset` is good.
    #[error("trace truncated at byte {offset}: {reason}")]
    Truncated { offset: u64, reason: String },
    /// A record fails its checks: every record before `offset` is good.
    #[error("trace corrupt at byte {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
}
