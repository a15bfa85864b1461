//! Resolution of daxtrace's probes on the running kernel: what exists
//! (kallsyms, BTF, tracefs), what this process may do (capabilities), the
//! offsets the programs need (`Config`), the attach plan, and the struct
//! layouts the state readers walk (`state_layout`).
//!
//! Every input comes through [`KernelPaths`], so the same code runs on the
//! host (`/sys/kernel/btf`, `/proc/kallsyms`, `/sys/kernel/tracing`) and on
//! recorded fixtures of other kernels.
pub mod btf;
pub mod facilities;
pub mod idle;
pub mod kallsyms;
pub mod offsets;
pub mod plan;
pub mod state_layout;
pub mod tracefs;
pub mod trampolines;
pub mod trial_load;
pub mod vma_offsets;

use std::path::PathBuf;

use dax_trace_common::Config;
use dax_trace_common::config::MAX_POINTS;

use crate::probes::attach::AttachRequest;
use crate::session::probe_report::ProbeReport;

pub use facilities::Facilities;
pub use idle::IdleRule;

/// Where the kernel's self-description is read from.
#[derive(Clone, Debug)]
pub struct KernelPaths {
    /// Directory with `vmlinux` and module BTF (`/sys/kernel/btf`).
    pub btf_dir: PathBuf,
    /// `/proc/kallsyms`.
    pub kallsyms: PathBuf,
    /// tracefs mount, `None` when not mounted.
    pub tracefs: Option<PathBuf>,
    /// `uname -r`.
    pub release: String,
}

impl KernelPaths {
    /// The running kernel.
    pub fn host(facilities: &Facilities) -> Self {
        Self {
            btf_dir: PathBuf::from("/sys/kernel/btf"),
            kallsyms: PathBuf::from("/proc/kallsyms"),
            tracefs: facilities.tracefs.clone(),
            release: kernel_release(),
        }
    }
}

/// `uname -r` of the running kernel ("unknown" if unreadable).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Resolution failed on input that exists but cannot be understood.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("kernel BTF: {0}")]
    Btf(#[from] btf::BtfError),
}

/// Everything needed to load and attach, and the dry report.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub config: Config,
    pub requests: Vec<AttachRequest>,
    /// Families with planned / skipped / missing points, the problems found
    /// and the offsets put into `config`.
    pub report: ProbeReport,
    pub plans: Vec<plan::PointPlan>,
    pub idle: IdleRule,
    pub facilities: Facilities,
    /// vmlinux BTF was read: the config's offsets are real.
    pub has_btf: bool,
    /// What the state readers can read here (`crate::state`).
    pub state: state_layout::StateLayout,
}

impl Resolution {
    /// Why live capture cannot start with this resolution, if it cannot:
    /// missing privileges or BTF (offsets would be garbage).
    pub fn blockers(&self) -> Vec<String> {
        let f = &self.facilities;
        let mut out = Vec::new();
        if !f.can_bpf() || !f.can_perfmon() {
            out.push(format!(
                "insufficient privileges (euid {}): run as root or grant CAP_BPF and CAP_PERFMON",
                f.euid
            ));
        }
        if !self.has_btf {
            out.push(
                "no kernel BTF at /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF): struct offsets cannot be resolved"
                    .to_string(),
            );
        }
        out
    }
}

/// Resolves the probes on the running kernel.
/// As root, tracefs is mounted first when it is not (as bpftrace does).
pub fn resolve_host() -> Result<Resolution, ResolveError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        tracefs::mount_if_missing();
    }
    let facilities = Facilities::detect();
    let paths = KernelPaths::host(&facilities);
    resolve(&paths, facilities)
}

/// Every source of the state at start, with why it cannot be read here.
fn state_sources(
    layout: &state_layout::StateLayout,
) -> Vec<crate::session::probe_report::StateSourceReport> {
    dax_trace_common::payload::state_bits::NAMES
        .iter()
        .map(
            |(bit, name)| crate::session::probe_report::StateSourceReport {
                source: name.to_string(),
                unavailable: {
                    let why: Vec<&str> = layout
                        .unavailable
                        .iter()
                        .filter(|(b, _)| b == bit)
                        .map(|(_, w)| w.as_str())
                        .collect();
                    (!why.is_empty()).then(|| why.join("; "))
                },
            },
        )
        .collect()
}

