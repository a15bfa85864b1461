//! Reading trace files. [`Reader::open`] checks the preamble and reads the
//! header; iterating yields every event and the summary in file order.
//!
//! A reader never panics on bad input and never skips: at the first record it
//! cannot trust it yields one error ([`TraceError::Truncated`] or
//! [`TraceError::Corrupt`], with the byte offset of that record) and stops.
//! Everything yielded before is intact. [`Reader::end`] then tells how the
//! file ended.
//!
//! Versions 1 and 2 are read; the version decides which event records are
//! valid (v1: slot-layout raw events, `v1.rs`; v2: binary events, stacks and
//! state). Both yield the same [`Event`]s.
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::format::{
    self, FORMAT_VERSION, FRAME_LEN, Header, MAGIC, MAX_PAYLOAD, OLDEST_READABLE_VERSION,
    PREAMBLE_LEN, StateRecord, Summary, Tag,
};
use super::{TraceError, v1};
use crate::event::{self, Event, MAX_EVENT_SIZE};
use crate::stacks::StackRecord;

/// Read buffer size.
const BUFFER: usize = 256 << 10;

/// One record after the header.
// Events are nearly every record: boxing them to shrink the rare others
// would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Event(Event),
    /// A kernel stack that later events refer to by id (version 2).
    Stack(StackRecord),
    /// The state of the system at the start, or an update of it (version 2).
    State(StateRecord),
    /// The closing summary; the last record of a finished recording.
    Summary(Summary),
}

/// How reading ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The summary was read and the file ends right after it.
    Complete,
    /// The file stops early; every record before `offset` was read.
    Truncated { offset: u64, reason: String },
    /// A record at `offset` is damaged; every record before it was read.
    Corrupt { offset: u64, reason: String },
    /// The file could not be read at `offset` (an I/O error).
    Unreadable { offset: u64, reason: String },
}

impl End {
    /// True for [`End::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, End::Complete)
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Complete => write!(f, "complete"),
            End::Truncated { offset, reason } => write!(f, "truncated at byte {offset}: {reason}"),
            End::Corrupt { offset, reason } => write!(f, "corrupt at byte {offset}: {reason}"),
            End::Unreadable { offset, reason } => {
                write!(f, "unreadable at byte {offset}: {reason}")
            }
        }
    }
}

/// Reads a trace from any byte source (a file by default).
pub struct Reader<R: Read = File> {
    frames: Frames<R>,
    version: u32,
    header: Header,
    summary: Option<Summary>,
    end: Option<End>,
    events: u64,
}

impl Reader<File> {
    /// Opens a trace file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TraceError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| TraceError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(file)
    }
}

