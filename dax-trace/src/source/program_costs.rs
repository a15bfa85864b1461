//! What the capture's own eBPF programs cost, as bpftop and ebpf_exporter
//! show it: each loaded program's run count and run time, read from the
//! kernel (`bpf_prog_info`) when asked. The kernel counts them only while
//! run-time statistics are on (`kernel.bpf_stats_enabled`, or a
//! `BPF_ENABLE_STATS` descriptor held open: [`enable_stats`]); otherwise
//! they stay 0.
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use aya::Ebpf;

/// Where the kernel says whether it counts program run time.
const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// One program's totals since it was loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramCost {
    /// The program's name in the object (one per hook and kind).
    pub program: String,
    pub runs: u64,
    pub run_time_ns: u64,
}

/// A handle on the programs of a live capture. It does not keep them
/// loaded: once the capture ends (its pump owns them) it reads nothing.
#[derive(Clone)]
pub struct ProgramCosts {
    programs: Weak<Mutex<Ebpf>>,
}

impl std::fmt::Debug for ProgramCosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramCosts")
            .field("live", &(self.programs.strong_count() > 0))
            .finish()
    }
}

impl ProgramCosts {
    pub(super) fn new(programs: &Arc<Mutex<Ebpf>>) -> Self {
        Self {
            programs: Arc::downgrade(programs),
        }
    }

    /// The loaded programs' totals, by name (programs that failed to load
    /// or attach are not loaded and left out); empty after the capture.
    pub fn read(&self) -> Vec<ProgramCost> {
        let Some(programs) = self.programs.upgrade() else {
            return Vec::new();
        };
        let ebpf = programs.lock().unwrap_or_else(|p| p.into_inner());
        let mut costs: Vec<ProgramCost> = ebpf
            .programs()
            .filter_map(|(name, program)| {
                let info = program.info().ok()?;
                Some(ProgramCost {
                    program: name.to_string(),
                    runs: info.run_count(),
                    run_time_ns: u64::try_from(info.run_time().as_nanos()).unwrap_or(u64::MAX),
                })
            })
            .collect();
        costs.sort_by(|a, b| a.program.cmp(&b.program));
        costs
    }
}

/// `BPF_ENABLE_STATS` descriptors this process holds ([`StatsEnabled`]).
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Whether the kernel counts program run time now: this process holds a
/// `BPF_ENABLE_STATS` descriptor, or the sysctl is set (the sysctl shows
/// only what was written to it, not the descriptors: Debian 6.1 read 0
/// while `serve --program-stats` held one and the counters ran). `None`
/// when neither can say (no such sysctl: kernels before 5.1).
pub fn stats_enabled() -> Option<bool> {
    if HELD.load(Ordering::Relaxed) > 0 {
        return Some(true);
    }
    parse_stats_sysctl(&std::fs::read_to_string(STATS_SYSCTL).ok()?)
}

fn parse_stats_sysctl(text: &str) -> Option<bool> {
    text.trim().parse::<u32>().ok().map(|v| v != 0)
}

/// Run-time statistics stay on while this is held (the kernel turns them
/// off with the last holder; a sysctl set by someone else stays as it is).
#[derive(Debug)]
pub struct StatsEnabled {
    _fd: OwnedFd,
}

/// Turns run-time statistics on for as long as the result is held. Needs
/// CAP_SYS_ADMIN (so: before capabilities are dropped) and kernel 5.8.
pub fn enable_stats() -> Result<StatsEnabled, std::io::Error> {
    let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    HELD.fetch_add(1, Ordering::Relaxed);
    Ok(StatsEnabled { _fd: fd })
}

impl Drop for StatsEnabled {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sysctl_reads_as_on_or_off() {
        assert_eq!(parse_stats_sysctl("1\n"), Some(true));
        assert_eq!(parse_stats_sysctl("0\n"), Some(false));
        assert_eq!(parse_stats_sysctl(""), None);
    }

    #[test]
    fn a_held_stats_descriptor_reads_as_on_and_its_drop_as_the_sysctl() {
        let held = match enable_stats() {
            Ok(h) => h,
            Err(err) => {
                println!("skipping: BPF_ENABLE_STATS refused here ({err}): needs root and 5.8");
                return;
            }
        };
        assert_eq!(stats_enabled(), Some(true));
        drop(held);
        let sysctl = std::fs::read_to_string(STATS_SYSCTL)
            .ok()
            .and_then(|t| parse_stats_sysctl(&t));
        assert_eq!(stats_enabled(), sysctl, "the sysctl decides again");
    }

    #[test]
    fn a_handle_outliving_its_capture_reads_nothing() {
        let ended = ProgramCosts {
            programs: Weak::new(),
        };
        assert!(ended.read().is_empty());
        assert!(format!("{ended:?}").contains("live: false"));
    }
}
