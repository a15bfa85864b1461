//! `pin-owners` (issue 12, "who pinned it"): busy FS-DAX pages whose owners
//! a tracer must name, each case on its own file of a DAX filesystem:
//!
//! - `odirect`: a thread named `dio-pinner` reads from the slow device with
//!   O_DIRECT into the DAX mapping; a truncate meets the pinned pages busy.
//!   Beside it, the `control`: a child process `anon-dio` reads from the same
//!   slow device with O_DIRECT into anonymous memory (no FS-DAX page: no pin
//!   may be recorded for it).
//! - `vmsplice`: a thread named `splice-pinner` vmsplices the mapping into a
//!   pipe nobody drains; a truncate meets the pages busy.
//! - `two-processes`: two child processes (`pin-owner-a`, `pin-owner-b`)
//!   each vmsplice the same pages; a truncate meets them busy: two owners.
//! - `io-uring`: a child process named `uring-pinner` maps the file,
//!   registers the mapping as an io_uring fixed buffer (a long-term pin),
//!   which the kernel refuses with EOPNOTSUPP, and exits at once (as fio
//!   does): only a name taken in the kernel at the refusal survives it.
//!
//! Every case prints a [`PinRecord`] (in the summary's `pins`): the tasks
//! (pid, tid, comm) that pinned, the file, its inode and the pfn of its first
//! page, so a judge can find them in a trace. A truncate whose wakeup the
//! kernel loses (Debian 6.1, after an O_DIRECT pin) gets an extra put on the
//! pages, as in `dma-truncate`.

mod cases;
mod child;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use crate::cli::PinOwnersArgs;
use crate::fs::{self, FsKind, Layout, Mount};
use crate::mapping::{Mapping, Sharing};
use crate::pagemap;
use crate::pin;
use crate::progress;
use crate::report::Report;
use crate::scenario::dma_truncate::op_thread::{OpDone, OpThread};
use crate::scenario::dma_truncate::{PIN_LEN, SETTLE_DEADLINE};
use crate::scenario::{check_dax, write_file};
use crate::slowdev::SlowDevice;
use crate::task;
use crate::watchdog::{self, Stage};
use crate::workdir::WorkDir;

/// Each case's DAX file.
const FILE_LEN: usize = 1 << 20;
/// Size of the slow device.
const SLOW_LEN: usize = 1 << 20;
/// How long a truncate may take once an extra put was delivered.
const AFTER_PUT_DEADLINE: Duration = Duration::from_secs(30);

/// A task that pinned (or, for the control, read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub pid: u32,
    pub tid: i32,
    /// As /proc/PID/task/TID/comm read it once the task had named itself.
    pub comm: String,
    /// The pfn of the first page it pinned (0 for anonymous memory or unknown).
    pub pfn: u64,
}

/// One case of the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct PinRecord {
    /// `odirect`, `vmsplice`, `two-processes`, `io-uring` or `control`.
    pub case: &'static str,
    pub fs: FsKind,
    /// The DAX file (empty for the control).
    pub path: String,
    pub file_ino: u64,
    /// The pfn of the file's first page, as this process mapped it.
    pub pfn: u64,
    pub tasks: Vec<Task>,
    /// Bytes pinned (or registered, or read by the control).
    pub bytes: usize,
    /// The truncating thread, for cases that truncate.
    pub op_tid: Option<i32>,
    pub blocked_while_pinned: bool,
    pub blocked_in: Option<String>,
    /// The truncate was still asleep a grace period after the pin ended.
    pub lost_wakeup: bool,
    /// io-uring: the errno the registration failed with (95: EOPNOTSUPP).
    pub errno: Option<i32>,
    pub error: Option<String>,
    pub ok: bool,
}

impl PinRecord {
    fn new(case: &'static str, fs: FsKind) -> PinRecord {
        PinRecord {
            case,
            fs,
            path: String::new(),
            file_ino: 0,
            pfn: 0,
            tasks: Vec::new(),
            bytes: 0,
            op_tid: None,
            blocked_while_pinned: false,
            blocked_in: None,
            lost_wakeup: false,
            errno: None,
            error: None,
            ok: false,
        }
    }
}

