//! Pre-existing state: what the state at start found (claims held since
//! before the trace, waits already in progress at attach), named as such in
//! every output and never judged as something the trace did. See
//! docs/check.md.
use super::CheckOptions;
use crate::collector::{Collector, DeviceIdentity, StateAtStart};
use crate::human::duration;
use dax_trace_common::payload::state_bits;

fn holder(h: u64) -> String {
    if h == 0 {
        "no holder".to_string()
    } else {
        format!("holder {h:#x}")
    }
}

fn mount(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(" ({m})")
    }
}

/// One line per pre-existing item in scope: claims held since before the
/// trace (still open, or released during it) and waits found at attach.
/// Empty when the trace has no state at start.
pub(super) fn lines(c: &Collector, opts: &CheckOptions) -> Vec<String> {
    if c.state_at_start().is_none() {
        return Vec::new();
    }
    let timeline = opts.timeline(c);
    let at = |ts| timeline.at(ts);
    let mut out = Vec::new();
    for d in c.devices() {
        if !opts.selects(Some(&d.identity), Some(d.identity.bdev)) {
            continue;
        }
        let what = |h: u64, m: &str| {
            format!(
                "{}: claim with {}{} held since before the trace",
                d.identity.label(),
                holder(h),
                mount(m)
            )
        };
        // Released ones as the (bounded) history remembers them; those still
        // held all, from the open claims.
        for r in d.history.iter().filter(|r| r.pre_existing) {
            if let Some(by) = &r.released {
                let line = what(r.holder, &r.mount);
                out.push(format!("{line}, released by {by} at {}", at(by.ts_ns)));
            }
        }
        for c in d.open_claims.iter().filter(|c| c.pre_existing) {
            let line = what(c.holder, &c.mount);
            out.push(format!("{line}, still held at the end (not a leak)"));
        }
    }
    for w in c.open_wait_views() {
        let Some(a) = &w.at_attach else { continue };
        let identity = c.device_by_name(&w.dev.to_string()).map(|d| &d.identity);
        if !opts.selects(identity, Some(w.dev)) {
            continue;
        }
        out.push(format!(
            "{}: {} was waiting on pfn {:#x} (inode {}) at attach, asleep at least {} then; still waiting at the end, at least {}",
            label(identity, w.dev),
            w.begin,
            a.pfn,
            w.ino,
            duration(a.slept_ns),
            duration(w.waited_ns),
        ));
    }
    let ended = &c.findings().attach_waits_ended;
    for e in &ended.examples {
        if !opts.selects(e.identity.as_ref(), Some(e.record.dev)) {
            continue;
        }
        let w = &e.record;
        out.push(format!(
            "{}: {} waiting on inode {} since before the trace stopped waiting at {}, after at least {}",
            label(e.identity.as_ref(), w.dev),
            w.waiter,
            w.ino,
            at(w.waiter.ts_ns),
            duration(w.latency_ns),
        ));
    }
    out
}

fn label(identity: Option<&DeviceIdentity>, dev: crate::event::Dev) -> String {
    identity.map_or_else(|| dev.to_string(), DeviceIdentity::label)
}

/// The note that says the trace begins with a state at start, and what of
/// it could not be read here.
pub(super) fn note(state: &StateAtStart) -> String {
    let counts = [
        (u64::from(state.pagemaps), "pagemap"),
        (u64::from(state.dax_devices), "dax device"),
        (u64::from(state.mounts), "mount"),
        (u64::from(state.dm_targets), "dm target"),
        (u64::from(state.waits), "wait"),
        (state.busy_pages, "busy page"),
    ]
    .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }));
    let mut note = format!(
        "the trace begins with the state at start (read in {}: {})",
        duration(state.elapsed_ns),
        counts.join(", ")
    );
    if !state.unavailable_sources.is_empty() {
        note.push_str(&format!(
            "; not available here: {}",
            state.unavailable_sources.join(", ")
        ));
    }
    note
}

/// Why a release matching no open claim is still a violation when the
/// trace has a state at start: what the state said about the device.
/// `None` without a state at start (today's wording stays).
pub(super) fn unmatched_reason(
    c: &Collector,
    device: crate::collector::DeviceId,
) -> Option<&'static str> {
    let state = c.state_at_start()?;
    if !state.covers(state_bits::DAX_DEVICES) {
        return Some("the state at start could not list dax devices here");
    }
    Some(match c.device(device).and_then(|d| d.present.as_ref()) {
        Some(p) if p.at_start && (p.claims > 0 || p.holder != 0) => {
            "every claim the state at start found on it was already released"
        }
        _ => "the state at start shows it was not held",
    })
}
