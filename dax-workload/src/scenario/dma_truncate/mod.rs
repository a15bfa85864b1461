//! `dma-truncate`: a DAX page stays busy (pinned by an O_DIRECT read from a
//! slow device, or by vmsplice into a pipe) while another thread truncates or
//! punches the file; the filesystem must wait for the page to go idle, and
//! must wake up when it does. On kernels that lose that wakeup (Debian 6.1)
//! the case says so, delivers a wakeup by an extra put on the page, and goes on.

pub(crate) mod held_pin;
pub(crate) mod op_thread;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use crate::cli::{DmaTruncateArgs, OpKind, PinKind};
use crate::fs::{self, FsKind, Layout, Mount};
use crate::mapping::{Mapping, PAGE_SIZE, Sharing};
use crate::pin;
use crate::progress;
use crate::report::{Report, millis};
use crate::scenario::{check_dax, write_file};
use crate::slowdev::SlowDevice;
use crate::task;
use crate::watchdog::{self, Stage};
use crate::workdir::WorkDir;
use held_pin::{HeldPin, PinEnd};
use op_thread::{OpDone, OpThread};

/// The DAX file.
const FILE_LEN: usize = 1 << 20;
/// The pinned range at the start of the file: 16 pages, one default pipe.
pub(crate) const PIN_LEN: usize = 16 * PAGE_SIZE;
/// Size of the slow device.
const SLOW_LEN: usize = 1 << 20;
/// How long a thread may take to reach the wait it is started for (TCG is slow).
pub(crate) const SETTLE_DEADLINE: Duration = Duration::from_secs(30);
/// How long the truncate may take once an extra put was delivered.
const AFTER_PUT_DEADLINE: Duration = Duration::from_secs(30);
/// Poll interval when watching another thread's scheduler state.
const POLL: Duration = Duration::from_millis(5);

// The pinned range is whole pages, fits a default pipe (16 slots) for the
// vmsplice pin, and lies inside both the DAX file and the slow device.
const _: () = assert!(PIN_LEN.is_multiple_of(PAGE_SIZE) && PIN_LEN <= 16 * PAGE_SIZE);
const _: () = assert!(PIN_LEN <= FILE_LEN && PIN_LEN <= SLOW_LEN);

/// One (filesystem, pin, operation) case; times in ms since the pin started.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    pub fs: FsKind,
    pub pin: PinKind,
    pub op: OpKind,
    pub pages_pinned: usize,
    /// Inode number of the DAX file (the pinned pages are its pages 0..16).
    pub file_ino: u64,
    /// CLOCK_MONOTONIC (bpf_ktime_get_ns) when the pin started: add the
    /// `*_ms` offsets to line the case up with a daxtrace trace.
    pub pin_start_monotonic_ns: u64,
    /// Thread holding the pin (the O_DIRECT reader, or the vmsplicing main thread).
    pub pin_tid: i32,
    /// Thread doing the truncate / punch: the waiter daxtrace should see.
    pub op_tid: i32,
    pub pin_end_ms: Option<u64>,
    pub op_start_ms: Option<u64>,
    pub op_end_ms: Option<u64>,
    /// How long the truncate / punch call took.
    pub op_wait_ms: Option<u64>,
    /// Return of the operation minus end of the pin (negative when it
    /// returned first, as the kernel may wake it before the reader runs).
    pub op_after_unpin_ms: Option<i64>,
    /// The operation was seen asleep while the page was pinned.
    pub blocked_while_pinned: bool,
    /// Where it slept (kernel stack frame or wchan).
    pub blocked_in: Option<String>,
    pub returned_within_grace: bool,
    /// Still blocked a grace period after the pin ended: the wakeup was lost.
    pub lost_wakeup: bool,
    /// When the extra put that woke it was delivered.
    pub wakeup_put_ms: Option<u64>,
    pub ok: bool,
}

impl CaseRecord {
    fn new(fs: FsKind, pin: PinKind, op: OpKind) -> CaseRecord {
        CaseRecord {
            fs,
            pin,
            op,
            pages_pinned: 0,
            file_ino: 0,
            pin_start_monotonic_ns: 0,
            pin_tid: 0,
            op_tid: 0,
            pin_end_ms: None,
            op_start_ms: None,
            op_end_ms: None,
            op_wait_ms: None,
            op_after_unpin_ms: None,
            blocked_while_pinned: false,
            blocked_in: None,
            returned_within_grace: false,
            lost_wakeup: false,
            wakeup_put_ms: None,
            ok: false,
        }
    }
}

