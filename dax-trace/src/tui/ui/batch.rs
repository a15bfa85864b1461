//! `daxtrace top --batch`: plain text frames on stdout, like `top -b`, for
//! logs and machines without a terminal.
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::human::compact::{duration, rate};
use crate::source::EventBatch;
use crate::tui::TuiError;
use crate::tui::model::DashboardModel;
use crate::tui::model::view::Frame;
use crate::tui::run::dashboard::Dashboard;
use crate::tui::run::intake::Drain;
use crate::tui::ui::columns::{COLUMNS, cells};
use tokio::sync::mpsc;

/// Pause between drains while waiting for the next frame.
const DRAIN_PAUSE: Duration = Duration::from_millis(20);

/// How many frames and how often.
#[derive(Clone, Copy, Debug)]
pub struct BatchOptions {
    /// Stop after this many frames; `None`: until the source ends or `stop`.
    pub iterations: Option<u64>,
    pub interval: Duration,
}

/// Prints a frame of `dash`, fed from `events`, every `interval` to `out`.
/// When the source ends, a last frame with every event is printed and the
/// run ends; also when `stop` is set (SIGINT, SIGTERM).
pub fn run<M: DashboardModel>(
    mut dash: Dashboard<M>,
    mut events: mpsc::Receiver<EventBatch>,
    opts: BatchOptions,
    out: &mut impl Write,
    stop: &Arc<AtomicBool>,
) -> Result<u64, TuiError> {
    let mut frames = 0u64;
    while opts.iterations.is_none_or(|n| frames < n) {
        let due = Instant::now() + opts.interval;
        let mut closed = false;
        while Instant::now() < due && !stop.load(Ordering::Relaxed) {
            match dash.drain(&mut events) {
                Drain::MoreWaiting => {}
                Drain::Empty => {
                    std::thread::sleep(
                        DRAIN_PAUSE.min(due.saturating_duration_since(Instant::now())),
                    );
                }
                Drain::Closed => {
                    closed = true;
                    break;
                }
            }
        }
        dash.refresh();
        match write_frame(out, dash.frame()) {
            Ok(()) => {}
            // The reader went away (`| head`): that ends the run, like top -b.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(frames),
            Err(e) => return Err(TuiError::Output(e)),
        }
        frames += 1;
        if closed || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(frames)
}

/// One text frame: header lines, the table with every row, a blank line.
pub fn write_frame(out: &mut impl Write, snap: &Frame) -> std::io::Result<()> {
    let h = &snap.header;
    writeln!(
        out,
        "daxtrace top - {} - kernel {} - probes {}/{} - t {}{}",
        h.source,
        if h.kernel.is_empty() { "?" } else { &h.kernel },
        h.probes_attached,
        h.probes_total,
        h.time.at(h.now_ns),
        h.ended
            .as_ref()
            .map(|e| format!(" - {e}"))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "events {} ({}/s), drops {}, devices {}",
        h.events_total,
        rate(h.events_per_sec),
        h.drops,
        snap.rows.len()
    )?;
    let table: Vec<[String; 11]> = snap.rows.iter().map(cells).collect();
    let mut widths = COLUMNS.map(|c| c.name.len());
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let heading = COLUMNS.map(|c| c.name.to_uppercase());
    write_row(out, &heading, &widths)?;
    for row in &table {
        write_row(out, row, &widths)?;
    }
    if let Some(detail) = &snap.detail
        && let Some(oldest) = detail.busy.first()
    {
        let pgoff = oldest
            .pgoff
            .map_or_else(String::new, |p| format!(" pgoff {p}"));
        // The owner, when the trace reports owners.
        let owner = match oldest.owner.as_str() {
            "" => String::new(),
            "?" => " (owner unknown)".to_string(),
            "at start" => " (pinned before attach)".to_string(),
            released if released.starts_with('(') => {
                format!(" (last held by {})", released.trim_matches(['(', ')']))
            }
            who => format!(" by {who}"),
        };
        writeln!(
            out,
            "{}: oldest busy page pfn {:#x} ino {}{pgoff} pinned for {}{owner}",
            detail.title,
            oldest.pfn,
            oldest.ino,
            duration(oldest.age_ns)
        )?;
        if let Some(p) = &detail.pinner
            && p.pfn == oldest.pfn
            && !p.frames.is_empty()
        {
            writeln!(out, "  stack: {}", p.frames.join(" <- "))?;
        }
    }
    writeln!(out)?;
    out.flush()
}

fn write_row(
    out: &mut impl Write,
    cells: &[String; 11],
    widths: &[usize; 11],
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        // Text left-aligned, numbers right-aligned.
        if i < 4 {
            line.push_str(&format!("{cell:<width$}"));
        } else {
            line.push_str(&format!("{cell:>width$}"));
        }
    }
    writeln!(out, "{}", line.trim_end())
}