pub fn run(report: &mut Report, dev: &Path, workdir: &Path, args: &PinOwnersArgs) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    let slow = SlowDevice::create(wd.file("slow.img"), SLOW_LEN, args.delay_ms)?;
    for fs in args.fs.kinds() {
        fs::mkfs(fs, dev, Layout::Default)?;
        let mount = Mount::dax(fs, dev, &mnt)?;
        let ctx = Ctx {
            fs,
            mount: &mount,
            slow: &slow,
            args,
        };
        let (odirect, control) = cases::odirect_with_control(report, &ctx)?;
        report.pins.push(odirect);
        report.pins.push(control);
        let vmsplice = cases::vmsplice(report, &ctx)?;
        report.pins.push(vmsplice);
        let two = cases::two_processes(report, &ctx)?;
        report.pins.push(two);
        let uring = cases::io_uring(report, &ctx)?;
        report.pins.push(uring);
        for path in report
            .pins
            .iter()
            .filter(|p| p.fs == fs && !p.path.is_empty())
        {
            if let Err(err) = std::fs::remove_file(&path.path) {
                progress!("cleanup: removing {}: {err}", path.path);
            }
        }
        // The io_uring client exits at once, but its filesystem stays: a
        // tracer joins the kernel's name of the refused file with the
        // mount point it reads when the event reaches it (a second under a
        // loaded TCG host); an unmount right away left 6.12's name
        // relative to the filesystem's root.
        std::thread::sleep(std::time::Duration::from_secs(1));
        let unmounted = mount.unmount();
        report.check_ok(format!("{}: umount after the cases", fs.name()), &unmounted);
    }
    Ok(())
}

/// What every case works with.
struct Ctx<'a> {
    fs: FsKind,
    mount: &'a Mount,
    slow: &'a SlowDevice,
    args: &'a PinOwnersArgs,
}

impl Ctx<'_> {
    fn label(&self, case: &str) -> String {
        format!("{}/{case}", self.fs.name())
    }

    fn grace(&self) -> Duration {
        Duration::from_millis(self.args.grace_ms)
    }

    fn hold(&self) -> Duration {
        Duration::from_millis(u64::from(self.args.hold_ms))
    }
}

/// A case's DAX file, mapped shared with its first pages written.
struct DaxFile {
    path: PathBuf,
    file: File,
    map: Mapping,
}

impl DaxFile {
    /// Create `name` on the mount, fill it in the record, check it is DAX
    /// (None when not: the check failed loudly) and map it.
    fn create(
        report: &mut Report,
        ctx: &Ctx,
        name: &str,
        record: &mut PinRecord,
    ) -> Result<Option<DaxFile>> {
        let path = ctx.mount.path().join(name);
        let file = write_file(&path, FILE_LEN, 0xa5)?;
        record.path = path.display().to_string();
        record.file_ino = std::os::unix::fs::MetadataExt::ino(
            &file
                .metadata()
                .with_context(|| format!("fstat {}", path.display()))?,
        );
        if !check_dax(report, &ctx.label(record.case), &path)? {
            return Ok(None);
        }
        let map = Mapping::new(&file, FILE_LEN, Sharing::Shared)
            .with_context(|| format!("mmap MAP_SHARED {}", path.display()))?;
        map.write_pages(PIN_LEN, 0x3c);
        record.pfn = pagemap::entry(map.addr())
            .with_context(|| format!("pagemap of {}", path.display()))?
            .pfn;
        Ok(Some(DaxFile { path, file, map }))
    }

    /// Unmap and close the file. It stays until every case has run, so
    /// that each case's file has an inode of its own in the trace.
    fn close(self) {
        let DaxFile { path: _, file, map } = self;
        drop(map);
        drop(file);
    }
}

