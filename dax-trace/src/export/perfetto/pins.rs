//! Page owners on the Perfetto tracks: one process per pinning process
//! (`pinner fio (pid 585)`), and on it an async slice per owner and page,
//! from when it took the page (`since_ns`) to its release (`pin-release`,
//! or the page going idle), or to the end of the trace when never released.
//! Async slices, because one read pins many pages at once and their ends do
//! not nest. Refused long-term pins are instants on the asking thread. Args
//! carry the entry point and the stack summary (frames when the trace has
//! the stack).
use std::collections::HashMap;
use std::io::Write;

use serde_json::{Value, json};

use super::{ChromeTrace, ProcessKey};
use crate::collector::entry_name;
use crate::comm::Comm;
use crate::event::{Event, EventBody, PageIdle, PinOwner, PinRelease, RefusedPin};
use crate::stacks::StackRecord;
use dax_trace_common::field::StackId;

/// Frames named in a slice's one-line summary.
const SUMMARY_FRAMES: usize = 4;

/// Where an async slice is drawn: its track and its id.
#[derive(Clone, Copy, Debug)]
struct Slice {
    pid: u32,
    tid: u32,
    id: u64,
}

/// An open pin slice.
#[derive(Clone, Debug)]
struct OpenPin {
    slice: Slice,
    /// The owner's kernel tid.
    owner: u32,
}

/// What the exporter remembers of pins: open slices and the stacks.
#[derive(Debug, Default)]
pub(super) struct PinTracks {
    /// Open slices by pfn.
    open: HashMap<u64, Vec<OpenPin>>,
    /// Comm of each pinning process, for its track's name.
    comms: HashMap<u32, Comm>,
    stacks: HashMap<u32, StackRecord>,
    next_id: u64,
    /// The newest event time, where slices never released end.
    last_ts: u64,
}

impl PinTracks {
    pub(super) fn process_name(&self, pid: u32) -> String {
        match self.comms.get(&pid) {
            Some(comm) => format!("pinner {comm} (pid {pid})"),
            None => format!("pinner pid {pid}"),
        }
    }

    pub(super) fn add_stack(&mut self, stack: &StackRecord) {
        if stack.id != 0 {
            self.stacks.entry(stack.id).or_insert_with(|| stack.clone());
        }
    }

    /// `args` with `stack` (the summary) and `frames` when the stack is known.
    pub(super) fn with_stack(&self, mut args: Value, stack: StackId) -> Value {
        if let (Some(id), Value::Object(map)) = (stack.get(), &mut args) {
            map.insert("stack_id".into(), Value::from(id));
            if let Some(s) = self.stacks.get(&id) {
                map.insert("stack".into(), Value::from(s.summary(SUMMARY_FRAMES)));
                let frames: Vec<String> = s.frames.iter().map(|f| f.display()).collect();
                map.insert("frames".into(), Value::from(frames));
            }
        }
        args
    }
}

