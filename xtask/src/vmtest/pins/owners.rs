//! The owner verdicts of the pins step: who the trace says pinned each
//! case's pages, against who the workload says did.
use super::trace::{Frame, Trace};
use super::{EOPNOTSUPP, body_type, case, file_pfns, is_dio_function, is_task, owners_seen, tasks};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The case's one pinning thread is a pin-owner of a page of its file, by
/// its pid, tid and comm `want_comm`, and one of its owner events has a
/// stack with a frame `through` accepts (described as `path`).
fn owner_with_stack(
    summary: &Value,
    trace: &Trace,
    name: &str,
    want_comm: &str,
    through: fn(&Frame) -> bool,
    path: &str,
) -> Result<String, String> {
    let case = case(summary, name)?;
    let task = tasks(case)?.remove(0);
    if task.comm != want_comm {
        return Err(format!(
            "the workload's thread is {:?}, not {want_comm}",
            task.comm
        ));
    }
    let pfns = file_pfns(trace, case);
    let mine: Vec<&Value> = trace
        .of_type("pin-owner")
        .filter(|e| is_task(e, &task))
        .collect();
    let on_file: Vec<&Value> = mine
        .iter()
        .copied()
        .filter(|e| e["body"]["pfn"].as_u64().is_some_and(|p| pfns.contains(&p)))
        .collect();
    if on_file.is_empty() {
        return Err(format!(
            "no pin-owner for {}/{} ({want_comm}) on a page of ino {} ({} of its owner events elsewhere); {}",
            task.pid,
            task.tid,
            case["file_ino"],
            mine.len(),
            owners_seen(trace)
        ));
    }
    if let Some(bad) = on_file.iter().find(|e| e["comm"] != want_comm) {
        return Err(format!(
            "the owner's comm is {}, not {want_comm}",
            bad["comm"]
        ));
    }
    let Some(good) = on_file.iter().find(|e| trace.stack(e).iter().any(through)) else {
        return Err(format!(
            "{} owner events of tid {}, no stack through {path}: {}",
            on_file.len(),
            task.tid,
            trace.stack_summary(on_file[0], 12)
        ));
    };
    let frame = trace
        .stack(good)
        .iter()
        .find(|f| through(f))
        .map(Frame::display)
        .unwrap_or_default();
    Ok(format!(
        "tid {} ({want_comm}) owns {} page(s) of ino {}; stack through {frame}: {}",
        task.tid,
        on_file.len(),
        case["file_ino"],
        trace.stack_summary(good, 6)
    ))
}

pub(super) fn odirect_owner(summary: &Value, trace: &Trace) -> Result<String, String> {
    let through = |f: &Frame| is_dio_function(f.function());
    owner_with_stack(
        summary,
        trace,
        "odirect",
        "dio-pinner",
        through,
        "direct I/O",
    )
}

pub(super) fn vmsplice_owner(summary: &Value, trace: &Trace) -> Result<String, String> {
    let through = |f: &Frame| f.function().contains("vmsplice") || f.function() == "iter_to_pipe";
    owner_with_stack(
        summary,
        trace,
        "vmsplice",
        "splice-pinner",
        through,
        "vmsplice",
    )
}

pub(super) fn two_owners(summary: &Value, trace: &Trace) -> Result<String, String> {
    let case = case(summary, "two-processes")?;
    let tasks = tasks(case)?;
    let pids: BTreeSet<u64> = tasks.iter().map(|t| t.pid).collect();
    if tasks.len() != 2 || pids.len() != 2 {
        return Err(format!(
            "the workload ran {} pinning tasks, not two processes",
            tasks.len()
        ));
    }
    let pfns = file_pfns(trace, case);
    let mut by_pfn: HashMap<u64, Vec<&Value>> = HashMap::new();
    for e in trace
        .of_type("pin-owner")
        .filter(|e| tasks.iter().any(|t| is_task(e, t)))
    {
        if let Some(p) = e["body"]["pfn"].as_u64().filter(|p| pfns.contains(p)) {
            by_pfn.entry(p).or_default().push(e);
        }
    }
    let shared = by_pfn.iter().find(|(_, evs)| {
        let owners: BTreeSet<u64> = evs.iter().filter_map(|e| e["pid"].as_u64()).collect();
        owners == pids
    });
    let Some((pfn, evs)) = shared else {
        return Err(format!(
            "no page of ino {} owned by both pids {pids:?}; {}",
            case["file_ino"],
            owners_seen(trace)
        ));
    };
    for t in &tasks {
        if !evs
            .iter()
            .any(|e| is_task(e, t) && e["comm"] == t.comm.as_str())
        {
            return Err(format!(
                "pid {} is not named {} at pfn {pfn:#x}",
                t.pid, t.comm
            ));
        }
    }
    let names: Vec<String> = tasks
        .iter()
        .map(|t| format!("{} ({})", t.pid, t.comm))
        .collect();
    Ok(format!("pfn {pfn:#x} owned by {}", names.join(" and ")))
}

