//! Dropping capabilities once the probes are attached.
//!
//! Capabilities are per thread on Linux, so the policy is applied twice:
//! every runtime thread drops to the kept set when it starts
//! (`on_thread_start`), and the main thread drops after it attached the
//! probes. Threads created later inherit the reduced sets.
//!
//! What is kept: live mode keeps `CAP_BPF` alone, because reading the
//! per-CPU counter maps is a `bpf(BPF_MAP_LOOKUP_ELEM)` call, which kernels
//! before 6.5 refuse without it when unprivileged BPF is disabled (Debian's
//! default); the ring buffer is read through its mmap. Replay keeps nothing.
//! The bounding set is reduced too (so nothing can be regained by exec), the
//! inheritable and ambient sets are cleared, and `no_new_privs` is set.
use caps::{CapSet, Capability, CapsHashSet};

/// Dropping failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("changing the {set} capability set: {source}")]
    Caps {
        set: &'static str,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("setting no_new_privs: {0}")]
    NoNewPrivs(#[source] std::io::Error),
}

/// Which capabilities a mode of `serve` keeps.
pub fn kept_for(live: bool) -> CapsHashSet {
    let mut keep = CapsHashSet::new();
    if live {
        keep.insert(Capability::CAP_BPF);
    }
    keep
}

fn caps_err(set: &'static str) -> impl FnOnce(caps::errors::CapsError) -> PrivilegeError {
    move |source| PrivilegeError::Caps { set, source }
}

/// What the calling thread holds after [`drop_to`], for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub effective_before: Vec<String>,
    pub effective_after: Vec<String>,
}

fn names(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(ToString::to_string).collect();
    v.sort();
    v
}

/// Reduces the calling thread's capabilities to `keep` (intersected with
/// what it has); see the module docs.
pub fn drop_to(keep: &CapsHashSet) -> Result<Dropped, PrivilegeError> {
    let effective = caps::read(None, CapSet::Effective).map_err(caps_err("effective"))?;
    let permitted = caps::read(None, CapSet::Permitted).map_err(caps_err("permitted"))?;
    let kept: CapsHashSet = permitted.intersection(keep).copied().collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP, about to go.
    if effective.contains(&Capability::CAP_SETPCAP) {
        let bounding = caps::read(None, CapSet::Bounding).map_err(caps_err("bounding"))?;
        for cap in bounding.difference(keep) {
            caps::drop(None, CapSet::Bounding, *cap).map_err(caps_err("bounding"))?;
        }
    }
    // Clearing the ambient set fails on kernels without it (before 4.3).
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(caps_err("ambient"))?;
    }
    caps::clear(None, CapSet::Inheritable).map_err(caps_err("inheritable"))?;
    caps::set(None, CapSet::Effective, &kept).map_err(caps_err("effective"))?;
    caps::set(None, CapSet::Permitted, &kept).map_err(caps_err("permitted"))?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(PrivilegeError::NoNewPrivs(std::io::Error::last_os_error()));
    }
    Ok(Dropped {
        effective_before: names(&effective),
        effective_after: names(&kept),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_drops_everything_it_is_not_told_to_keep() {
        // On its own thread: the test runner's other threads keep theirs.
        let result = std::thread::spawn(|| {
            let dropped = drop_to(&kept_for(false)).expect("dropping never needs privileges");
            let effective = caps::read(None, CapSet::Effective).expect("reads");
            let permitted = caps::read(None, CapSet::Permitted).expect("reads");
            (dropped, effective, permitted)
        })
        .join()
        .expect("thread");
        let (dropped, effective, permitted) = result;
        assert!(dropped.effective_after.is_empty(), "{dropped:?}");
        assert!(effective.is_empty(), "{effective:?}");
        assert!(permitted.is_empty(), "{permitted:?}");
    }

    #[test]
    fn live_mode_keeps_cap_bpf_only_if_it_was_held() {
        let result = std::thread::spawn(|| {
            let had = caps::has_cap(None, CapSet::Permitted, Capability::CAP_BPF).expect("reads");
            let dropped = drop_to(&kept_for(true)).expect("drops");
            (had, dropped)
        })
        .join()
        .expect("thread");
        let (had, dropped) = result;
        let expected: Vec<String> = if had { vec!["CAP_BPF".into()] } else { vec![] };
        assert_eq!(dropped.effective_after, expected);
    }
}
