//! The decoded event model: what the probes report, in one type that live
//! capture, trace replay, the collector, the exporters and the TUI all share.
//!
//! Nothing here is written per kind: [`EventBody`] has one variant per
//! payload struct of `dax_trace_common::payload`, and its name, its JSON form
//! (serde of the payload struct, tagged with the kind's name), its binary
//! form and its decoder are generated from `dax_trace_common::for_each_kind!`.
//! The binary form of an event (what the ring buffer carries and what a
//! version-2 trace file stores) is the 40-byte [`EventHeader`] followed by the
//! payload struct's bytes; [`decode_bytes`] reads it with one length check and
//! one unaligned copy.
mod devices;

use crate::comm::Comm;
use dax_trace_common::NAME_LEN;
use dax_trace_common::{EventHeader, HEADER_SIZE, Payload};
use serde::{Deserialize, Serialize};

pub use dax_trace_common::field::{
    ClaimApiCode, Dev, DiskName, Flag, OptU64, PathName, ShortName, WaitApiCode,
};
pub use dax_trace_common::payload::*;
pub use dax_trace_common::probe::{ClaimApi, WaitApi};

// The binary form is the programs' native layout, stored as is in trace
// files, which are defined as little-endian.
#[cfg(not(target_endian = "little"))]
compile_error!("daxtrace reads and writes the little-endian event layout only");

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

impl Event {
    /// An event daxtrace makes itself (stats, drops, the state readers).
    pub fn own(ts_ns: u64, body: EventBody) -> Event {
        Event {
            ts_ns,
            cpu: 0,
            pid: std::process::id(),
            tid: 0,
            comm: "daxtrace".into(),
            point: USERSPACE_POINT,
            body,
        }
    }

    /// An event daxtrace makes about thread `tid` (its pid is not known: 0).
    pub fn of_task(ts_ns: u64, tid: u32, comm: &str, body: EventBody) -> Event {
        Event {
            ts_ns,
            cpu: 0,
            pid: 0,
            tid,
            comm: comm.into(),
            point: USERSPACE_POINT,
            body,
        }
    }
}

/// A binary record that cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("event record of {0} bytes is shorter than its {HEADER_SIZE}-byte header")]
    Short(usize),
    #[error("{name} event of {got} payload bytes, expected {expected}")]
    Size {
        name: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("unknown event kind {0} from attach point {1}")]
    UnknownKind(u16, u16),
}

/// Views `bytes` as the payload `P` (exactly its size, any alignment).
fn read_payload<P: Payload + bytemuck::Pod>(bytes: &[u8]) -> Result<P, DecodeError> {
    if bytes.len() != size_of::<P>() {
        return Err(DecodeError::Size {
            name: P::NAME,
            got: bytes.len(),
            expected: size_of::<P>(),
        });
    }
    Ok(bytemuck::pod_read_unaligned(bytes))
}

const fn max(sizes: &[usize]) -> usize {
    let mut m = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > m {
            m = sizes[i];
        }
        i += 1;
    }
    m
}

macro_rules! event_body {
    ($($konst:ident = $num:literal, $ty:ident, $name:literal, $by:ident;)*) => {
        /// What happened: the payload of one event kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        pub enum EventBody {
            $(
                #[serde(rename = $name)]
                $ty($ty),
            )*
        }

        impl EventBody {
            /// The stable kebab-case name of the kind (the JSON `type`).
            pub fn name(&self) -> &'static str {
                match self {
                    $(EventBody::$ty(_) => $name,)*
                }
            }

            /// The kind number.
            pub fn kind(&self) -> u16 {
                match self {
                    $(EventBody::$ty(_) => $num,)*
                }
            }

            /// The payload's bytes in the binary form.
            pub fn payload_bytes(&self) -> &[u8] {
                match self {
                    $(EventBody::$ty(p) => bytemuck::bytes_of(p),)*
                }
            }

            /// Reads the payload of kind `kind` from its bytes.
            fn from_payload(kind: u16, point: u16, bytes: &[u8]) -> Result<Self, DecodeError> {
                match kind {
                    $($num => read_payload::<$ty>(bytes).map(EventBody::$ty),)*
                    other => Err(DecodeError::UnknownKind(other, point)),
                }
            }
        }

        /// Position of each kind in the kind list (for per-kind arrays).
        #[derive(Clone, Copy)]
        enum Ordinal {
            $($ty,)*
            Count,
        }

        impl EventBody {
            /// The kind's position in the kind list, below [`KIND_COUNT`].
            pub fn ordinal(&self) -> usize {
                match self {
                    $(EventBody::$ty(_) => Ordinal::$ty as usize,)*
                }
            }
        }

        /// Number of event kinds.
        pub const KIND_COUNT: usize = Ordinal::Count as usize;
        /// The name of every kind, at its [`EventBody::ordinal`].
        pub const KIND_NAMES: [&str; KIND_COUNT] = [$($name,)*];

        $(
            impl From<$ty> for EventBody {
                fn from(p: $ty) -> Self {
                    EventBody::$ty(p)
                }
            }
        )*

        /// The largest payload of any kind.
        pub const MAX_PAYLOAD_SIZE: usize = max(&[$(size_of::<$ty>(),)*]);
    };
}

