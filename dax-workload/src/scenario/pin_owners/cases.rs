//! The cases of `pin-owners` (see the module above for what each shows).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use super::child::{self, PinChild};
use super::{Ctx, DaxFile, PinRecord, Task, await_truncate, judge_truncate, this_thread};
use crate::cli::OpKind;
use crate::mapping::PAGE_SIZE;
use crate::pin::Pipe;
use crate::pin_child::PinChildMode;
use crate::progress;
use crate::report::Report;
use crate::scenario::dma_truncate::held_pin::HeldPin;
use crate::scenario::dma_truncate::op_thread::OpThread;
use crate::scenario::dma_truncate::{PIN_LEN, SETTLE_DEADLINE};
use crate::task;
use crate::watchdog::{self, Stage};

/// Pages each child of `two-processes` vmsplices (the file's first pages).
const SHARED_PAGES: u32 = 4;
/// How long a pin holder waits to be told to let go before it lets go.
const HOLD_DEADLINE: Duration = Duration::from_secs(120);

/// The O_DIRECT pin by `dio-pinner`, with the control (`anon-dio`, O_DIRECT
/// into anonymous memory in a child process) reading at the same time.
pub(super) fn odirect_with_control(
    report: &mut Report,
    ctx: &Ctx,
) -> Result<(PinRecord, PinRecord)> {
    let label = ctx.label("odirect");
    progress!("case {label} (and the control)");
    let mut record = PinRecord::new("odirect", ctx.fs);
    let mut control = PinRecord::new("control", ctx.fs);
    let Some(dax) = DaxFile::create(report, ctx, "pin-odirect", &mut record)? else {
        return Ok((record, control));
    };
    let device = ctx.slow.open_direct()?;
    let pages = u32::try_from(PIN_LEN / PAGE_SIZE).unwrap_or(1);
    let mut anon = PinChild::spawn(
        PinChildMode::OdirectAnon,
        ctx.slow.node(),
        pages,
        "anon-dio",
    )?;
    let reading = anon.expect_step("reading", SETTLE_DEADLINE)?;
    let reader = child::task_of(&reading)?;
    let in_flight = wait_for_d_state(reader.pid, reader.tid);
    progress!(
        "control: pid {} tid {} ({}) reading O_DIRECT into anonymous memory{}",
        reader.pid,
        reader.tid,
        reader.comm,
        if in_flight { ", in flight" } else { "" }
    );
    control.tasks.push(reader);

    let case_deadline = ctx.args.delay() + ctx.grace() + 4 * SETTLE_DEADLINE;
    let _case_guard = watchdog::watch(Stage::Check, format!("case {label}"), case_deadline);
    thread::scope(|scope| -> Result<()> {
        let held = HeldPin::odirect(scope, &device, &dax.map, &label, "dio-pinner")?;
        record.tasks.push(Task {
            pid: std::process::id(),
            tid: held.tid(),
            comm: task::comm(held.tid()).unwrap_or_default(),
            pfn: record.pfn,
        });
        let Some(pinned) = held.pages_if_held() else {
            report.check(
                format!("{label}: pin held"),
                false,
                "the O_DIRECT read completed before it was seen waiting: is the device slow?",
            );
            return Ok(());
        };
        record.bytes = pinned * PAGE_SIZE;
        let mut truncate = OpThread::start(scope, OpKind::Truncate, &dax.file)?;
        record.op_tid = Some(truncate.tid);
        let asleep = truncate.wait_asleep(&label);
        record.blocked_while_pinned = asleep.is_some();
        record.blocked_in = asleep.flatten();
        let hold_until = held.started() + ctx.args.delay();
        let pin_end = held.release(hold_until, &label)?;
        let done = await_truncate(
            &mut record,
            &mut truncate,
            pin_end.at,
            ctx.grace(),
            &dax.map,
            &label,
        )?;
        record.ok = judge_truncate(report, &label, &record, &done) && pin_end.bytes == PIN_LEN;
        Ok(())
    })?;
    dax.close();

    let read = anon.expect_step("read", ctx.args.delay() + SETTLE_DEADLINE);
    let status = anon.finish(SETTLE_DEADLINE);
    control.bytes = read
        .as_ref()
        .ok()
        .and_then(|l| l["bytes"].as_u64())
        .and_then(|b| usize::try_from(b).ok())
        .unwrap_or(0);
    let detail = match (&read, &status) {
        (Err(err), _) | (_, Err(err)) => format!("{err:#}"),
        (Ok(_), Ok(status)) => format!("{} bytes read, {status}", control.bytes),
    };
    let exited_ok = status.as_ref().is_ok_and(|s| s.success());
    control.ok = report.check(
        format!(
            "{}: O_DIRECT read into anonymous memory",
            ctx.label("control")
        ),
        control.bytes == PIN_LEN && exited_ok,
        detail,
    );
    Ok((record, control))
}

