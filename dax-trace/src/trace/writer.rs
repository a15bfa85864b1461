//! Writing trace files: [`create`] makes the file safely, [`Writer`] frames
//! records into any `Write`.
//!
//! The writer buffers; the caller flushes at least once a second
//! ([`Writer::flush`]) so that a SIGKILL loses at most about a second of
//! events. A file whose writer is dropped without [`Writer::finish`] has no
//! summary, which the reader reports as a truncated recording.
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::TraceError;
use super::format::{self, FRAME_LEN, Header, MAX_PAYLOAD, StateRecord, Summary, Tag};
use crate::event::{self, Event, EventBody, MAX_EVENT_SIZE};
use crate::stacks::StackRecord;

/// Write buffer size: large enough that millions of events per second cost
/// few system calls.
const BUFFER: usize = 1 << 20;

/// How to create a trace file.
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateOptions {
    /// Replace an existing file instead of failing.
    pub force: bool,
}

/// Creates `path` readable and writable by its owner only (0600). Fails with
/// [`TraceError::Exists`] when it exists, unless `force`. Symlinks at `path`
/// are never followed.
pub fn create(path: &Path, opts: CreateOptions) -> Result<File, TraceError> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).mode(0o600).custom_flags(libc::O_NOFOLLOW);
    if opts.force {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let file = open.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            TraceError::Exists {
                path: path.display().to_string(),
            }
        } else {
            TraceError::Open {
                path: path.display().to_string(),
                source,
            }
        }
    })?;
    // An overwritten file keeps its old mode: tighten it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|source| TraceError::Open {
            path: path.display().to_string(),
            source,
        })?;
    Ok(file)
}

/// Frames records into `W`: the preamble and header on creation, then events,
/// then the summary on [`Writer::finish`].
pub struct Writer<W: Write> {
    out: W,
    bytes: u64,
    events: u64,
    first_ts_ns: Option<u64>,
    last_ts_ns: Option<u64>,
    drops: HashMap<u16, u64>,
}

impl Writer<BufWriter<File>> {
    /// A buffered writer over a file from [`create`].
    pub fn to_file(file: File, header: &Header) -> Result<Self, TraceError> {
        Self::new(BufWriter::with_capacity(BUFFER, file), header)
    }

    /// Writes the summary, flushes and syncs the file to stable storage.
    pub fn finish_file(self, end_reason: &str) -> Result<Summary, TraceError> {
        let (summary, out) = self.finish(end_reason)?;
        let file = out
            .into_inner()
            .map_err(|e| TraceError::Write(e.into_error()))?;
        file.sync_all().map_err(TraceError::Write)?;
        Ok(summary)
    }
}

impl<W: Write> Writer<W> {
    /// Writes the preamble and `header`.
    pub fn new(mut out: W, header: &Header) -> Result<Self, TraceError> {
        out.write_all(&format::preamble())
            .map_err(TraceError::Write)?;
        let mut w = Self {
            out,
            bytes: format::PREAMBLE_LEN as u64,
            events: 0,
            first_ts_ns: None,
            last_ts_ns: None,
            drops: HashMap::new(),
        };
        let json = serde_json::to_vec(header).map_err(TraceError::Encode)?;
        w.record(Tag::Header, &json)?;
        Ok(w)
    }

    /// Appends one event in its binary form.
    pub fn write_event(&mut self, event: &Event) -> Result<(), TraceError> {
        let mut frame = [0u8; FRAME_LEN + MAX_EVENT_SIZE];
        let payload: &mut [u8; MAX_EVENT_SIZE] = (&mut frame[FRAME_LEN..])
            .try_into()
            .map_err(|_| TraceError::Write(std::io::Error::other("event frame size")))?;
        let len = event::encode_into(event, payload);
        frame[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        frame[8] = Tag::Event as u8;
        let record = &mut frame[..FRAME_LEN + len];
        let crc = crc32fast::hash(&record[format::CRC_COVERS_FROM..]);
        record[0..4].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(record).map_err(TraceError::Write)?;
        self.bytes += record.len() as u64;
        self.events += 1;
        self.first_ts_ns.get_or_insert(event.ts_ns);
        self.last_ts_ns = Some(event.ts_ns);
        // The summary counts events lost; other losses stay in the events.
        if let EventBody::Drops(d) = event.body
            && d.reason == dax_trace_common::Loss::RingFull as u16
        {
            self.drops.insert(d.point, d.total);
        }
        Ok(())
    }

    /// Appends a stack record (before the first event that names its id).
    pub fn write_stack(&mut self, stack: &StackRecord) -> Result<(), TraceError> {
        let json = serde_json::to_vec(stack).map_err(TraceError::Encode)?;
        self.record(Tag::Stack, &json)
    }

    /// Appends a state record (the state at start, or an update).
    pub fn write_state(&mut self, state: &StateRecord) -> Result<(), TraceError> {
        let json = serde_json::to_vec(state).map_err(TraceError::Encode)?;
        self.record(Tag::State, &json)
    }

    /// Pushes buffered records to the OS (they survive the process from then on).
    pub fn flush(&mut self) -> Result<(), TraceError> {
        self.out.flush().map_err(TraceError::Write)
    }

    /// Flushes and returns the inner writer without a summary, so the file
    /// reads as truncated: for a recording whose source failed, which must
    /// not look complete.
    pub fn abandon(mut self) -> Result<W, TraceError> {
        self.flush()?;
        Ok(self.out)
    }

    /// The inner writer (for tests and callers that inspect the output).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Bytes written so far (buffered or not).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Events lost in the kernel so far, from the `Drops` events written.
    pub fn drops(&self) -> u64 {
        self.drops.values().sum()
    }

    /// Writes the summary and flushes; returns it with the inner writer.
    pub fn finish(self, end_reason: &str) -> Result<(Summary, W), TraceError> {
        self.finish_at(end_reason, format::unix_now_ns())
    }

    /// [`Writer::finish`] with a given end time (for reproducible files).
    pub fn finish_at(
        mut self,
        end_reason: &str,
        ended_unix_ns: i64,
    ) -> Result<(Summary, W), TraceError> {
        let summary = Summary {
            events: self.events,
            drops: self.drops(),
            first_ts_ns: self.first_ts_ns,
            last_ts_ns: self.last_ts_ns,
            ended_unix_ns,
            end_reason: end_reason.to_string(),
        };
        let json = serde_json::to_vec(&summary).map_err(TraceError::Encode)?;
        self.record(Tag::Summary, &json)?;
        self.flush()?;
        Ok((summary, self.out))
    }

    fn record(&mut self, tag: Tag, payload: &[u8]) -> Result<(), TraceError> {
        if payload.len() > MAX_PAYLOAD as usize {
            return Err(TraceError::Write(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("record of {} bytes is too large", payload.len()),
            )));
        }
        let head = format::frame_head(tag, payload);
        self.out.write_all(&head).map_err(TraceError::Write)?;
        self.out.write_all(payload).map_err(TraceError::Write)?;
        self.bytes += (FRAME_LEN + payload.len()) as u64;
        Ok(())
    }
}