pub(super) fn refused_uring(summary: &Value, trace: &Trace) -> Result<String, String> {
    let case = case(summary, "io-uring")?;
    if case["errno"].as_i64() != Some(EOPNOTSUPP) {
        return Err(format!(
            "the workload's registration was not refused with EOPNOTSUPP: errno {}, {}",
            case["errno"], case["error"]
        ));
    }
    let task = tasks(case)?.remove(0);
    let path = case["path"].as_str().unwrap_or("");
    let refused: Vec<&Value> = trace.of_type("refused-pin").collect();
    let Some(ev) = refused.iter().find(|e| is_task(e, &task)) else {
        return Err(format!(
            "no refused-pin for {}/{} ({}); {} refused-pin events",
            task.pid,
            task.tid,
            task.comm,
            refused.len()
        ));
    };
    let b = &ev["body"];
    if ev["comm"] != task.comm.as_str() || b["ret"].as_i64() != Some(-EOPNOTSUPP) {
        return Err(format!(
            "refused-pin comm {} ret {}: {b}",
            ev["comm"], b["ret"]
        ));
    }
    if b["path"] != path {
        return Err(format!(
            "refused-pin names file {}, the workload mapped {path}",
            b["path"]
        ));
    }
    kernel_named(b, case)?;
    Ok(format!(
        "pid {} tid {} ({}, exited at once) refused {} pages of {path}, named by the kernel (inode {} on {}); stack: {}",
        task.pid,
        task.tid,
        task.comm,
        b["nr_pages"],
        b["ino"],
        b["dev"].as_str().unwrap_or("?"),
        trace.stack_summary(ev, 6)
    ))
}

/// The client exits right after the refusal, so only a name taken in the
/// kernel at the refusal holds: the file's inode and device, and its
/// dentry path joined with the mount point (`path_from` 2), never the
/// after-the-fact /proc/PID/maps reading (0).
fn kernel_named(b: &Value, case: &Value) -> Result<(), String> {
    const MOUNTED: u64 = 2;
    if b["path_from"].as_u64() != Some(MOUNTED) {
        return Err(format!(
            "refused-pin path {} comes from path_from {} (want {MOUNTED}: the kernel's names under the mount point): {b}",
            b["path"], b["path_from"]
        ));
    }
    let ino = case["file_ino"].as_u64();
    if b["ino"].as_u64() != ino || ino.is_none_or(|i| i == 0) {
        return Err(format!(
            "refused-pin inode {}, the workload's file has inode {}",
            b["ino"], case["file_ino"]
        ));
    }
    match b["dev"].as_str() {
        Some(dev) if dev != "0:0" => Ok(()),
        _ => Err(format!("refused-pin names no device: {b}")),
    }
}

pub(super) fn control(summary: &Value, trace: &Trace) -> Result<String, String> {
    let case = case(summary, "control")?;
    let task = tasks(case)?.remove(0);
    if case["ok"] != true || case["bytes"].as_u64().unwrap_or(0) == 0 {
        return Err(format!(
            "the control's O_DIRECT read did not complete: {case}"
        ));
    }
    let owners = trace.of_type("pin-owner").count();
    if owners == 0 {
        return Err("no pin-owner event at all: the control shows nothing".to_string());
    }
    let pid = Some(task.pid);
    let bad: Vec<String> = trace
        .events
        .iter()
        .filter(|e| match body_type(e) {
            "pin-owner" | "refused-pin" => e["pid"].as_u64() == pid,
            "pin-release" => e["body"]["owner_pid"].as_u64() == pid,
            _ => false,
        })
        .map(|e| format!("{} {}", body_type(e), e["body"]))
        .collect();
    if !bad.is_empty() {
        return Err(format!(
            "pin records for the control pid {}: {}",
            task.pid,
            bad.join("; ")
        ));
    }
    Ok(format!(
        "pid {} ({}) read {} bytes O_DIRECT: no pin record; {owners} pin-owner events for others",
        task.pid, task.comm, case["bytes"]
    ))
}