/// Whether the task was seen asleep in D (its O_DIRECT read in flight)
/// within a few seconds; the control goes on either way.
fn wait_for_d_state(pid: u32, tid: i32) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        match task::state_of(pid, tid) {
            Some('D') => return true,
            None => return false,
            _ => thread::sleep(Duration::from_millis(5)),
        }
    }
    false
}

/// What the vmsplicing thread reports once its pages are in the pipe.
type Spliced = Result<(Task, usize), String>;

/// vmsplice by `splice-pinner` into a pipe drained only after the truncate
/// has waited `hold_ms`.
pub(super) fn vmsplice(report: &mut Report, ctx: &Ctx) -> Result<PinRecord> {
    let label = ctx.label("vmsplice");
    progress!("case {label}");
    let mut record = PinRecord::new("vmsplice", ctx.fs);
    let Some(dax) = DaxFile::create(report, ctx, "pin-vmsplice", &mut record)? else {
        return Ok(record);
    };
    let addr = dax.map.addr();
    let case_deadline = ctx.hold() + ctx.grace() + 4 * SETTLE_DEADLINE;
    let _case_guard = watchdog::watch(Stage::Check, format!("case {label}"), case_deadline);
    thread::scope(|scope| -> Result<()> {
        let (ready_tx, ready) = mpsc::channel::<Spliced>();
        let (release, release_rx) = mpsc::channel::<()>();
        let (drained_tx, drained) = mpsc::channel::<Result<(Instant, usize), String>>();
        thread::Builder::new()
            .name("splice-pinner".into())
            .spawn_scoped(scope, move || {
                let _registered = watchdog::register_current("splice-pinner");
                let (pipe, spliced) = match splice_into_pipe(addr, PIN_LEN) {
                    Ok((pipe, n)) => {
                        let _ = ready_tx.send(Ok((this_thread(), n)));
                        (pipe, n)
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err.to_string()));
                        return;
                    }
                };
                // Told to let go, or the case gave up: either way, drain.
                let _ = release_rx.recv_timeout(HOLD_DEADLINE);
                let at = Instant::now();
                let result = pipe.drain(spliced).map(|n| (at, n));
                let _ = drained_tx.send(result.map_err(|e| e.to_string()));
            })
            .context("spawning the vmsplicing thread")?;
        let (me, spliced) = ready
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("{label}: the vmsplicing thread did not report"))?
            .map_err(|e| anyhow!("{label}: vmsplice of the DAX mapping: {e}"))?;
        progress!(
            "{label}: {spliced} bytes vmspliced by tid {} ({})",
            me.tid,
            me.comm
        );
        record.tasks.push(Task {
            pfn: record.pfn,
            ..me
        });
        record.bytes = spliced;
        let mut truncate = OpThread::start(scope, OpKind::Truncate, &dax.file)?;
        record.op_tid = Some(truncate.tid);
        let asleep = truncate.wait_asleep(&label);
        record.blocked_while_pinned = asleep.is_some();
        record.blocked_in = asleep.flatten();
        thread::sleep(ctx.hold());
        let _ = release.send(());
        let (pin_end, n) = drained
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("{label}: the pipe was not drained"))?
            .map_err(|e| anyhow!("{label}: draining the pipe: {e}"))?;
        progress!("{label}: pipe drained ({n} bytes): pin dropped");
        let done = await_truncate(
            &mut record,
            &mut truncate,
            pin_end,
            ctx.grace(),
            &dax.map,
            &label,
        )?;
        record.ok = judge_truncate(report, &label, &record, &done) && n == spliced;
        Ok(())
    })?;
    dax.close();
    Ok(record)
}

fn splice_into_pipe(addr: usize, len: usize) -> std::io::Result<(Pipe, usize)> {
    let pipe = Pipe::new()?;
    if pipe.reserve(len)? < len {
        return Err(std::io::Error::other(format!(
            "the pipe cannot hold {len} bytes"
        )));
    }
    let n = pipe.vmsplice(addr, len)?;
    Ok((pipe, n))
}