/// Resolves the probes on the kernel described by `paths`.
pub fn resolve(paths: &KernelPaths, facilities: Facilities) -> Result<Resolution, ResolveError> {
    let mut problems = facilities.problems();
    let mut config = Config::zeroed();
    let mut offsets = offsets::Offsets::default();

    let kallsyms = match kallsyms::Kallsyms::read(&paths.kallsyms) {
        Ok(k) => Some(k),
        Err(err) => {
            problems.push(format!("{err}: no attach point can be located"));
            None
        }
    };
    if let Some(k) = &kallsyms {
        match k.vmemmap_base() {
            Some(addr) => {
                config.vmemmap_base_sym = addr;
                offsets.values.push(("vmemmap_base (symbol)".into(), addr));
            }
            None if k.addresses_hidden() => problems.push(
                "/proc/kallsyms hides addresses (not root or kptr_restrict): vmemmap_base is unknown, pfns will be wrong"
                    .to_string(),
            ),
            None => offsets
                .values
                .push(("vmemmap_start (fixed)".into(), config.vmemmap_start)),
        }
    }

    let mut btf = if paths.btf_dir.join("vmlinux").is_file() {
        Some(btf::KernelBtf::open(&paths.btf_dir)?)
    } else {
        None
    };
    if let Some(b) = &btf {
        offsets::from_btf(b, &mut config, &mut offsets)?;
        vma_offsets::from_btf(b, &mut config, &mut offsets)?;
    }
    offsets::gup_flags(&paths.release, &mut config, &mut offsets);
    offsets::func_arg_helpers(&paths.release, &mut config, &mut offsets);

    let tracefs = paths.tracefs.clone().map(tracefs::Tracefs::new);
    let mut traceable = None;
    if let Some(t) = &tracefs {
        if let Err(err) = offsets::from_tracefs(t, &mut config, &mut offsets) {
            problems.push(format!("tracepoint formats: {err}"));
        }
        match t.filter_functions() {
            Ok(set) => traceable = set,
            Err(err) => problems.push(format!("{err}")),
        }
    }

    let has_function = |name: &str| {
        kallsyms
            .as_ref()
            .is_some_and(|k| k.function(name).is_some())
    };
    let idle = idle::decide(has_function, &paths.release);
    config.idle_refcount = idle.refcount;
    offsets
        .values
        .push(("idle_refcount".into(), idle.refcount as u64));

    let plans = {
        let mut inputs = plan::Inputs {
            facilities: &facilities,
            kallsyms: kallsyms.as_ref(),
            traceable: traceable.as_ref(),
            btf: btf.as_mut(),
            tracefs: tracefs.as_ref(),
            idle_refcount: idle.refcount,
            release: &paths.release,
        };
        plan::plan(&mut inputs)
    };
    for p in &plans {
        if let Some(n) = p.nargs
            && (p.point as usize) < MAX_POINTS
        {
            config.ret_index[p.point as usize] = n;
        } else if (p.point as usize) < MAX_POINTS {
            // No prototype (module without BTF): kprobes read every register,
            // only the handler's own needs matter.
            config.ret_index[p.point as usize] =
                plan::needed_args(&dax_trace_common::probe::POINTS[p.point as usize]);
        }
    }
    for m in &offsets.missing {
        problems.push(format!("offset unavailable: {m}"));
    }
    let state = state_layout::StateLayout::resolve(btf.as_ref(), kallsyms.as_ref(), &config)?;
    let report = ProbeReport {
        kernel_release: paths.release.clone(),
        problems,
        families: plan::families(&plans),
        offsets: offsets.values,
        state: state_sources(&state),
        limits: Vec::new(),
    };
    Ok(Resolution {
        config,
        requests: plan::requests(&plans),
        report,
        plans,
        idle,
        has_btf: btf.is_some(),
        facilities,
        state,
    })
}
