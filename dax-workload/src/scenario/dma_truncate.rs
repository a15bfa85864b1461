//! `dma-truncate`: a DAX page stays busy (pinned by an O_DIRECT read from a
//! slow device, or by vmsplice into a pipe) while another thread truncates or
//! punches the file; the filesystem must wait for the page to go idle, and
//! must wake up when it does. On kernels that lose that wakeup (Debian 6.1)
//! the case says so, delivers a wakeup by an extra put on the page, and goes on.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use crate::cli::{DmaTruncateArgs, OpKind, PinKind};
use crate::clock;
use crate::fs::{self, FsKind, Layout, Mount};
use crate::mapping::{Mapping, PAGE_SIZE, Sharing};
use crate::pin::{self, Pipe};
use crate::progress;
use crate::report::{Report, millis};
use crate::scenario::{check_dax, write_file};
use crate::slowdev::SlowDevice;
use crate::task;
use crate::watchdog::{self, Stage};
use crate::workdir::WorkDir;

/// The DAX file.
const FILE_LEN: usize = 1 << 20;
/// The pinned range at the start of the file: 16 pages, one default pipe.
const PIN_LEN: usize = 16 * PAGE_SIZE;
/// Size of the slow device.
const SLOW_LEN: usize = 1 << 20;
/// How long a thread may take to reach the wait it is started for (TCG is slow).
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);
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
        report.check(
            format!("{}: umount after the cases", fs.name()),
            unmounted.is_ok(),
            unmounted
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default(),
        );
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

    thread::scope(|scope| -> Result<()> {
        let held = match &slow_dev {
            Some(dev) => HeldPin::odirect(scope, dev, &map, &label)?,
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

        let grace_end = pin_end.at + args.grace();
        let mut result = truncate.wait_until(grace_end);
        record.returned_within_grace = result.is_some();
        if result.is_none() {
            record.lost_wakeup = true;
            let where_ = task::blocked_in(truncate.tid).unwrap_or_else(|| "?".to_owned());
            progress!(
                "{label}: LOST WAKEUP: {} still blocked in {where_} {} ms after the pin ended; \
                 delivering a put on the pinned pages (vmsplice + drain)",
                op_name(op),
                args.grace_ms
            );
            let put_at = deliver_put(&map, &label)?;
            record.wakeup_put_ms = Some(since(put_at));
            let _guard = watchdog::watch(
                Stage::Check,
                format!("{label}: {} after the extra put", op_name(op)),
                AFTER_PUT_DEADLINE,
            );
            result = truncate.outcome.recv().ok();
        }
        let outcome = result.ok_or_else(|| anyhow!("{label}: lost the operation thread"))?;
        record.op_end_ms = Some(since(outcome.ended));
        record.op_wait_ms = Some(millis(
            outcome.ended.saturating_duration_since(truncate.started),
        ));
        record.op_after_unpin_ms = Some(signed_ms(pin_end.at, outcome.ended));

        report.check(
            format!("{label}: {} waited for the pin", op_name(op)),
            record.blocked_while_pinned,
            match &record.blocked_in {
                Some(f) => format!("asleep in {f}"),
                None if record.blocked_while_pinned => "asleep".to_owned(),
                None => "returned while the page was still pinned".to_owned(),
            },
        );
        let returned_ok = outcome.result.is_ok();
        let detail = match (&outcome.result, record.lost_wakeup) {
            (Err(err), _) => format!("{} failed: {err}", op_name(op)),
            (Ok(()), false) => format!(
                "returned {} ms after the pin ended",
                record.op_after_unpin_ms.unwrap_or_default()
            ),
            (Ok(()), true) => format!(
                "lost wakeup (kernel bug): returned only after the extra put, {} ms after the pin ended",
                record.op_after_unpin_ms.unwrap_or_default()
            ),
        };
        record.ok = report.check(
            format!("{label}: {} returned", op_name(op)),
            returned_ok,
            detail,
        ) && record.blocked_while_pinned
            && pin_end.bytes == PIN_LEN;
        Ok(())
    })?;
    drop(map);
    drop(file);
    if let Err(err) = std::fs::remove_file(&path) {
        progress!("cleanup: removing {}: {err}", path.display());
    }
    Ok(record)
}

fn pin_name(pin: PinKind) -> &'static str {
    match pin {
        PinKind::Odirect => "odirect",
        PinKind::Vmsplice => "vmsplice",
    }
}

fn op_name(op: OpKind) -> &'static str {
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

/// The end of a pin: when, and how many bytes the pin moved.
struct PinEnd {
    at: Instant,
    bytes: usize,
}

