//! The `why` steps of the VM stage: `daxtrace why PID` run against a
//! process with a stuck waiter (6.1: the truncate whose wakeup was lost; 7:
//! an unlink asleep in its eviction wait behind a vmsplice pipe).
use std::path::Path;

/// `daxtrace why PID` on a process with a stuck waiter: exit 1, and the
/// text names the waiter's tid, the verdict and what `needles` require.
pub(super) fn why_stuck(dir: &Path, step: &str, needles: &[&str]) -> Result<String, String> {
    let rc = super::share::read_rc(dir, step)?;
    let path = dir.join(format!("{step}.txt"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if rc != 1 {
        let err = std::fs::read_to_string(dir.join(format!("{step}.err"))).unwrap_or_default();
        return Err(format!("exit {rc}, want 1 (stuck): {text} {err}"));
    }
    if let Some(missing) = needles.iter().find(|n| !text.contains(*n)) {
        return Err(format!("no {missing:?} in: {text}"));
    }
    Ok(text.lines().take(3).collect::<Vec<_>>().join(" | "))
}