impl<R: Read> Reader<R> {
    /// Checks the preamble and reads the header from `input`.
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut preamble = [0u8; PREAMBLE_LEN];
        let n = read_full(&mut input, &mut preamble).map_err(TraceError::Read)?;
        let magic_len = n.min(MAGIC.len());
        if preamble[..magic_len] != MAGIC[..magic_len] {
            return Err(TraceError::NotATrace);
        }
        if n < PREAMBLE_LEN {
            return Err(TraceError::Truncated {
                offset: 0,
                reason: format!("the file ends inside the preamble ({n} of {PREAMBLE_LEN} bytes)"),
            });
        }
        let version = u32::from_le_bytes([preamble[8], preamble[9], preamble[10], preamble[11]]);
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(TraceError::Version {
                found: version,
                oldest: OLDEST_READABLE_VERSION,
                newest: FORMAT_VERSION,
            });
        }
        let flags = u32::from_le_bytes([preamble[12], preamble[13], preamble[14], preamble[15]]);
        if flags != 0 {
            return Err(TraceError::Corrupt {
                offset: 12,
                reason: format!("unknown preamble flags {flags:#x}"),
            });
        }
        let mut frames = Frames::new(input, PREAMBLE_LEN as u64, version);
        let start = frames.offset;
        let tag = frames.read_frame().map_err(|e| match e {
            FrameError::Eof => TraceError::Truncated {
                offset: start,
                reason: "the file ends before the header".into(),
            },
            FrameError::Trace(e) => e,
        })?;
        if tag != Tag::Header {
            return Err(TraceError::Corrupt {
                offset: start,
                reason: format!("the first record is a {tag:?} record, not the header"),
            });
        }
        let header = serde_json::from_slice(frames.payload()).map_err(|e| TraceError::Corrupt {
            offset: start,
            reason: format!("the header is not valid JSON for this version: {e}"),
        })?;
        Ok(Self {
            frames,
            version,
            header,
            summary: None,
            end: None,
            events: 0,
        })
    }

    /// The file's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// What the recording knew about its session.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The summary, once read.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// How reading ended; `None` while records remain.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Events yielded so far.
    pub fn events_read(&self) -> u64 {
        self.events
    }

    /// Byte offset of the next record (after the last one yielded).
    pub fn offset(&self) -> u64 {
        self.frames.offset
    }

    /// The next record; `Ok(None)` at the end of a complete file.
    pub fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let start = self.frames.offset;
        let tag = match self.frames.read_frame() {
            Ok(tag) => tag,
            Err(FrameError::Eof) if self.summary.is_some() => {
                self.end = Some(End::Complete);
                return Ok(None);
            }
            Err(FrameError::Eof) => {
                return Err(self.stop(TraceError::Truncated {
                    offset: start,
                    reason: "the file ends without a summary (the recording did not finish: killed, crashed or still running)".into(),
                }));
            }
            Err(FrameError::Trace(e)) => return Err(self.stop(e)),
        };
        if self.summary.is_some() {
            return Err(self.stop(corrupt(start, "data after the summary")));
        }
        let v2 = self.version >= 2;
        let record = match tag {
            Tag::RawEvent if !v2 => {
                let bytes: &[u8; v1::RAW_EVENT_SIZE] = match self.frames.payload().try_into() {
                    Ok(bytes) => bytes,
                    Err(_) => return Err(self.stop(corrupt(start, "raw event of the wrong size"))),
                };
                match v1::decode(bytes) {
                    Ok(e) => Record::Event(e),
                    Err(e) => return Err(self.stop(corrupt(start, &e.to_string()))),
                }
            }
            Tag::Event if v2 => {
                match event::decode_bytes_of_version(self.frames.payload(), self.version) {
                    Ok(e) => Record::Event(e),
                    Err(e) => return Err(self.stop(corrupt(start, &e.to_string()))),
                }
            }
            Tag::Stack if v2 => match serde_json::from_slice(self.frames.payload()) {
                Ok(s) => Record::Stack(s),
                Err(e) => return Err(self.stop(corrupt(start, &format!("bad JSON stack: {e}")))),
            },
            Tag::State if v2 => match serde_json::from_slice(self.frames.payload()) {
                Ok(s) => Record::State(s),
                Err(e) => return Err(self.stop(corrupt(start, &format!("bad JSON state: {e}")))),
            },
            Tag::RawEvent | Tag::Event | Tag::Stack | Tag::State => {
                let version = self.version;
                return Err(self.stop(corrupt(
                    start,
                    &format!("a {tag:?} record in a version {version} file"),
                )));
            }
            Tag::JsonEvent => match serde_json::from_slice(self.frames.payload()) {
                Ok(e) => Record::Event(e),
                Err(e) => return Err(self.stop(corrupt(start, &format!("bad JSON event: {e}")))),
            },
            Tag::Summary => match serde_json::from_slice::<Summary>(self.frames.payload()) {
                Ok(s) => {
                    self.summary = Some(s.clone());
                    Record::Summary(s)
                }
                Err(e) => return Err(self.stop(corrupt(start, &format!("bad JSON summary: {e}")))),
            },
            Tag::Header => return Err(self.stop(corrupt(start, "a second header"))),
        };
        if matches!(record, Record::Event(_)) {
            self.events += 1;
        }
        Ok(Some(record))
    }

    /// Records how reading ended and hands the error back.
    fn stop(&mut self, e: TraceError) -> TraceError {
        self.end = Some(match &e {
            TraceError::Truncated { offset, reason } => End::Truncated {
                offset: *offset,
                reason: reason.clone(),
            },
            TraceError::Corrupt { offset, reason } => End::Corrupt {
                offset: *offset,
                reason: reason.clone(),
            },
            other => End::Unreadable {
                offset: self.frames.offset,
                reason: other.to_string(),
            },
        });
        e
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The framing layer: a read buffer over the input, where the next record
/// starts, and where the payload of the last record read lies in the buffer.
/// Records are checked and decoded in place: no copy besides the read.
struct Frames<R> {
    input: R,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..filled]`.
    pos: usize,
    filled: usize,
    /// File offset of `buf[pos]`: where the next record starts.
    offset: u64,
    payload: std::ops::Range<usize>,
    version: u32,
}

impl<R: Read> Frames<R> {
    fn new(input: R, offset: u64, version: u32) -> Self {
        Self {
            input,
            version,
            buf: vec![0; BUFFER],
            pos: 0,
            filled: 0,
            offset,
            payload: 0..0,
        }
    }

    /// The payload of the last record read.
    fn payload(&self) -> &[u8] {
        &self.buf[self.payload.clone()]
    }

    /// Makes at least `n` unread bytes available unless the input ends first;
    /// returns how many are available.
    fn fill(&mut self, n: usize) -> std::io::Result<usize> {
        if self.filled - self.pos >= n {
            return Ok(self.filled - self.pos);
        }
        if self.buf.len() - self.pos < n {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
        }
        while self.filled - self.pos < n {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(0) => break,
                Ok(k) => self.filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.filled - self.pos)
    }

    /// Reads and checks one framed record and advances past it.
    fn read_frame(&mut self) -> Result<Tag, FrameError> {
        let start = self.offset;
        let read_error = |e| FrameError::Trace(TraceError::Read(e));
        let n = self.fill(FRAME_LEN).map_err(read_error)?;
        if n == 0 {
            return Err(FrameError::Eof);
        }
        if n < FRAME_LEN {
            return Err(FrameError::Trace(TraceError::Truncated {
                offset: start,
                reason: format!("the file ends inside a record frame ({n} of {FRAME_LEN} bytes)"),
            }));
        }
        let head = &self.buf[self.pos..self.pos + FRAME_LEN];
        let crc = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let tag_byte = head[8];
        let tag = Tag::from_u8(tag_byte).ok_or_else(|| {
            FrameError::Trace(corrupt(start, &format!("unknown record tag {tag_byte}")))
        })?;
        if len > MAX_PAYLOAD {
            return Err(FrameError::Trace(corrupt(
                start,
                &format!("record length {len} exceeds the limit of {MAX_PAYLOAD}"),
            )));
        }
        let len = len as usize;
        // Event records have known sizes: refuse a wrong length before
        // reading (or waiting for) that many bytes.
        if tag == Tag::RawEvent && self.version == 1 && len != v1::RAW_EVENT_SIZE {
            return Err(FrameError::Trace(corrupt(
                start,
                &format!(
                    "raw event record of {len} bytes, expected {}",
                    v1::RAW_EVENT_SIZE
                ),
            )));
        }
        if tag == Tag::Event && len > MAX_EVENT_SIZE {
            return Err(FrameError::Trace(corrupt(
                start,
                &format!("event record of {len} bytes, the largest kind has {MAX_EVENT_SIZE}"),
            )));
        }
        let n = self.fill(FRAME_LEN + len).map_err(read_error)?;
        if n < FRAME_LEN + len {
            let got = n - FRAME_LEN;
            return Err(FrameError::Trace(TraceError::Truncated {
                offset: start,
                reason: format!(
                    "the file ends inside a {tag:?} record ({got} of {len} payload bytes)"
                ),
            }));
        }
        let payload = self.pos + FRAME_LEN..self.pos + FRAME_LEN + len;
        let actual = crc32fast::hash(&self.buf[self.pos + format::CRC_COVERS_FROM..payload.end]);
        if actual != crc {
            return Err(FrameError::Trace(corrupt(
                start,
                &format!(
                    "{tag:?} record fails its CRC (stored {crc:#010x}, computed {actual:#010x})"
                ),
            )));
        }
        self.payload = payload;
        self.pos += FRAME_LEN + len;
        self.offset += (FRAME_LEN + len) as u64;
        Ok(tag)
    }
}

/// Why a frame could not be read.
enum FrameError {
    /// Clean end of file at a record boundary.
    Eof,
    Trace(TraceError),
}

fn corrupt(offset: u64, reason: &str) -> TraceError {
    TraceError::Corrupt {
        offset,
        reason: reason.to_string(),
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
