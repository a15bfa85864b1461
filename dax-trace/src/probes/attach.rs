//! Loading the embedded programs with the running kernel's offsets, and
//! attaching each requested point with the first kind that works.
use aya::{
    Btf, Ebpf, EbpfLoader,
    programs::{
        FEntry, FExit, KProbe, PerfEvent, ProgramError, TracePoint,
        perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
    },
};
use dax_trace_common::{
    Config,
    probe::{Hook, POINTS, Point},
};

use super::object::{PROBES_OBJECT, has_programs};
use super::parallel::{self, Programs, program};
use super::sizing::MapSizes;
use crate::session::probe_report::{AttachKind, PointReport, PointStatus};

/// What the loader is asked to do for one point: the kinds to try, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachRequest {
    pub point: u16,
    pub kinds: Vec<AttachKind>,
    pub module: Option<String>,
}

/// Loading the object failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "this daxtrace was built without its eBPF programs (AYA_BUILD_SKIP); rebuild after `cargo xtask setup`"
    )]
    NoPrograms,
    #[error("loading the eBPF object: {0}{hint}", hint = permission_hint(.0))]
    Object(#[source] aya::EbpfError),
}

fn permission_hint(err: &aya::EbpfError) -> &'static str {
    let text = format!("{err:?}");
    if text.contains("EPERM")
        || text.contains("Operation not permitted")
        || text.contains("PermissionDenied")
    {
        " (run as root, or grant CAP_BPF and CAP_PERFMON)"
    } else {
        ""
    }
}

/// Stuck-wait scanner frequency.
const SCAN_HZ: u64 = 10;

/// The ring buffer's map name in the object.
pub const RING_BUFFER_MAP: &str = "EVENTS";

/// Loads the object with `config` in its read-only CONFIG global, the
/// growing tables sized by `sizes`; a `ring_buffer_bytes` replaces the
/// ring buffer's compiled-in size (the caller checks it with
/// [`check_ring_buffer_bytes`]).
pub fn load(
    config: &Config,
    sizes: &MapSizes,
    ring_buffer_bytes: Option<u32>,
) -> Result<Ebpf, LoadError> {
    if !has_programs() {
        return Err(LoadError::NoPrograms);
    }
    lift_memlock_limit();
    let mut loader = EbpfLoader::new();
    loader.override_global("CONFIG", config, true);
    for (map, entries) in sizes.overrides() {
        loader.map_max_entries(map, entries);
    }
    if let Some(bytes) = ring_buffer_bytes {
        loader.map_max_entries(RING_BUFFER_MAP, bytes);
    }
    loader.load(PROBES_OBJECT).map_err(LoadError::Object)
}