dax_trace_common::for_each_kind!(event_body);

/// The largest binary event.
pub const MAX_EVENT_SIZE: usize = HEADER_SIZE + MAX_PAYLOAD_SIZE;

/// Decodes one binary event: a header and its kind's payload, nothing more.
pub fn decode_bytes(bytes: &[u8]) -> Result<Event, DecodeError> {
    let Some((head, payload)) = bytes.split_at_checked(HEADER_SIZE) else {
        return Err(DecodeError::Short(bytes.len()));
    };
    let header: EventHeader = bytemuck::pod_read_unaligned(head);
    let body = EventBody::from_payload(header.kind, header.point, payload)?;
    Ok(Event {
        ts_ns: header.ts_ns,
        cpu: header.cpu,
        pid: header.pid,
        tid: header.tid,
        comm: Comm::from_c_bytes(&header.comm),
        point: header.point,
        body,
    })
}

/// Kinds whose payload grew by appended fields, with the format version that
/// appended them and how many bytes: a record of an older file is that much
/// shorter and reads with the new fields zero (a stack id of 0 is "none").
const APPENDED: [(u16, u32, usize); 8] = [
    (dax_trace_common::kind::CLAIM, 3, 8),
    (dax_trace_common::kind::RELEASE, 3, 8),
    (dax_trace_common::kind::WAIT_BEGIN, 3, 8),
    (dax_trace_common::kind::STATE_WAIT, 4, 8),
    // dev, path_from, ino: the file the kernel named at the refusal.
    (dax_trace_common::kind::REFUSED_PIN, 5, 16),
    // The memory kind (and padding), device and driver names.
    (dax_trace_common::kind::PAGEMAP_CREATE, 5, 8 + 2 * NAME_LEN),
    // The memory kind (and padding) and driver name.
    (dax_trace_common::kind::STATE_PAGEMAP, 5, 8 + NAME_LEN),
    // The device-dax device and driver names.
    (dax_trace_common::kind::STATE_DAX_DEVICE, 5, 2 * NAME_LEN),
];

/// Decodes one binary event of a trace file of format `version`: records of
/// kinds that grew since that version are zero-extended (see [`APPENDED`]),
/// everything else is [`decode_bytes`].
pub fn decode_bytes_of_version(bytes: &[u8], version: u32) -> Result<Event, DecodeError> {
    if bytes.len() >= HEADER_SIZE {
        let header: EventHeader = bytemuck::pod_read_unaligned(&bytes[..HEADER_SIZE]);
        let grown: usize = APPENDED
            .iter()
            .filter(|(kind, since, _)| *kind == header.kind && version < *since)
            .map(|(_, _, bytes)| bytes)
            .sum();
        if grown > 0 && bytes.len() + grown <= MAX_EVENT_SIZE {
            let mut full = [0u8; MAX_EVENT_SIZE];
            full[..bytes.len()].copy_from_slice(bytes);
            return decode_bytes(&full[..bytes.len() + grown]);
        }
    }
    decode_bytes(bytes)
}

/// Writes the binary form of `event` into the front of `out` and returns its
/// length; the inverse of [`decode_bytes`].
pub fn encode_into(event: &Event, out: &mut [u8; MAX_EVENT_SIZE]) -> usize {
    let header = EventHeader {
        ts_ns: event.ts_ns,
        kind: event.body.kind(),
        point: event.point,
        cpu: event.cpu,
        pid: event.pid,
        tid: event.tid,
        comm: event.comm.to_c_bytes(),
    };
    let payload = event.body.payload_bytes();
    out[..HEADER_SIZE].copy_from_slice(bytemuck::bytes_of(&header));
    out[HEADER_SIZE..HEADER_SIZE + payload.len()].copy_from_slice(payload);
    HEADER_SIZE + payload.len()
}

#[cfg(test)]
mod tests;
