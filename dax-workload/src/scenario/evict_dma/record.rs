//! What one `evict-dma` case measured, and what the kernel generation makes
//! of it: before 6.15 the eviction returns while the page is still pinned
//! (the hazard), from 6.15 it waits in D until the pin ends.

use serde::Serialize;

use crate::cli::{EvictOp, EvictWhen, PinKind};
use crate::fs::FsKind;

/// The first kernel whose eviction and unmount wait for busy DAX pages
/// (`dax_break_layout_final`, "fs/dax: Ensure all pages are idle prior to
/// filesystem unmount").
pub const FIRST_WAITING_KERNEL: (u32, u32) = (6, 15);

/// The reader's return and the start of the drain lag the kernel's unpin
/// by a few ms: an operation that returns less than this before them
/// returned with the pin, not before it.
pub const PIN_END_SLACK_MS: i64 = 100;

/// One (filesystem, pin, operation, timing) case; times in ms since the pin started.
#[derive(Debug, Clone, Serialize)]
pub struct EvictRecord {
    pub fs: FsKind,
    pub pin: PinKind,
    pub op: EvictOp,
    pub when: EvictWhen,
    pub pages_pinned: usize,
    /// Inode number of the DAX file (the pinned pages are its pages 0..16).
    pub file_ino: u64,
    /// The file's st_dev as "major:minor", and its two numbers.
    pub dev: String,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// CLOCK_MONOTONIC (bpf_ktime_get_ns) when the pin started.
    pub pin_start_monotonic_ns: u64,
    /// Thread holding the pin (the O_DIRECT reader, or the vmsplicing main thread).
    pub pin_tid: i32,
    /// Thread that unmaps, closes and unlinks / unmounts: the eviction runs in it.
    pub evictor_tid: i32,
    pub pin_end_ms: Option<u64>,
    pub op_start_ms: Option<u64>,
    pub op_end_ms: Option<u64>,
    /// How long the evictor's whole sequence took (munmap, close, unlink or umount).
    pub op_wait_ms: Option<u64>,
    /// Return of the operation minus end of the pin (negative when it returned first).
    pub op_after_unpin_ms: Option<i64>,
    /// Returned more than [`PIN_END_SLACK_MS`] before the pin ended.
    pub op_returned_before_pin_end: bool,
    /// The evictor was seen in D (uninterruptible) for a while.
    pub blocked_while_pinned: bool,
    /// Where it slept (kernel stack frame or wchan).
    pub blocked_in: Option<String>,
    /// Returned within --grace-ms of the pin's end (`during`) or of its own start (`after`).
    pub returned_within_grace: bool,
    /// The step that failed and its error, when the sequence failed.
    pub op_error: Option<String>,
    /// A new `WARNING` from fs/dax.c in the kernel log after the operation
    /// (WARN_ON_ONCE: at most once per boot).
    pub kernel_warned: bool,
    pub kernel_warning: Option<String>,
    /// The thread the warning names (`PID:`): where the page was released.
    pub warning_tid: Option<i32>,
    pub ok: bool,
}

impl EvictRecord {
    pub fn new(fs: FsKind, pin: PinKind, op: EvictOp, when: EvictWhen) -> EvictRecord {
        EvictRecord {
            fs,
            pin,
            op,
            when,
            pages_pinned: 0,
            file_ino: 0,
            dev: String::new(),
            dev_major: 0,
            dev_minor: 0,
            pin_start_monotonic_ns: 0,
            pin_tid: 0,
            evictor_tid: 0,
            pin_end_ms: None,
            op_start_ms: None,
            op_end_ms: None,
            op_wait_ms: None,
            op_after_unpin_ms: None,
            op_returned_before_pin_end: false,
            blocked_while_pinned: false,
            blocked_in: None,
            returned_within_grace: false,
            op_error: None,
            kernel_warned: false,
            kernel_warning: None,
            warning_tid: None,
            ok: false,
        }
    }

    /// Set the device fields from an st_dev.
    pub fn set_dev(&mut self, st_dev: u64) {
        self.dev_major = libc::major(st_dev);
        self.dev_minor = libc::minor(st_dev);
        self.dev = format!("{}:{}", self.dev_major, self.dev_minor);
    }

    /// Set the return relative to the pin's end, and whether it came first.
    pub fn set_after_unpin(&mut self, ms: i64) {
        self.op_after_unpin_ms = Some(ms);
        self.op_returned_before_pin_end = ms < -PIN_END_SLACK_MS;
    }
}