impl<W: Write> ChromeTrace<W> {
    /// Draws the pin kinds; false when `e` is not one (the caller draws
    /// it). A page going idle also ends the slices of its owners.
    pub(super) fn pin_event(&mut self, e: &Event) -> std::io::Result<bool> {
        self.pins.last_ts = self.pins.last_ts.max(e.ts_ns);
        match &e.body {
            EventBody::PinOwner(o) => self.pin_owner(e, o)?,
            EventBody::PinRelease(r) => self.pin_release(e, r)?,
            EventBody::RefusedPin(r) => self.refused_pin(e, r)?,
            EventBody::PageIdle(PageIdle { pfn, .. }) => {
                self.end_pins(*pfn, None, e.ts_ns, "page idle")?;
                return Ok(false);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn pinner_track(&mut self, e: &Event) -> std::io::Result<(u32, u32)> {
        self.pins.comms.entry(e.pid).or_insert(e.comm);
        let pid = self.pid(ProcessKey::Pinner(e.pid))?;
        let tid = self.tid(pid, u64::from(e.tid), || format!("{} {}", e.comm, e.tid))?;
        Ok((pid, tid))
    }

    fn async_event(
        &mut self,
        ph: &str,
        name: &str,
        slice: Slice,
        ts: u64,
        args: Value,
    ) -> std::io::Result<()> {
        let Slice { pid, tid, id } = slice;
        let sep = if self.first { "" } else { ",\n" };
        self.first = false;
        let name = Value::from(name);
        write!(
            self.out,
            "{sep}{{\"ph\":\"{ph}\",\"cat\":\"pin\",\"id\":\"{id:#x}\",\"name\":{name},\"pid\":{pid},\"tid\":{tid},\"ts\":{}.{:03}",
            ts / 1000,
            ts % 1000
        )?;
        if !args.is_null() {
            write!(self.out, ",\"args\":{args}")?;
        }
        write!(self.out, "}}")
    }

    fn pin_owner(&mut self, e: &Event, o: &PinOwner) -> std::io::Result<()> {
        let (pid, tid) = self.pinner_track(e)?;
        self.pins.next_id += 1;
        let id = self.pins.next_id;
        let entry = entry_name(e.point);
        let args = json!({
            "pfn": format!("{:#x}", o.pfn),
            "entry_point": entry,
            "refs": o.refs,
            "foll": if o.pin.get() { "FOLL_PIN" } else { "FOLL_GET" },
            "remote": o.remote.get(),
            "reported_ns": e.ts_ns,
        });
        let args = self.pins.with_stack(args, o.stack);
        let name = format!("pin pfn {:#x}", o.pfn);
        let slice = Slice { pid, tid, id };
        self.async_event("b", &name, slice, o.since_ns, args)?;
        self.pins.open.entry(o.pfn).or_default().push(OpenPin {
            slice,
            owner: e.tid,
        });
        Ok(())
    }

    fn pin_release(&mut self, e: &Event, r: &PinRelease) -> std::io::Result<()> {
        let owner = (!r.by_idle.get()).then_some(r.owner_tid);
        let why = if r.by_idle.get() {
            "page idle"
        } else {
            "released"
        };
        self.end_pins(r.pfn, owner, e.ts_ns, why)
    }

    /// Ends the open slices of `pfn` (of the owner `tid` only, when given).
    fn end_pins(&mut self, pfn: u64, tid: Option<u32>, ts: u64, why: &str) -> std::io::Result<()> {
        let Some(open) = self.pins.open.get_mut(&pfn) else {
            return Ok(());
        };
        let (ending, staying): (Vec<OpenPin>, Vec<OpenPin>) = open
            .drain(..)
            .partition(|p| tid.is_none_or(|t| p.owner == t));
        *open = staying;
        if open.is_empty() {
            self.pins.open.remove(&pfn);
        }
        let name = format!("pin pfn {pfn:#x}");
        for p in ending {
            self.async_event("e", &name, p.slice, ts, json!({ "ended": why }))?;
        }
        Ok(())
    }

    fn refused_pin(&mut self, e: &Event, r: &RefusedPin) -> std::io::Result<()> {
        let (pid, tid) = self.pinner_track(e)?;
        let args = json!({
            "path": r.path.as_str(),
            "dev": r.dev.to_string(),
            "ino": r.ino,
            "nr_pages": r.nr_pages,
            "start": format!("{:#x}", r.start),
            "gup_flags": format!("{:#x}", r.gup_flags),
            "ret": r.ret,
            "entry_point": entry_name(e.point),
        });
        let args = self.pins.with_stack(args, r.stack);
        self.emit("i", "long-term pin refused", pid, tid, Some(e.ts_ns), args)
    }

    /// Slices never released end where the trace ends.
    pub(super) fn end_open_pins(&mut self) -> std::io::Result<()> {
        let ts = self.pins.last_ts;
        let mut open: Vec<(u64, Vec<OpenPin>)> = self.pins.open.drain().collect();
        open.sort_by_key(|(pfn, _)| *pfn);
        for (pfn, pins) in open {
            let name = format!("pin pfn {pfn:#x}");
            for p in pins {
                let args = json!({ "ended": "end of trace (still held)" });
                self.async_event("e", &name, p.slice, ts, args)?;
            }
        }
        Ok(())
    }
}
