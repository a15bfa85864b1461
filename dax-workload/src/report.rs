//! Checks and measurements of a scenario run, and the JSON summary line.

use std::time::Instant;

use serde::Serialize;

use crate::progress;
use crate::scenario::dma_truncate::CaseRecord;
use crate::scenario::evict_dma::record::EvictRecord;
use crate::scenario::faults::FaultRecord;
use crate::scenario::memory_failure::PoisonRecord;
use crate::scenario::mount_cycles::CycleRecord;
use crate::scenario::pin_heavy::PinHeavyRecord;
use crate::scenario::pin_owners::PinRecord;

/// Exit status when every check held.
pub const EXIT_OK: i32 = 0;
/// Exit status when a check failed or a step stayed blocked.
pub const EXIT_CHECK_FAILED: i32 = 1;
/// Exit status when the scenario could not be set up.
pub const EXIT_SETUP_ERROR: i32 = 2;

/// One verified property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What a scenario collects while it runs.
#[derive(Debug)]
pub struct Report {
    scenario: &'static str,
    started: Instant,
    checks: Vec<Check>,
    pub cases: Vec<CaseRecord>,
    pub evictions: Vec<EvictRecord>,
    /// evict-dma: whether this kernel's eviction waits for busy DAX pages.
    pub waits_on_evict: Option<bool>,
    pub cycles: Vec<CycleRecord>,
    pub faults: Vec<FaultRecord>,
    pub memory_failures: Vec<PoisonRecord>,
    pub pins: Vec<PinRecord>,
    pub pin_heavy: Option<PinHeavyRecord>,
}

impl Report {
    pub fn new(scenario: &'static str) -> Report {
        Report {
            scenario,
            started: Instant::now(),
            checks: Vec::new(),
            cases: Vec::new(),
            evictions: Vec::new(),
            waits_on_evict: None,
            cycles: Vec::new(),
            faults: Vec::new(),
            memory_failures: Vec::new(),
            pins: Vec::new(),
            pin_heavy: None,
        }
    }

    /// Record a check, print it, and return whether it held.
    /// Records a check that holds when `result` is Ok; the error is the detail.
    pub fn check_ok<T>(&mut self, name: impl Into<String>, result: &anyhow::Result<T>) -> bool {
        let detail = result
            .as_ref()
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        self.check(name, result.is_ok(), detail)
    }

    pub fn check(&mut self, name: impl Into<String>, ok: bool, detail: impl Into<String>) -> bool {
        let check = Check {
            name: name.into(),
            ok,
            detail: detail.into(),
        };
        let verdict = if ok { "ok" } else { "FAILED" };
        if check.detail.is_empty() {
            progress!("check {}: {verdict}", check.name);
        } else {
            progress!("check {}: {verdict} ({})", check.name, check.detail);
        }
        self.checks.push(check);
        ok
    }

    /// The summary of a run that ended, with the setup error that ended it if any.
    pub fn finish(self, error: Option<&anyhow::Error>) -> Summary {
        let exit_code = match error {
            Some(_) => EXIT_SETUP_ERROR,
            None if self.checks.is_empty() => EXIT_CHECK_FAILED,
            None if self.checks.iter().all(|c| c.ok) => EXIT_OK,
            None => EXIT_CHECK_FAILED,
        };
        Summary {
            scenario: self.scenario,
            ok: exit_code == EXIT_OK,
            exit_code,
            kernel: kernel_release(),
            duration_ms: millis(self.started.elapsed()),
            lost_wakeup: self.cases.iter().any(|c| c.lost_wakeup)
                || self.pins.iter().any(|p| p.lost_wakeup)
                || self.pin_heavy.as_ref().is_some_and(|p| p.lost_wakeup),
            checks: self.checks,
            cases: self.cases,
            evictions: self.evictions,
            waits_on_evict: self.waits_on_evict,
            cycles: self.cycles,
            faults: self.faults,
            memory_failures: self.memory_failures,
            pins: self.pins,
            pin_heavy: self.pin_heavy,
            error: error.map(|e| format!("{e:#}")),
            stuck: None,
        }
    }
}

/// The final machine-readable line.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub scenario: &'static str,
    pub ok: bool,
    pub exit_code: i32,
    pub kernel: String,
    pub duration_ms: u64,
    /// Some DMA-vs-truncate case lost its wakeup (the kernel bug, not a failure).
    pub lost_wakeup: bool,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseRecord>,
    /// evict-dma: one record per case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evictions: Vec<EvictRecord>,
    /// evict-dma: the kernel is 6.15 or later, where eviction and unmount
    /// wait for busy DAX pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_on_evict: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycles: Vec<CycleRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultRecord>,
    /// memory-failure: one record per filesystem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub memory_failures: Vec<PoisonRecord>,
    /// pin-owners: one record per case (the tasks that pinned, the file, the pfn).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<PinRecord>,
    /// pin-heavy: the pages held at once, their holder and the truncate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_heavy: Option<PinHeavyRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck: Option<String>,
}