pub fn run(report: &mut Report, dev: &Path, workdir: &Path, args: &DmaTruncateArgs) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    let pins = args.pin.kinds();
    let slow = if pins.contains(&PinKind::Odirect) {
        Some(SlowDevice::create(
            wd.file("slow.img"),
            SLOW_LEN,
            args.delay_ms,
        )?)
    } else {
        None
    };
    for fs in args.fs.kinds() {
        fs::mkfs(fs, dev, Layout::Default)?;
        let mount = Mount::dax(fs, dev, &mnt)?;
        for &pin in &pins {
            for op in args.op.kinds() {
                let record = run_case(report, fs, pin, op, &mount, slow.as_ref(), args)?;
                report.cases.push(record);
            }
        }
        let unmounted = mount.unmount();
        report.check_ok(format!("{}: umount after the cases", fs.name()), &unmounted);
    }
    Ok(())
}

fn run_case(
    report: &mut Report,
    fs: FsKind,
    pin: PinKind,
    op: OpKind,
    mount: &Mount,
    slow: Option<&SlowDevice>,
    args: &DmaTruncateArgs,
) -> Result<CaseRecord> {
    let label = format!("{}/{}/{}", fs.name(), pin_name(pin), op_name(op));
    progress!("case {label}");
    let mut record = CaseRecord::new(fs, pin, op);
    let path = mount
        .path()
        .join(format!("{}-{}", pin_name(pin), op_name(op)));
    let file = write_file(&path, FILE_LEN, 0xa5)?;
    record.file_ino = std::os::unix::fs::MetadataExt::ino(
        &file
            .metadata()
            .with_context(|| format!("fstat {}", path.display()))?,
    );
    if !check_dax(report, &label, &path)? {
        return Ok(record);
    }
    let map = Mapping::new(&file, FILE_LEN, Sharing::Shared)
        .with_context(|| format!("mmap MAP_SHARED {}", path.display()))?;
    map.write_pages(PIN_LEN, 0x3c);

    let slow_dev = match (pin, slow) {
        (PinKind::Odirect, Some(slow)) => Some(slow.open_direct()?),
        (PinKind::Odirect, None) => return Err(anyhow!("odirect pin without a slow device")),
        (PinKind::Vmsplice, _) => None,
    };

    // Every wait inside has its own watchdog; this one also covers an error
    // return while a thread is stuck, which would leave the scope joining it.
    let case_deadline = args.delay() + args.grace() + 4 * SETTLE_DEADLINE;
    let _case_guard = watchdog::watch(Stage::Check, format!("case {label}"), case_deadline);
    thread::scope(|scope| -> Result<()> {
        let held = match &slow_dev {
            Some(dev) => HeldPin::odirect(scope, dev, &map, &label, "odirect-read")?,
            None => HeldPin::vmsplice(&map, &label)?,
        };
        let pin_started = held.started();
        record.pin_start_monotonic_ns = held.started_monotonic_ns();
        record.pin_tid = held.tid();
        let Some(pages) = held.pages_if_held() else {
            report.check(
                format!("{label}: pin held"),
                false,
                "the O_DIRECT read completed before it was seen waiting: is the device slow?",
            );
            return Ok(());
        };
        record.pages_pinned = pages;
        let since = |at: Instant| millis(at.saturating_duration_since(pin_started));

        let mut truncate = OpThread::start(scope, op, &file)?;
        record.op_start_ms = Some(since(truncate.started));
        record.op_tid = truncate.tid;
        let asleep = truncate.wait_asleep(&label);
        record.blocked_while_pinned = asleep.is_some();
        record.blocked_in = asleep.flatten();

        let hold_until = pin_started + args.delay();
        let pin_end = held.release(hold_until, &label)?;
        record.pin_end_ms = Some(since(pin_end.at));
        report.check(
            format!("{label}: pin held"),
            pin_end.bytes == PIN_LEN,
            format!(
                "{pages} pages for {} ms, {} of {PIN_LEN} bytes moved",
                since(pin_end.at),
                pin_end.bytes
            ),
        );

        let outcome = await_return(
            &mut record,
            &mut truncate,
            pin_started,
            &pin_end,
            &map,
            &label,
            args,
        )?;
        record.op_end_ms = Some(since(outcome.ended));
        record.op_wait_ms = Some(millis(
            outcome.ended.saturating_duration_since(truncate.started),
        ));
        record.op_after_unpin_ms = Some(signed_ms(pin_end.at, outcome.ended));
        record.ok = judge(report, &label, &record, &outcome) && pin_end.bytes == PIN_LEN;
        Ok(())
    })?;
    drop(map);
    drop(file);
    if let Err(err) = std::fs::remove_file(&path) {
        progress!("cleanup: removing {}: {err}", path.display());
    }
    Ok(record)
}