/// Before 5.11 map memory counts against RLIMIT_MEMLOCK (64 KiB or 8 MiB
/// by default, less than the owner table): lifted as bpftrace does. Kernels
/// from 5.11 charge the memory cgroup instead; a refusal (no
/// CAP_SYS_RESOURCE) leaves the limit, and a map that does not fit then
/// fails the load with the kernel's reason.
fn lift_memlock_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } != 0 {
        log::debug!(
            "RLIMIT_MEMLOCK left as it is: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A ring buffer size the kernel accepts: a power of two, at least one page
/// (4096 bytes on every architecture daxtrace runs on).
pub fn check_ring_buffer_bytes(bytes: u64) -> Result<u32, String> {
    let ok = bytes >= 4096 && bytes.is_power_of_two();
    match u32::try_from(bytes) {
        Ok(b) if ok => Ok(b),
        _ => Err(format!(
            "{bytes} is not a ring buffer size: use a power of two from 4096 to 2147483648"
        )),
    }
}

/// Attaches every request, returning one report per requested point, in
/// request order. Points whose programs are disjoint load on several
/// threads ([`parallel`]).
pub fn attach_all(
    ebpf: &mut Ebpf,
    requests: &[AttachRequest],
    btf: Option<&Btf>,
) -> Vec<PointReport> {
    let names: Vec<Vec<String>> = requests
        .iter()
        .map(|req| {
            let point = &POINTS[req.point as usize];
            req.kinds
                .iter()
                .flat_map(|k| parallel::program_names(point, *k))
                .collect()
        })
        .collect();
    let pool: Programs<'_> = ebpf
        .programs_mut()
        .map(|(name, prog)| (name.to_string(), prog))
        .collect();
    let jobs = parallel::group(&names, pool);
    let points: Vec<u16> = requests.iter().map(|r| r.point).collect();
    let threads = parallel::threads();
    let started = std::time::Instant::now();
    let reports = parallel::run_jobs(jobs, &points, threads, |i, programs| {
        // Loading is mostly the kernel's verifier: worth knowing per
        // point when attaching is slow (RUST_LOG=dax_trace=debug).
        let started = std::time::Instant::now();
        let report = attach_one(programs, &requests[i], btf);
        log::debug!(
            "{}: load and attach took {} ms",
            POINTS[requests[i].point as usize].target,
            started.elapsed().as_millis()
        );
        report
    });
    log::debug!(
        "{} points loaded and attached in {} ms on {threads} threads",
        requests.len(),
        started.elapsed().as_millis()
    );
    reports.into_iter().map(|(_, r)| r).collect()
}

fn attach_one(programs: &mut Programs<'_>, req: &AttachRequest, btf: Option<&Btf>) -> PointReport {
    let point = &POINTS[req.point as usize];
    let mut failures: Vec<String> = Vec::new();
    let mut status = None;
    for kind in &req.kinds {
        match attach_kind(programs, point, *kind, btf) {
            Ok(()) => {
                let fallback_from = (!failures.is_empty()).then(|| failures.join("; "));
                status = Some(PointStatus::Attached {
                    kind: *kind,
                    fallback_from,
                });
                break;
            }
            Err(reason) => failures.push(format!("{} failed: {reason}", kind_name(*kind))),
        }
    }
    let status = status.unwrap_or_else(|| PointStatus::Missing {
        reason: if failures.is_empty() {
            "no attach kind available".to_string()
        } else {
            failures.join("; ")
        },
    });
    PointReport {
        point: req.point,
        target: point.target.to_string(),
        module: req.module.clone(),
        status,
    }
}

/// Short name of a kind for messages.
pub fn kind_name(kind: AttachKind) -> &'static str {
    match kind {
        AttachKind::Fentry => "fentry",
        AttachKind::Kprobe => "kprobe",
        AttachKind::Tracepoint => "tracepoint",
        AttachKind::PerfEvent => "perf_event",
    }
}

fn attach_kind(
    programs: &mut Programs<'_>,
    point: &Point,
    kind: AttachKind,
    btf: Option<&Btf>,
) -> Result<(), String> {
    let with_exit = point.hook == Hook::EntryExit;
    match kind {
        AttachKind::Fentry if point.hook == Hook::Exit => {
            let btf = btf.ok_or("the kernel has no BTF (/sys/kernel/btf/vmlinux)")?;
            let prog: &mut FExit = program(programs, &format!("fexit_{}", point.stem))?;
            prog.load(point.target, btf).map_err(describe)?;
            prog.attach().map_err(describe).map(|_| ())
        }
        AttachKind::Fentry => {
            let btf = btf.ok_or("the kernel has no BTF (/sys/kernel/btf/vmlinux)")?;
            let entry = format!("fentry_{}", point.stem);
            let link = {
                let prog: &mut FEntry = program(programs, &entry)?;
                prog.load(point.target, btf).map_err(describe)?;
                prog.attach().map_err(describe)?
            };
            if with_exit {
                let exit = format!("fexit_{}", point.stem);
                let result = (|| {
                    let prog: &mut FExit = program(programs, &exit)?;
                    prog.load(point.target, btf).map_err(describe)?;
                    prog.attach().map_err(describe).map(|_| ())
                })();
                if let Err(err) = result {
                    // Do not leave a half (entry without exit) attached.
                    if let Ok(prog) = program::<FEntry>(programs, &entry) {
                        let _ = prog.detach(link);
                    }
                    return Err(format!("fexit: {err}"));
                }
            }
            Ok(())
        }
        AttachKind::Kprobe => {
            let entry = format!("kprobe_{}", point.stem);
            let link = {
                let prog: &mut KProbe = program(programs, &entry)?;
                prog.load().map_err(describe)?;
                prog.attach(point.target, 0).map_err(describe)?
            };
            if with_exit {
                let exit = format!("kretprobe_{}", point.stem);
                let result = (|| {
                    let prog: &mut KProbe = program(programs, &exit)?;
                    prog.load().map_err(describe)?;
                    prog.attach(point.target, 0).map_err(describe).map(|_| ())
                })();
                if let Err(err) = result {
                    if let Ok(prog) = program::<KProbe>(programs, &entry) {
                        let _ = prog.detach(link);
                    }
                    return Err(format!("kretprobe: {err}"));
                }
            }
            Ok(())
        }
        AttachKind::Tracepoint => {
            let (category, name) = point
                .target
                .split_once('/')
                .ok_or_else(|| format!("{} is not a category/name tracepoint", point.target))?;
            let prog_name = format!("tp_{}", point.stem);
            let prog: &mut TracePoint = program(programs, &prog_name)?;
            if prog.fd().is_err() {
                prog.load().map_err(describe)?;
            }
            prog.attach(category, name).map_err(describe).map(|_| ())
        }
        AttachKind::PerfEvent => {
            let prog: &mut PerfEvent = program(programs, "timer_stuck_scan")?;
            prog.load().map_err(describe)?;
            prog.attach(
                PerfEventConfig::Software(SoftwareEvent::CpuClock),
                PerfEventScope::AllProcessesOneCpu { cpu: 0 },
                SamplePolicy::Frequency(SCAN_HZ),
                false,
            )
            .map_err(describe)
            .map(|_| ())
        }
    }
}

/// One line for a program error: the error chain and, for verifier
/// rejections, the last line of the verifier log.
fn describe(err: ProgramError) -> String {
    match &err {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let last = verifier_summary(&verifier_log.to_string());
            if last.is_empty() {
                format!("load: {io_error}")
            } else {
                format!("load: {io_error}: verifier: {last}")
            }
        }
        _ => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// The verifier's reason: the last two log lines that are neither the
/// statistics footer nor empty (the failing instruction and the complaint).
fn verifier_summary(log: &str) -> String {
    let meaningful: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
        })
        .collect();
    let start = meaningful.len().saturating_sub(2);
    meaningful[start..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::verifier_summary;

    #[test]
    fn verifier_summary_skips_the_statistics_footer() {
        let log = "0: R1=ctx() R10=fp0\n7: (79) r2 = *(u64 *)(r1 +24)\nfunc 'memremap_pages' arg3 type PTR is not a struct\nprocessed 9 insns (limit 1000000) max_states_per_insn 0\n";
        assert_eq!(
            verifier_summary(log),
            "7: (79) r2 = *(u64 *)(r1 +24) | func 'memremap_pages' arg3 type PTR is not a struct"
        );
        assert_eq!(verifier_summary("processed 1 insns\n"), "");
    }
}
