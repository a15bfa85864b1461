//! `evict-dma`: a DAX page stays busy (an O_DIRECT read from a slow device
//! into it, or a vmsplice of it into a pipe) while another thread unmaps and
//! closes its file and then unlinks it or unmounts the filesystem. Before
//! 6.15 nothing on the eviction path waits: the page leaves its file (and its
//! blocks go back to the free pool) while the DMA still targets it, and the
//! kernel only warns once. From 6.15 the eviction sleeps in D until the page
//! is idle. The `after` cases are the control: the pin ends first.

mod evictor;
pub mod record;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::cli::{EvictDmaArgs, EvictOp, EvictWhen, PinKind};
use crate::fs::{self, FsKind, Layout, Mount};
use crate::kmsg::{self, Kmsg};
use crate::mapping::{Mapping, Sharing};
use crate::progress;
use crate::report::{self, Report, millis};
use crate::scenario::dma_truncate::held_pin::HeldPin;
use crate::scenario::dma_truncate::op_thread::OpThread;
use crate::scenario::dma_truncate::{PIN_LEN, SETTLE_DEADLINE, pin_name, signed_ms};
use crate::scenario::{check_dax, write_file};
use crate::slowdev::SlowDevice;
use crate::task;
use crate::watchdog::{self, Stage};
use crate::workdir::WorkDir;
use evictor::{Eviction, GiveUp};
use record::{EvictRecord, op_name, when_name};

/// The DAX file.
const FILE_LEN: usize = 1 << 20;
/// Size of the slow device.
const SLOW_LEN: usize = 1 << 20;
/// How long the evictor must stay in D, without a break, to count as
/// waiting (a journal commit sleeps in D for a moment too).
const BLOCK_CONFIRM: Duration = Duration::from_millis(200);
/// The name of the evicting thread (its comm).
const EVICTOR: &str = "evictor";

const _: () = assert!(PIN_LEN <= FILE_LEN && PIN_LEN <= SLOW_LEN);

/// One case of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    fs: FsKind,
    pin: PinKind,
    op: EvictOp,
    when: EvictWhen,
}

impl Case {
    fn label(self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.fs.name(),
            pin_name(self.pin),
            op_name(self.op),
            when_name(self.when)
        )
    }
}

pub fn run(report: &mut Report, dev: &Path, workdir: &Path, args: &EvictDmaArgs) -> Result<()> {
    args.validate().map_err(|e| anyhow!(e))?;
    let release = report::kernel_release();
    let waits = record::waits_on_evict(&release)
        .ok_or_else(|| anyhow!("cannot tell the kernel version from uname -r {release:?}"))?;
    report.waits_on_evict = Some(waits);
    progress!(
        "{release}: eviction {} for busy DAX pages",
        if waits { "waits" } else { "does not wait" }
    );
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
        for &pin in &pins {
            for op in args.op.kinds() {
                for when in args.when.kinds() {
                    let case = Case { fs, pin, op, when };
                    let record = run_case(report, case, dev, &mnt, slow.as_ref(), args, waits)?;
                    report.evictions.push(record);
                }
            }
        }
    }
    Ok(())
}

fn run_case(
    report: &mut Report,
    case: Case,
    dev: &Path,
    mnt: &Path,
    slow: Option<&SlowDevice>,
    args: &EvictDmaArgs,
    waits: bool,
) -> Result<EvictRecord> {
    let label = case.label();
    progress!("case {label}");
    let mut record = EvictRecord::new(case.fs, case.pin, case.op, case.when);
    // A fresh mount per case: umount gives up the whole filesystem.
    let mut mount = Some(Mount::dax(case.fs, dev, mnt)?);
    let path = mnt.join("pinned");
    let file = write_file(&path, FILE_LEN, 0xa5)?;
    let meta = file
        .metadata()
        .with_context(|| format!("fstat {}", path.display()))?;
    record.file_ino = meta.ino();
    record.set_dev(meta.dev());
    if check_dax(report, &label, &path)? {
        let map = Mapping::new(&file, FILE_LEN, Sharing::Shared)
            .with_context(|| format!("mmap MAP_SHARED {}", path.display()))?;
        map.write_pages(PIN_LEN, 0x3c);
        let slow_dev = match (case.pin, slow) {
            (PinKind::Odirect, Some(slow)) => Some(slow.open_direct()?),
            (PinKind::Odirect, None) => return Err(anyhow!("odirect pin without a slow device")),
            (PinKind::Vmsplice, _) => None,
        };
        let give_up = match case.op {
            EvictOp::Unlink => GiveUp::Unlink(path.clone()),
            EvictOp::Umount => GiveUp::Umount(
                mount
                    .take()
                    .ok_or_else(|| anyhow!("{label}: no mount to give up"))?,
            ),
        };
        let eviction = Eviction { map, file, give_up };
        // Every wait inside has its own watchdog; this one also covers an
        // error return while a thread is stuck, which would leave the scope
        // joining it.
        let deadline = args.delay() + args.hold() + args.grace() + 4 * SETTLE_DEADLINE;
        let _case_guard = watchdog::watch(Stage::Check, format!("case {label}"), deadline);
        thread::scope(|scope| {
            let env = CaseEnv {
                case,
                label: &label,
                args,
                waits,
            };
            env.pin_and_evict(scope, report, &mut record, slow_dev.as_ref(), eviction)
        })?;
    } else {
        drop(file);
        if let Err(err) = std::fs::remove_file(&path) {
            progress!("cleanup: removing {}: {err}", path.display());
        }
    }
    if let Some(mount) = mount {
        let unmounted = mount.unmount();
        report.check_ok(format!("{label}: umount after the case"), &unmounted);
    }
    Ok(record)
}