impl Summary {
    /// The summary a firing watchdog prints: the run ends here.
    pub fn stuck(scenario: &'static str, what: &str, exit_code: i32) -> Summary {
        Summary {
            scenario,
            ok: false,
            exit_code,
            kernel: kernel_release(),
            duration_ms: millis(progress::elapsed()),
            lost_wakeup: false,
            checks: Vec::new(),
            cases: Vec::new(),
            evictions: Vec::new(),
            waits_on_evict: None,
            cycles: Vec::new(),
            faults: Vec::new(),
            memory_failures: Vec::new(),
            pins: Vec::new(),
            pin_heavy: None,
            error: None,
            stuck: Some(what.to_owned()),
        }
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            format!(
                r#"{{"scenario":"{}","ok":false,"exit_code":{},"error":"summary not serialisable: {}"}}"#,
                self.scenario,
                self.exit_code,
                err.to_string().replace('"', "'")
            )
        })
    }
}

pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `uname -r` of the running kernel.
pub fn kernel_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "unknown".to_owned();
    }
    let bytes: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(summary: &Summary) -> serde_json::Value {
        serde_json::from_str(&summary.to_json_line()).expect("summary is JSON")
    }

    #[test]
    fn all_checks_holding_is_exit_zero() {
        let mut report = Report::new("smoke");
        assert!(report.check("ext4/pmem statx DAX", true, ""));
        let json = parse(&report.finish(None));
        assert_eq!(json["scenario"], "smoke");
        assert_eq!(json["ok"], true);
        assert_eq!(json["exit_code"], 0);
        assert_eq!(json["lost_wakeup"], false);
        assert_eq!(json["checks"][0]["name"], "ext4/pmem statx DAX");
        assert!(json.get("error").is_none());
        assert!(json.get("cases").is_none(), "empty lists are left out");
    }

    #[test]
    fn evictions_and_the_kernel_generation_are_reported() {
        use crate::cli::{EvictOp, EvictWhen, PinKind};
        use crate::fs::FsKind;
        let mut report = Report::new("evict-dma");
        let json = parse(&Report::new("evict-dma").finish(None));
        assert!(json.get("waits_on_evict").is_none(), "only when set");
        assert!(json.get("evictions").is_none());
        report.check("ext4/odirect/unlink/during: unlink succeeded", true, "");
        report.waits_on_evict = Some(false);
        report.evictions.push(EvictRecord::new(
            FsKind::Ext4,
            PinKind::Odirect,
            EvictOp::Unlink,
            EvictWhen::During,
        ));
        let json = parse(&report.finish(None));
        assert_eq!(json["waits_on_evict"], false);
        assert_eq!(json["evictions"][0]["op"], "unlink");
        assert_eq!(json["evictions"][0]["when"], "during");
        assert!(json.get("cases").is_none());
    }

    #[test]
    fn one_failed_check_is_exit_one() {
        let mut report = Report::new("smoke");
        report.check("a", true, "");
        assert!(!report.check("b", false, "statx says no DAX"));
        let json = parse(&report.finish(None));
        assert_eq!(json["ok"], false);
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["checks"][1]["detail"], "statx says no DAX");
    }

    #[test]
    fn a_run_without_checks_proves_nothing() {
        let summary = Report::new("faults").finish(None);
        assert_eq!(summary.exit_code, EXIT_CHECK_FAILED);
    }

    #[test]
    fn setup_error_wins_and_is_reported() {
        let mut report = Report::new("dm-mount-cycles");
        report.check("a", true, "");
        let err = anyhow::anyhow!("dmsetup create failed").context("dm-linear over /dev/pmem0");
        let json = parse(&report.finish(Some(&err)));
        assert_eq!(json["exit_code"], 2);
        assert_eq!(
            json["error"],
            "dm-linear over /dev/pmem0: dmsetup create failed"
        );
    }

    #[test]
    fn stuck_summary_names_the_step() {
        let json = parse(&Summary::stuck("dma-truncate", "truncate on ext4", 1));
        assert_eq!(json["ok"], false);
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["stuck"], "truncate on ext4");
    }

    #[test]
    fn kernel_release_is_known() {
        let release = kernel_release();
        assert!(
            release.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{release}"
        );
    }
}