/// Two child processes vmsplice the same first pages of the file; the
/// truncate meets them busy with two owners.
pub(super) fn two_processes(report: &mut Report, ctx: &Ctx) -> Result<PinRecord> {
    let label = ctx.label("two-processes");
    progress!("case {label}");
    let mut record = PinRecord::new("two-processes", ctx.fs);
    let Some(dax) = DaxFile::create(report, ctx, "pin-shared", &mut record)? else {
        return Ok(record);
    };
    let mut children = Vec::new();
    for name in ["pin-owner-a", "pin-owner-b"] {
        let mut child = PinChild::spawn(PinChildMode::Vmsplice, &dax.path, SHARED_PAGES, name)?;
        let line = child.expect_step("pinned", SETTLE_DEADLINE)?;
        let owner = child::task_of(&line)?;
        progress!(
            "{label}: pid {} ({}) vmspliced {} bytes from pfn {:#x}",
            owner.pid,
            owner.comm,
            line["bytes"],
            owner.pfn
        );
        record.bytes = line["bytes"]
            .as_u64()
            .and_then(|b| usize::try_from(b).ok())
            .unwrap_or(0);
        record.tasks.push(owner);
        children.push(child);
    }
    let same_page = record
        .tasks
        .iter()
        .all(|t| t.pfn != 0 && t.pfn == record.pfn);
    let pfns: Vec<String> = record
        .tasks
        .iter()
        .map(|t| format!("{:#x}", t.pfn))
        .collect();
    report.check(
        format!("{label}: both children pinned the file's first page"),
        same_page,
        format!("pfns {} (ours {:#x})", pfns.join(", "), record.pfn),
    );

    let case_deadline = ctx.hold() + ctx.grace() + 4 * SETTLE_DEADLINE;
    let _case_guard = watchdog::watch(Stage::Check, format!("case {label}"), case_deadline);
    thread::scope(|scope| -> Result<()> {
        let mut truncate = OpThread::start(scope, OpKind::Truncate, &dax.file)?;
        record.op_tid = Some(truncate.tid);
        let asleep = truncate.wait_asleep(&label);
        record.blocked_while_pinned = asleep.is_some();
        record.blocked_in = asleep.flatten();
        thread::sleep(ctx.hold());
        let pin_end = Instant::now();
        for child in &mut children {
            child.release();
        }
        for child in &mut children {
            child.expect_step("released", SETTLE_DEADLINE)?;
        }
        progress!("{label}: both children drained their pipes: pins dropped");
        let done = await_truncate(
            &mut record,
            &mut truncate,
            pin_end,
            ctx.grace(),
            &dax.map,
            &label,
        )?;
        record.ok = judge_truncate(report, &label, &record, &done) && same_page;
        Ok(())
    })?;
    for child in children {
        let name = child.name.clone();
        let status = child.finish(SETTLE_DEADLINE);
        let ok = status.as_ref().is_ok_and(|s| s.success());
        record.ok &= ok;
        let detail = match &status {
            Ok(s) => s.to_string(),
            Err(err) => format!("{err:#}"),
        };
        report.check(format!("{label}: {name} exited cleanly"), ok, detail);
    }
    dax.close();
    Ok(record)
}

/// `uring-pinner`, a child process, registers the DAX file's pages as an
/// io_uring fixed buffer and exits at once after the refusal (as fio does):
/// the trace must name the file without asking the process afterwards.
pub(super) fn io_uring(report: &mut Report, ctx: &Ctx) -> Result<PinRecord> {
    let label = ctx.label("io-uring");
    progress!("case {label}");
    let mut record = PinRecord::new("io-uring", ctx.fs);
    let Some(dax) = DaxFile::create(report, ctx, "pin-uring", &mut record)? else {
        return Ok(record);
    };
    let pages = (PIN_LEN / PAGE_SIZE) as u32;
    let mut child = PinChild::spawn(PinChildMode::Uring, &dax.path, pages, "uring-pinner")?;
    let line = child.expect_step("registered", SETTLE_DEADLINE);
    let status = child.finish(SETTLE_DEADLINE);
    dax.close();
    let line = line?;
    let me = child::task_of(&line)?;
    record.bytes = PIN_LEN;
    record.tasks.push(me);
    let errno = line["errno"].as_i64().and_then(|e| i32::try_from(e).ok());
    let error = line["error"].as_str().unwrap_or_default().to_owned();
    let exited = match &status {
        Ok(s) if s.success() => String::new(),
        Ok(s) => format!("; the child exited with {s}"),
        Err(err) => format!("; {err}"),
    };
    let (ok, detail) = match errno {
        Some(0) => {
            record.error = Some("registered".to_owned());
            (
                false,
                "the long-term pin of FS-DAX memory was accepted".to_owned(),
            )
        }
        Some(e) => {
            record.errno = Some(e);
            (
                e == libc::EOPNOTSUPP && exited.is_empty(),
                format!("io_uring_register: {error}{exited}"),
            )
        }
        None => {
            record.error = Some(format!("no errno in {line}"));
            (false, format!("the child's line has no errno: {line}"))
        }
    };
    record.ok = report.check(
        format!("{label}: IORING_REGISTER_BUFFERS refused with EOPNOTSUPP, client gone at once"),
        ok,
        detail,
    );
    Ok(record)
}