/// What a case's steps need to know.
struct CaseEnv<'a> {
    case: Case,
    label: &'a str,
    args: &'a EvictDmaArgs,
    waits: bool,
}

impl CaseEnv<'_> {
    /// Pin, give the file up during or after the pin, record and judge.
    fn pin_and_evict<'scope, 'env>(
        &self,
        scope: &'scope Scope<'scope, 'env>,
        report: &mut Report,
        record: &mut EvictRecord,
        slow_dev: Option<&'env std::fs::File>,
        eviction: Eviction,
    ) -> Result<()> {
        let label = self.label;
        let held = match slow_dev {
            Some(dev) => HeldPin::odirect(scope, dev, &eviction.map, label, "odirect-read")?,
            None => HeldPin::vmsplice(&eviction.map, label)?,
        };
        let in_place = Instant::now();
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
        let hold_until = pin_started
            + match self.case.pin {
                PinKind::Odirect => self.args.delay(),
                PinKind::Vmsplice => self.args.hold(),
            };

        let (pin_end, mut evictor, mut log) = match self.case.when {
            EvictWhen::During => {
                thread::sleep(
                    (in_place + self.args.evict_after()).saturating_duration_since(Instant::now()),
                );
                let (mut evictor, log) = start_evictor(scope, eviction)?;
                self.watch_sleep(record, &mut evictor, hold_until);
                (held.release(hold_until, label)?, evictor, log)
            }
            EvictWhen::After => {
                let pin_end = held.release(hold_until, label)?;
                let (mut evictor, log) = start_evictor(scope, eviction)?;
                self.watch_sleep(record, &mut evictor, Instant::now() + self.args.grace());
                (pin_end, evictor, log)
            }
        };
        record.evictor_tid = evictor.tid;
        record.op_start_ms = Some(since(evictor.started));
        record.pin_end_ms = Some(since(pin_end.at));
        let pin_ok = report.check(
            format!("{label}: pin held"),
            pin_end.bytes == PIN_LEN,
            format!(
                "{pages} pages for {} ms, {} of {PIN_LEN} bytes moved",
                since(pin_end.at),
                pin_end.bytes
            ),
        );

        // The grace period runs from the pin's end (or, for the control,
        // from the start of the operation).
        let grace_from = match self.case.when {
            EvictWhen::During => pin_end.at.max(evictor.started),
            EvictWhen::After => evictor.started,
        };
        let op = op_name(self.case.op);
        let done = match evictor.wait_until(grace_from + self.args.grace()) {
            Some(done) => {
                record.returned_within_grace = true;
                done
            }
            None => {
                let where_ = task::blocked_in(evictor.tid).unwrap_or_else(|| "?".to_owned());
                progress!(
                    "{label}: {op} still blocked in {where_} {} ms after the grace started",
                    self.args.grace_ms
                );
                let _guard = watchdog::watch(
                    Stage::Check,
                    format!("{label}: {op} returning"),
                    SETTLE_DEADLINE,
                );
                evictor
                    .outcome
                    .recv()
                    .map_err(|_| anyhow!("{label}: lost the {op} thread"))?
            }
        };
        record.op_end_ms = Some(since(done.ended));
        record.op_wait_ms = Some(millis(
            done.ended.saturating_duration_since(evictor.started),
        ));
        record.set_after_unpin(signed_ms(pin_end.at, done.ended));
        record.op_error = done.result.err().map(|e| e.to_string());
        if let Some(warning) = log
            .as_mut()
            .and_then(|l| kmsg::dax_warning(&l.new_messages()))
        {
            progress!("{label}: kernel: {}", warning.line);
            record.kernel_warned = true;
            record.warning_tid = warning.tid;
            record.kernel_warning = Some(warning.line);
        }
        let mut ok = pin_ok;
        for verdict in record::judge(record, self.waits, self.args.grace_ms) {
            ok &= report.check(
                format!("{label}: {}", verdict.name),
                verdict.ok,
                verdict.detail,
            );
        }
        record.ok = ok;
        Ok(())
    }

    /// Watch the evictor until it has slept in D for a while (recorded with
    /// where), returns, or `until` passes.
    fn watch_sleep(&self, record: &mut EvictRecord, evictor: &mut OpThread, until: Instant) {
        if let Some(where_) = evictor.wait_uninterruptible(self.label, BLOCK_CONFIRM, until) {
            record.blocked_while_pinned = true;
            record.blocked_in = where_;
        }
    }
}

/// Start the evicting thread, with the kernel log read from just before it.
fn start_evictor<'scope>(
    scope: &'scope Scope<'scope, '_>,
    eviction: Eviction,
) -> Result<(OpThread, Option<Kmsg>)> {
    let log = match Kmsg::open_at_end() {
        Ok(log) => Some(log),
        Err(err) => {
            progress!("/dev/kmsg: {err}: kernel warnings are not looked for");
            None
        }
    };
    let evictor = OpThread::spawn(scope, EVICTOR, move || eviction.run())?;
    Ok((evictor, log))
}