/// What the O_DIRECT reader thread reports.
struct ReadDone {
    at: Instant,
    result: std::io::Result<usize>,
}

/// A pin in place.
enum HeldPin<'scope> {
    Odirect {
        started: Instant,
        started_ns: u64,
        tid: i32,
        seen_waiting: bool,
        done: Receiver<ReadDone>,
        _reader: ScopedJoinHandle<'scope, ()>,
    },
    Vmsplice {
        started: Instant,
        started_ns: u64,
        tid: i32,
        pipe: Pipe,
        spliced: usize,
    },
}

impl<'scope> HeldPin<'scope> {
    /// Start the O_DIRECT read into the mapping and wait until the reader
    /// sleeps on its bio (state D): the pages are pinned from then on.
    fn odirect<'env>(
        scope: &'scope Scope<'scope, 'env>,
        device: &'env File,
        map: &'env Mapping,
        label: &str,
    ) -> Result<HeldPin<'scope>> {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let addr = map.addr();
        let reader = thread::Builder::new()
            .name("odirect-read".into())
            .spawn_scoped(scope, move || {
                let _registered = watchdog::register_current("odirect-read");
                let _ = tid_tx.send((task::gettid(), Instant::now(), clock::monotonic_ns()));
                let result = pin::odirect_read(device, addr, PIN_LEN);
                let _ = done_tx.send(ReadDone {
                    at: Instant::now(),
                    result,
                });
            })
            .context("spawning the O_DIRECT reader")?;
        let (tid, started, started_ns) = tid_rx
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("the O_DIRECT reader did not start"))?;
        let seen_waiting = {
            let _guard = watchdog::watch(
                Stage::Check,
                format!("{label}: O_DIRECT reader reaching its bio wait"),
                SETTLE_DEADLINE,
            );
            loop {
                if task::state(tid) == Some('D') {
                    break true;
                }
                if reader.is_finished() {
                    break false;
                }
                thread::sleep(POLL);
            }
        };
        if seen_waiting {
            progress!("{label}: O_DIRECT read of {PIN_LEN} bytes into the mapping in flight");
        }
        Ok(HeldPin::Odirect {
            started,
            started_ns,
            tid,
            seen_waiting,
            done,
            _reader: reader,
        })
    }

    /// vmsplice the pinned range into a pipe that nobody drains yet.
    fn vmsplice(map: &Mapping, label: &str) -> Result<HeldPin<'scope>> {
        let pipe = Pipe::new().context("pipe")?;
        let room = pipe.reserve(PIN_LEN).context("F_SETPIPE_SZ")?;
        if room < PIN_LEN {
            return Err(anyhow!("pipe holds {room} bytes, {PIN_LEN} needed"));
        }
        let started = Instant::now();
        let started_ns = clock::monotonic_ns();
        let spliced = {
            let _guard = watchdog::watch(
                Stage::Check,
                format!("{label}: vmsplice of the mapping"),
                SETTLE_DEADLINE,
            );
            pipe.vmsplice(map.addr(), PIN_LEN)
                .context("vmsplice of the DAX mapping")?
        };
        progress!("{label}: {spliced} bytes of the mapping vmspliced into a pipe");
        Ok(HeldPin::Vmsplice {
            started,
            started_ns,
            tid: task::gettid(),
            pipe,
            spliced,
        })
    }

    fn started(&self) -> Instant {
        match self {
            HeldPin::Odirect { started, .. } | HeldPin::Vmsplice { started, .. } => *started,
        }
    }

    fn started_monotonic_ns(&self) -> u64 {
        match self {
            HeldPin::Odirect { started_ns, .. } | HeldPin::Vmsplice { started_ns, .. } => {
                *started_ns
            }
        }
    }

    fn tid(&self) -> i32 {
        match self {
            HeldPin::Odirect { tid, .. } | HeldPin::Vmsplice { tid, .. } => *tid,
        }
    }

    /// Pages held, or None when the pin was never seen in place.
    fn pages_if_held(&self) -> Option<usize> {
        match self {
            HeldPin::Odirect { seen_waiting, .. } => seen_waiting.then_some(PIN_LEN / PAGE_SIZE),
            HeldPin::Vmsplice { spliced, .. } => Some(spliced.div_ceil(PAGE_SIZE)),
        }
    }

    /// Drop the pin: the read completes by itself (the device's delay); the
    /// pipe is drained at `hold_until`.
    fn release(self, hold_until: Instant, label: &str) -> Result<PinEnd> {
        match self {
            HeldPin::Odirect { done, .. } => {
                let _guard = watchdog::watch(
                    Stage::Check,
                    format!("{label}: O_DIRECT read completing"),
                    hold_until.saturating_duration_since(Instant::now()) + SETTLE_DEADLINE,
                );
                let done = done
                    .recv()
                    .map_err(|_| anyhow!("the O_DIRECT reader vanished"))?;
                let bytes = done.result.context("O_DIRECT read from the slow device")?;
                progress!("{label}: O_DIRECT read completed ({bytes} bytes): pin dropped");
                Ok(PinEnd { at: done.at, bytes })
            }
            HeldPin::Vmsplice { pipe, spliced, .. } => {
                thread::sleep(hold_until.saturating_duration_since(Instant::now()));
                let _guard = watchdog::watch(
                    Stage::Check,
                    format!("{label}: draining the pipe"),
                    SETTLE_DEADLINE,
                );
                // The pin ends as the drain starts: the first read puts the
                // pages, and the waiter may run before read() returns.
                let at = Instant::now();
                let drained = pipe.drain(spliced).context("draining the pipe")?;
                drop(pipe);
                progress!("{label}: pipe drained ({drained} bytes): pin dropped");
                Ok(PinEnd { at, bytes: drained })
            }
        }
    }
}