/// The calling thread as a [`Task`] (pfn filled in by the caller).
fn this_thread() -> Task {
    let tid = task::gettid();
    Task {
        pid: std::process::id(),
        tid,
        comm: task::comm(tid).unwrap_or_default(),
        pfn: 0,
    }
}

/// Wait for the truncate to return within the grace period after the pin
/// ended at `pin_end`; when it does not (the wakeup was lost), record that,
/// put the pages once more (vmsplice + drain) and wait for it under a
/// watchdog.
fn await_truncate(
    record: &mut PinRecord,
    truncate: &mut OpThread,
    pin_end: Instant,
    grace: Duration,
    map: &Mapping,
    label: &str,
) -> Result<OpDone> {
    if let Some(done) = truncate.wait_until(pin_end + grace) {
        return Ok(done);
    }
    record.lost_wakeup = true;
    let where_ = task::blocked_in(truncate.tid).unwrap_or_else(|| "?".to_owned());
    progress!(
        "{label}: LOST WAKEUP: truncate still blocked in {where_} {} ms after the pin ended; \
         delivering a put on the pinned pages (vmsplice + drain)",
        grace.as_millis()
    );
    {
        let _guard = watchdog::watch(
            Stage::Check,
            format!("{label}: vmsplice + drain of the pinned pages"),
            SETTLE_DEADLINE,
        );
        pin::put_pages_via_pipe(map.addr(), PIN_LEN).context("the extra put (vmsplice + drain)")?;
    }
    let _guard = watchdog::watch(
        Stage::Check,
        format!("{label}: truncate after the extra put"),
        AFTER_PUT_DEADLINE,
    );
    truncate
        .outcome
        .recv()
        .map_err(|_| anyhow!("{label}: lost the truncate thread"))
}

/// The verdict of a truncating case: it slept while the pages were pinned
/// and returned without error (after an extra put when the wakeup was lost).
fn judge_truncate(report: &mut Report, label: &str, record: &PinRecord, done: &OpDone) -> bool {
    let waited = report.check(
        format!("{label}: truncate waited for the pin"),
        record.blocked_while_pinned,
        match &record.blocked_in {
            Some(f) => format!("asleep in {f}"),
            None if record.blocked_while_pinned => "asleep".to_owned(),
            None => "returned while the pages were still pinned".to_owned(),
        },
    );
    let detail = match (&done.result, record.lost_wakeup) {
        (Err(err), _) => format!("truncate failed: {err}"),
        (Ok(()), false) => "returned after the pin ended".to_owned(),
        (Ok(()), true) => "lost wakeup (kernel bug): returned after the extra put".to_owned(),
    };
    let returned = report.check(
        format!("{label}: truncate returned"),
        done.result.is_ok(),
        detail,
    );
    waited && returned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_serialises_with_its_tasks() {
        let mut record = PinRecord::new("two-processes", FsKind::Ext4);
        record.tasks.push(Task {
            pid: 10,
            tid: 10,
            comm: "pin-owner-a".into(),
            pfn: 0x48200,
        });
        record.op_tid = Some(12);
        let json = serde_json::to_value(&record).expect("serialises");
        assert_eq!(json["case"], "two-processes");
        assert_eq!(json["fs"], "ext4");
        assert_eq!(json["tasks"][0]["comm"], "pin-owner-a");
        assert_eq!(json["tasks"][0]["pfn"], 0x48200);
        assert_eq!(json["op_tid"], 12);
        assert!(json["errno"].is_null());
    }

    #[test]
    fn this_thread_names_itself() {
        let me = std::thread::Builder::new()
            .name("wl-pin-test".into())
            .spawn(this_thread)
            .expect("spawn")
            .join()
            .expect("join");
        assert_eq!(me.pid, std::process::id());
        assert_eq!(me.comm, "wl-pin-test");
        assert_ne!(
            me.tid,
            i32::try_from(me.pid).expect("pid"),
            "not the main thread"
        );
    }
}
