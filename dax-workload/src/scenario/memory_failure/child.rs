//! Running `dax-workload poison-child` and reading what it printed, and how
//! it ended (exit code, or the signal that killed it).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::cmd;
use crate::hwpoison::{self, EXIT_TOUCH_SIGBUS};

/// Setting up, poisoning and touching take milliseconds; TCG is slow, and the
/// kernel may take its time unmapping and signalling.
const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// One SIGBUS the child received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sigbus {
    pub si_code: i32,
    /// `BUS_MCEERR_AR`, `BUS_MCEERR_AO`, ...
    pub code: String,
    pub si_addr: u64,
    /// log2 of the size of the mapping the kernel tore down (12: a 4 KiB page).
    pub addr_lsb: i32,
}

/// Everything the child reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChildReport {
    pub pid: Option<u64>,
    pub vaddr: Option<u64>,
    /// From /proc/self/pagemap after the write fault (0: hidden or absent).
    pub pfn: Option<u64>,
    pub madvise_rc: Option<i64>,
    pub madvise_errno: Option<i32>,
    /// Signals that arrived while madvise ran (delivered as it returned).
    pub sigbus_on_madvise: Vec<Sigbus>,
    /// The page was still mapped after madvise returned (false: the kernel
    /// unmapped it).
    pub mapped_after_poison: Option<bool>,
    /// The touch after poisoning: the byte read and the pfn it mapped, or
    /// the SIGBUS it raised.
    pub touch_value: Option<u8>,
    pub pfn_after_touch: Option<u64>,
    pub touch_sigbus: Option<Sigbus>,
    pub exit_code: Option<i32>,
    pub killed_by: Option<i32>,
    /// "exited 0", "killed by SIGBUS", ...
    pub fate: String,
    pub error: Option<String>,
}

/// Run the child on page `page` of the first `len` bytes of `file`.
pub fn run(file: &Path, len: usize, page: usize) -> Result<ChildReport> {
    let exe = std::env::current_exe().context("finding our own executable")?;
    let args = [
        "poison-child".to_owned(),
        "--file".to_owned(),
        file.display().to_string(),
        "--len".to_owned(),
        len.to_string(),
        "--page".to_owned(),
        page.to_string(),
    ];
    let out = cmd::completed(&exe, &args, CHILD_DEADLINE)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        crate::progress!("poison-child: {line}");
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout), out.status))
}

/// The child's report from its stdout lines and its exit status.
pub fn parse(stdout: &str, status: ExitStatus) -> ChildReport {
    let mut r = ChildReport {
        exit_code: status.code(),
        killed_by: status.signal(),
        fate: fate(status),
        ..ChildReport::default()
    };
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match v["step"].as_str() {
            Some("mapped") => {
                r.pid = v["pid"].as_u64();
                r.vaddr = v["vaddr"].as_u64();
                r.pfn = v["pfn"].as_u64();
            }
            Some("poisoned") => {
                r.madvise_rc = v["madvise_rc"].as_i64();
                r.madvise_errno = v["errno"].as_i64().and_then(|e| i32::try_from(e).ok());
                r.sigbus_on_madvise = v["sigbus"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(sigbus)
                    .collect();
                r.mapped_after_poison = v["present"].as_bool();
            }
            Some("touched") => {
                if v["sigbus"] == Value::Bool(true) {
                    r.touch_sigbus = sigbus(&v);
                } else {
                    r.touch_value = v["value"].as_u64().and_then(|b| u8::try_from(b).ok());
                    r.pfn_after_touch = v["pfn"].as_u64();
                }
            }
            Some("error") => r.error = v["error"].as_str().map(str::to_owned),
            _ => {}
        }
    }
    r
}

fn sigbus(v: &Value) -> Option<Sigbus> {
    let si_code = i32::try_from(v["si_code"].as_i64()?).ok()?;
    Some(Sigbus {
        si_code,
        code: hwpoison::si_code_name(si_code),
        si_addr: v["si_addr"].as_u64()?,
        addr_lsb: i32::try_from(v["addr_lsb"].as_i64()?).ok()?,
    })
}

fn fate(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(EXIT_TOUCH_SIGBUS), _) => {
            format!("exited {EXIT_TOUCH_SIGBUS} from its SIGBUS handler on the touch")
        }
        (Some(code), _) => format!("exited {code}"),
        (None, Some(sig)) => format!("killed by {}", signal_name(sig)),
        (None, None) => "unknown".to_owned(),
    }
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_caught_the_sigbus_and_read_the_page() {
        let stdout = concat!(
            r#"{"step":"mapped","pid":201,"vaddr":140000000012288,"pfn":262659,"present":true}"#,
            "\n",
            r#"{"step":"poisoned","madvise_rc":0,"errno":0,"sigbus":[{"si_code":4,"si_addr":140000000012288,"addr_lsb":12}],"present":false}"#,
            "\n",
            r#"{"step":"touched","sigbus":false,"value":165,"pfn":262659}"#,
            "\n"
        );
        let r = parse(stdout, ExitStatus::from_raw(0));
        assert_eq!(r.pfn, Some(262_659));
        assert_eq!(r.madvise_rc, Some(0));
        assert_eq!(r.sigbus_on_madvise.len(), 1);
        assert_eq!(r.sigbus_on_madvise[0].code, "BUS_MCEERR_AR");
        assert_eq!(r.sigbus_on_madvise[0].si_addr, 140_000_000_012_288);
        assert_eq!(r.mapped_after_poison, Some(false));
        assert_eq!(r.touch_value, Some(0xa5));
        assert_eq!(r.pfn_after_touch, Some(262_659));
        assert_eq!(r.fate, "exited 0");
    }

    #[test]
    fn a_child_killed_during_madvise_keeps_its_first_line() {
        let stdout = concat!(
            r#"{"step":"mapped","pid":7,"vaddr":4096,"pfn":9,"present":true}"#,
            "\n"
        );
        // Wait status of a process killed by SIGKILL: the signal number.
        let r = parse(stdout, ExitStatus::from_raw(libc::SIGKILL));
        assert_eq!(r.pfn, Some(9));
        assert_eq!(r.madvise_rc, None);
        assert_eq!(r.killed_by, Some(libc::SIGKILL));
        assert_eq!(r.fate, "killed by SIGKILL");
    }

    #[test]
    fn a_sigbus_on_the_touch_is_read_from_the_handler_line() {
        let stdout = concat!(
            r#"{"step":"touched","sigbus":true,"si_code":2,"si_addr":8192,"addr_lsb":0}"#,
            "\n"
        );
        let r = parse(stdout, ExitStatus::from_raw(EXIT_TOUCH_SIGBUS << 8));
        let s = r.touch_sigbus.expect("sigbus");
        assert_eq!((s.code.as_str(), s.si_addr), ("BUS_ADRERR", 8192));
        assert!(r.fate.contains("SIGBUS handler"), "{}", r.fate);
    }
}