/// One verdict on a case: a name (after the case label), whether it held, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

fn verdict(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Verdict {
    Verdict {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

pub fn op_name(op: EvictOp) -> &'static str {
    match op {
        EvictOp::Unlink => "unlink",
        EvictOp::Umount => "umount",
    }
}

pub fn when_name(when: EvictWhen) -> &'static str {
    match when {
        EvictWhen::During => "during",
        EvictWhen::After => "after",
    }
}

/// What the operation must have done, given whether this kernel waits on
/// eviction: it succeeded; `during`, it started while pinned and then
/// either waited in D and returned after the pin (6.15+) or returned before
/// the pin ended without waiting (the hazard, earlier kernels); `after`, it
/// returned promptly without waiting.
pub fn judge(record: &EvictRecord, waits_on_evict: bool, grace_ms: u64) -> Vec<Verdict> {
    let op = op_name(record.op);
    let mut out = vec![verdict(
        format!("{op} succeeded"),
        record.op_error.is_none() && record.op_end_ms.is_some(),
        match (&record.op_error, record.op_wait_ms) {
            (Some(err), _) => err.clone(),
            (None, Some(ms)) => format!("in {ms} ms"),
            (None, None) => "did not return".to_owned(),
        },
    )];
    let after = record.op_after_unpin_ms.unwrap_or_default();
    let slept = match &record.blocked_in {
        Some(f) => format!("in D in {f}"),
        None if record.blocked_while_pinned => "in D".to_owned(),
        None => "never seen in D".to_owned(),
    };
    match record.when {
        EvictWhen::During => {
            let started_pinned = match (record.op_start_ms, record.pin_end_ms) {
                (Some(start), Some(end)) => start < end,
                _ => false,
            };
            out.push(verdict(
                format!("{op} started while pinned"),
                started_pinned,
                format!(
                    "started at {} ms, pin ended at {} ms",
                    ms_or_dash(record.op_start_ms),
                    ms_or_dash(record.pin_end_ms)
                ),
            ));
            if waits_on_evict {
                out.push(verdict(
                    format!("{op} waited for the pin"),
                    record.blocked_while_pinned,
                    slept,
                ));
                out.push(verdict(
                    format!("{op} returned after the pin ended"),
                    !record.op_returned_before_pin_end && record.returned_within_grace,
                    format!("{after} ms after the pin ended (grace {grace_ms} ms)"),
                ));
            } else {
                out.push(verdict(
                    format!("{op} returned while pinned (the hazard)"),
                    record.op_returned_before_pin_end && !record.blocked_while_pinned,
                    format!("{} ms before the pin ended, {slept}", -after),
                ));
            }
        }
        EvictWhen::After => out.push(verdict(
            format!("{op} returned promptly"),
            !record.blocked_while_pinned && record.returned_within_grace,
            format!(
                "in {} ms (grace {grace_ms} ms), {slept}",
                ms_or_dash(record.op_wait_ms)
            ),
        )),
    }
    out
}

fn ms_or_dash(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".to_owned(), |m| m.to_string())
}

/// (major, minor) of a `uname -r` release such as `6.1.0-50-amd64` or
/// `7.2.13+deb14-amd64`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether this kernel's eviction and unmount wait for busy DAX pages.
pub fn waits_on_evict(release: &str) -> Option<bool> {
    kernel_version(release).map(|v| v >= FIRST_WAITING_KERNEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_the_test_bed_kernels() {
        assert_eq!(kernel_version("5.10.0-46-amd64"), Some((5, 10)));
        assert_eq!(kernel_version("6.1.0-50-amd64"), Some((6, 1)));
        assert_eq!(kernel_version("6.12.117+deb13-amd64"), Some((6, 12)));
        assert_eq!(kernel_version("7.2.13+deb14-amd64"), Some((7, 2)));
        assert_eq!(kernel_version("6.15"), Some((6, 15)));
        assert_eq!(kernel_version("unknown"), None);
        assert_eq!(kernel_version("6"), None);
        assert_eq!(waits_on_evict("6.12.117+deb13-amd64"), Some(false));
        assert_eq!(waits_on_evict("6.15.0-1-amd64"), Some(true));
        assert_eq!(waits_on_evict("7.2.13+deb14-amd64"), Some(true));
        assert_eq!(waits_on_evict("6.1.0-50-amd64"), Some(false));
    }

    fn during(after_unpin: i64, blocked: bool) -> EvictRecord {
        let mut r = EvictRecord::new(
            FsKind::Ext4,
            PinKind::Odirect,
            EvictOp::Unlink,
            EvictWhen::During,
        );
        r.op_start_ms = Some(310);
        r.pin_end_ms = Some(1500);
        r.op_end_ms = Some(u64::try_from(1500 + after_unpin).expect("positive"));
        r.op_wait_ms = Some(r.op_end_ms.unwrap_or_default() - 310);
        r.set_after_unpin(after_unpin);
        r.blocked_while_pinned = blocked;
        r.returned_within_grace = after_unpin < 1000;
        if blocked {
            r.blocked_in = Some("dax_break_layout_final".to_owned());
        }
        r
    }

    fn all_ok(v: &[Verdict]) -> bool {
        v.iter().all(|v| v.ok)
    }

    #[test]
    fn before_6_15_the_hazard_is_what_passes() {
        let hazard = during(-1180, false);
        assert!(hazard.op_returned_before_pin_end);
        let verdicts = judge(&hazard, false, 1000);
        assert!(all_ok(&verdicts), "{verdicts:?}");
        assert!(
            verdicts
                .iter()
                .any(|v| v.name == "unlink returned while pinned (the hazard)")
        );
        // A kernel that waited where it should not: the test bed is not what we think.
        assert!(!all_ok(&judge(&during(4, true), false, 1000)));
    }

    #[test]
    fn from_6_15_the_wait_is_what_passes() {
        let waited = during(-3, true);
        assert!(!waited.op_returned_before_pin_end, "within the slack");
        let verdicts = judge(&waited, true, 1000);
        assert!(all_ok(&verdicts), "{verdicts:?}");
        let detail = &verdicts
            .iter()
            .find(|v| v.name == "unlink waited for the pin")
            .expect("judged")
            .detail;
        assert_eq!(detail, "in D in dax_break_layout_final");
        assert!(!all_ok(&judge(&during(-1180, false), true, 1000)));
        // Waited, but never came back within the grace period.
        assert!(!all_ok(&judge(&during(5000, true), true, 1000)));
    }

    #[test]
    fn the_control_must_return_promptly_without_waiting() {
        let mut r = EvictRecord::new(
            FsKind::Xfs,
            PinKind::Vmsplice,
            EvictOp::Umount,
            EvictWhen::After,
        );
        r.op_start_ms = Some(1600);
        r.op_end_ms = Some(1640);
        r.op_wait_ms = Some(40);
        r.returned_within_grace = true;
        let verdicts = judge(&r, true, 1000);
        assert!(all_ok(&verdicts), "{verdicts:?}");
        assert_eq!(verdicts[1].name, "umount returned promptly");
        r.blocked_while_pinned = true;
        assert!(!all_ok(&judge(&r, false, 1000)));
    }

    #[test]
    fn a_failed_operation_fails_the_case() {
        let mut r = during(-1180, false);
        r.op_error = Some("umount: Device or resource busy (os error 16)".to_owned());
        let verdicts = judge(&r, false, 1000);
        assert!(!verdicts[0].ok);
        assert!(verdicts[0].detail.contains("busy"));
    }

    #[test]
    fn record_serialises_with_lowercase_kinds_and_the_device() {
        let mut r = during(-1180, false);
        r.set_dev(libc::makedev(259, 3));
        r.kernel_warned = true;
        r.warning_tid = Some(245);
        let json = serde_json::to_value(&r).expect("serialises");
        assert_eq!(json["fs"], "ext4");
        assert_eq!(json["pin"], "odirect");
        assert_eq!(json["op"], "unlink");
        assert_eq!(json["when"], "during");
        assert_eq!(json["dev"], "259:3");
        assert_eq!(
            (json["dev_major"].as_u64(), json["dev_minor"].as_u64()),
            (Some(259), Some(3))
        );
        assert_eq!(json["op_after_unpin_ms"], -1180);
        assert_eq!(json["op_returned_before_pin_end"], true);
        assert_eq!(json["kernel_warned"], true);
        assert_eq!(json["warning_tid"], 245);
        assert!(json["blocked_in"].is_null());
        for key in [
            "file_ino",
            "pin_tid",
            "evictor_tid",
            "pin_start_monotonic_ns",
            "pin_end_ms",
            "op_start_ms",
            "op_end_ms",
            "op_wait_ms",
            "blocked_while_pinned",
            "ok",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
    }
}