/// Wait for the operation to return within the grace period after the pin
/// ended; when it does not, record the lost wakeup, deliver the extra put and
/// wait (under a watchdog) for it to return after that.
fn await_return(
    record: &mut CaseRecord,
    truncate: &mut OpThread,
    pin_started: Instant,
    pin_end: &PinEnd,
    map: &Mapping,
    label: &str,
    args: &DmaTruncateArgs,
) -> Result<OpDone> {
    if let Some(done) = truncate.wait_until(pin_end.at + args.grace()) {
        record.returned_within_grace = true;
        return Ok(done);
    }
    record.lost_wakeup = true;
    let op = op_name(record.op);
    let where_ = task::blocked_in(truncate.tid).unwrap_or_else(|| "?".to_owned());
    progress!(
        "{label}: LOST WAKEUP: {op} still blocked in {where_} {} ms after the pin ended; \
         delivering a put on the pinned pages (vmsplice + drain)",
        args.grace_ms
    );
    let put_at = deliver_put(map, label)?;
    record.wakeup_put_ms = Some(millis(put_at.saturating_duration_since(pin_started)));
    let _guard = watchdog::watch(
        Stage::Check,
        format!("{label}: {op} after the extra put"),
        AFTER_PUT_DEADLINE,
    );
    truncate
        .outcome
        .recv()
        .map_err(|_| anyhow!("{label}: lost the {op} thread"))
}

/// The case's verdict: the operation slept while the page was pinned, and
/// returned without error once the page was idle (after an extra put when the
/// wakeup was lost).
fn judge(report: &mut Report, label: &str, record: &CaseRecord, outcome: &OpDone) -> bool {
    let op = op_name(record.op);
    let waited = report.check(
        format!("{label}: {op} waited for the pin"),
        record.blocked_while_pinned,
        match &record.blocked_in {
            Some(f) => format!("asleep in {f}"),
            None if record.blocked_while_pinned => "asleep".to_owned(),
            None => "returned while the page was still pinned".to_owned(),
        },
    );
    let after = record.op_after_unpin_ms.unwrap_or_default();
    let detail = match (&outcome.result, record.lost_wakeup) {
        (Err(err), _) => format!("{op} failed: {err}"),
        (Ok(()), false) => format!("returned {after} ms after the pin ended"),
        (Ok(()), true) => format!(
            "lost wakeup (kernel bug): returned only after the extra put, {after} ms after the pin ended"
        ),
    };
    let returned = report.check(
        format!("{label}: {op} returned"),
        outcome.result.is_ok(),
        detail,
    );
    waited && returned
}

pub(crate) fn pin_name(pin: PinKind) -> &'static str {
    match pin {
        PinKind::Odirect => "odirect",
        PinKind::Vmsplice => "vmsplice",
    }
}

pub(crate) fn op_name(op: OpKind) -> &'static str {
    match op {
        OpKind::Truncate => "truncate",
        OpKind::Punch => "punch",
    }
}

/// `later - earlier` in ms, negative when `later` came first.
pub fn signed_ms(earlier: Instant, later: Instant) -> i64 {
    match later.checked_duration_since(earlier) {
        Some(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        None => -i64::try_from(earlier.duration_since(later).as_millis()).unwrap_or(i64::MAX),
    }
}

/// The extra put: vmsplice the pinned pages into a pipe and drain it.
fn deliver_put(map: &Mapping, label: &str) -> Result<Instant> {
    let _guard = watchdog::watch(
        Stage::Check,
        format!("{label}: vmsplice + drain of the pinned pages"),
        SETTLE_DEADLINE,
    );
    let pages =
        pin::put_pages_via_pipe(map.addr(), PIN_LEN).context("the extra put (vmsplice + drain)")?;
    let at = Instant::now();
    progress!("{label}: put {pages} pages");
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_ms_is_negative_when_the_order_flips() {
        let a = Instant::now();
        let b = a + Duration::from_millis(250);
        assert_eq!(signed_ms(a, b), 250);
        assert_eq!(signed_ms(b, a), -250);
        assert_eq!(signed_ms(a, a), 0);
    }

    #[test]
    fn case_record_serialises_with_lowercase_kinds() {
        let mut record = CaseRecord::new(FsKind::Xfs, PinKind::Odirect, OpKind::Punch);
        record.lost_wakeup = true;
        record.op_after_unpin_ms = Some(-3);
        let json = serde_json::to_value(&record).expect("serialises");
        assert_eq!(json["fs"], "xfs");
        assert_eq!(json["pin"], "odirect");
        assert_eq!(json["op"], "punch");
        assert_eq!(json["lost_wakeup"], true);
        assert_eq!(json["op_after_unpin_ms"], -3);
        assert!(json["wakeup_put_ms"].is_null());
    }
}
