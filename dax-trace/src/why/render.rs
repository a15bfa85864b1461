//! The text of `daxtrace why`: one paragraph per waiter, then the suspects
//! when a pin predates the watch.
use std::fmt::Write as _;

use crate::collector::pins_view::ownership_phrase;
use crate::human::duration;
use crate::human::time::task;
use crate::stacks::StackTable;

use super::{Progress, Suspect, WaitDiagnosis, Why, sleep_kind};

/// Frames of a suspect's stack printed.
const FRAMES: usize = 6;

/// `why` as text; `watched_ns` is how long the watch lasted.
pub fn text(why: &Why, suspects: &[Suspect], stacks: &StackTable, watched_ns: u64) -> String {
    let mut out = String::new();
    if why.waits.is_empty() {
        let _ = writeln!(
            out,
            "no thread of the target waits for a DAX page (watched {})",
            duration(watched_ns)
        );
        return out;
    }
    for w in &why.waits {
        wait_text(&mut out, w, stacks, watched_ns);
    }
    // Suspects only for a page still held: a lost wakeup's page is idle.
    let pinned_before = why.waits.iter().any(|w| {
        w.progress == Progress::Blocked
            && matches!(w.owners, crate::collector::Ownership::PinnedBeforeAttach)
    });
    if pinned_before {
        let (pipes, dio): (Vec<&Suspect>, Vec<&Suspect>) =
            suspects.iter().partition(|s| s.pipe.is_some());
        if suspects.is_empty() {
            out.push_str(
                "suspects: no task is asleep in direct I/O and no pipe holds data; a \
                 long-term pin (RDMA, vfio) may hold the page\n",
            );
        }
        if !pipes.is_empty() {
            out.push_str(
                "suspects (pipes with data queued: a vmsplice keeps the pages it spliced until they are read):\n",
            );
            for s in pipes {
                if let Some((fd, ino, bytes)) = s.pipe {
                    let _ = writeln!(
                        out,
                        "  {} fd {fd} pipe:[{ino}], {bytes} bytes queued",
                        task(s.comm.as_str(), s.pid, s.tid)
                    );
                }
            }
        }
        if !dio.is_empty() {
            out.push_str("suspects (asleep in direct I/O, so their pages are pinned):\n");
            for s in dio {
                let frames: Vec<&str> = s.frames.iter().take(FRAMES).map(String::as_str).collect();
                let _ = writeln!(
                    out,
                    "  {} in {}",
                    task(s.comm.as_str(), s.pid, s.tid),
                    frames.join(" <- ")
                );
            }
        }
    }
    out
}

fn wait_text(out: &mut String, w: &WaitDiagnosis, stacks: &StackTable, watched_ns: u64) {
    let who = task(w.comm, w.pid, w.tid);
    let least = if w.asleep_at_least { "at least " } else { "" };
    let verdict = match &w.progress {
        Progress::Ended {
            latency_ns: Some(l),
        } => {
            format!(
                "MOVING: its wait ended during the watch after {}",
                duration(*l)
            )
        }
        Progress::Ended { latency_ns: None } => {
            "MOVING: its wait (found at attach) ended during the watch".to_string()
        }
        Progress::Moving { busy_pages_met } => format!(
            "MOVING: it woke and met {busy_pages_met} busy pages during the {} watch",
            duration(watched_ns)
        ),
        Progress::LostWakeup => format!(
            "STUCK: asleep on a page that is idle by the kernel's rule (refcount {}): the wakeup was lost",
            w.idle_refcount
        ),
        Progress::Blocked => format!(
            "STUCK: the page stayed busy for the whole {} watch",
            duration(watched_ns)
        ),
    };
    let _ = writeln!(out, "{who} on {} inode {}: {verdict}", w.dev, w.ino);
    if let Some(pfn) = w.pfn {
        let index = w
            .index
            .map(|i| format!(" at page offset {i}"))
            .unwrap_or_default();
        let count = match w.refcount {
            Some(r) if r <= u64::from(w.idle_refcount) => {
                format!("refcount {r}, idle at {}: idle", w.idle_refcount)
            }
            Some(r) => format!("refcount {r}, idle at {}: busy", w.idle_refcount),
            None => "refcount unknown".to_string(),
        };
        let _ = writeln!(out, "  waits for pfn {pfn:#x}{index} ({count})");
    }
    if !matches!(w.progress, Progress::Ended { .. }) {
        let _ = writeln!(
            out,
            "  asleep {least}{}, {}",
            duration(w.asleep_ns),
            sleep_kind(w.uninterruptible)
        );
    }
    if w.pfn.is_some() && w.owners.is_told() && w.progress != Progress::LostWakeup {
        let _ = writeln!(
            out,
            "  page {}",
            ownership_phrase(&w.owners, u64::MAX / 2, Some(stacks))
        );
    }
}