/// What the truncate / punch thread reports when its call returns.
struct OpDone {
    ended: Instant,
    result: std::io::Result<()>,
}

/// The thread doing the truncate or punch.
struct OpThread {
    tid: i32,
    started: Instant,
    outcome: Receiver<OpDone>,
    /// The outcome, when it came while we were watching the thread sleep.
    early: Option<OpDone>,
}

impl OpThread {
    fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        op: OpKind,
        file: &'env File,
    ) -> Result<OpThread> {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, outcome) = mpsc::channel();
        thread::Builder::new()
            .name(op_name(op).into())
            .spawn_scoped(scope, move || {
                let _registered = watchdog::register_current(op_name(op));
                let _ = tid_tx.send((task::gettid(), Instant::now()));
                let result = run_op(op, file);
                let _ = done_tx.send(OpDone {
                    ended: Instant::now(),
                    result,
                });
            })
            .context("spawning the truncate thread")?;
        let (tid, started) = tid_rx
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("the {} thread did not start", op_name(op)))?;
        Ok(OpThread {
            tid,
            started,
            outcome,
            early: None,
        })
    }

    /// Wait until the operation sleeps (Some(where)) or returns (None).
    fn wait_asleep(&mut self, label: &str) -> Option<Option<String>> {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(done) = self.outcome.try_recv() {
                self.early = Some(done);
                return None;
            }
            if let Some('S' | 'D') = task::state(self.tid) {
                // Give it a moment to settle in its wait, then say where it is.
                thread::sleep(10 * POLL);
                if task::state(self.tid).is_some_and(|s| s == 'S' || s == 'D') {
                    let where_ = task::blocked_in(self.tid);
                    progress!(
                        "{label}: operation asleep in {}",
                        where_.as_deref().unwrap_or("?")
                    );
                    return Some(where_);
                }
            }
            // A thread that is gone has returned.
            task::state(self.tid)?;
            thread::sleep(POLL);
        }
        progress!("{label}: operation neither slept nor returned in {SETTLE_DEADLINE:?}");
        None
    }

    /// The outcome if the operation returns before `deadline`.
    fn wait_until(&mut self, deadline: Instant) -> Option<OpDone> {
        if let Some(done) = self.early.take() {
            return Some(done);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.outcome.recv_timeout(left).ok()
    }
}

/// ftruncate to 0, or punch a hole over the pinned range.
fn run_op(op: OpKind, file: &File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    let rc = match op {
        // SAFETY: plain syscalls on a descriptor we own.
        OpKind::Truncate => unsafe { libc::ftruncate(fd, 0) },
        OpKind::Punch => unsafe {
            libc::fallocate(
                fd,
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                0,
                PIN_LEN as libc::off_t,
            )
        },
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
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

    #[test]
    fn truncate_and_punch_work_on_a_plain_file() {
        let path = std::env::temp_dir().join(format!("dax-wl-op-{}", std::process::id()));
        let file = write_file(&path, FILE_LEN, 1).expect("file");
        run_op(OpKind::Punch, &file).expect("punch");
        assert_eq!(
            file.metadata().expect("stat").len(),
            FILE_LEN as u64,
            "KEEP_SIZE"
        );
        run_op(OpKind::Truncate, &file).expect("truncate");
        assert_eq!(file.metadata().expect("stat").len(), 0);
        std::fs::remove_file(&path).expect("cleanup");
    }
}
