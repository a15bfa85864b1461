//! The planner: for every attach point of `POINTS`, which kinds to try on
//! this kernel (fentry, kprobe, tracepoint, perf event), or why none.
//!
//! - fentry/fexit when the function is in vmlinux BTF (aya's FEntry cannot
//!   target module BTF) and the kernel has BTF;
//! - kprobe/kretprobe when the function is a text symbol in kallsyms and the
//!   kprobe PMU exists (always the fallback after fentry: some kernels refuse
//!   trampolines, which only an attach attempt reveals);
//! - tracepoint when `events/<category>/<name>` exists in tracefs;
//! - Missing, with the reason, otherwise.
//!
//! Points sharing a non-zero group are alternatives: the first available one
//! is planned and the others are skipped.
use std::collections::HashSet;

use dax_trace_common::probe::{Family, Hook, POINTS, Point, gup_shape, idx};

use super::btf::{FuncInfo, KernelBtf};
use super::facilities::Facilities;
use super::kallsyms::Kallsyms;
use super::tracefs::Tracefs;
use crate::probes::attach::AttachRequest;
use crate::session::probe_report::{AttachKind, FamilyReport, PointReport, PointStatus};

/// What the planner knows about the kernel.
pub struct Inputs<'a> {
    pub facilities: &'a Facilities,
    pub kallsyms: Option<&'a Kallsyms>,
    /// `available_filter_functions`, when readable.
    pub traceable: Option<&'a HashSet<String>>,
    pub btf: Option<&'a mut KernelBtf>,
    pub tracefs: Option<&'a Tracefs>,
    /// Refcount of an idle page (selects the page-put point of the generation).
    pub idle_refcount: u32,
    /// The kernel release (`uname -r`).
    pub release: &'a str,
}

/// The plan for one point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointPlan {
    pub point: u16,
    /// Kinds to try in order; empty when the point is skipped or missing.
    pub kinds: Vec<AttachKind>,
    pub module: Option<String>,
    /// Argument count from BTF, when the prototype is known.
    pub nargs: Option<u8>,
    /// Dry status: `Planned`, `Skipped` or `Missing`.
    pub status: PointStatus,
}

/// Arguments the handlers read for each point (positions 0..n): a prototype
/// with fewer parameters means the function changed shape.
pub fn needed_args(point: &Point) -> u8 {
    let index = POINTS
        .iter()
        .position(|p| p.target == point.target)
        .unwrap_or(0) as u16;
    if let Some(shape) = dax_trace_common::probe::gup_shape(index) {
        return shape.min_args;
    }
    match point.target {
        "devm_memremap_pages"
        | "fs_put_dax"
        | "fs_dax_claim"
        | "fs_dax_claim_bdev"
        | "dm_dax_fs_claim"
        | "__fs_dax_release"
        | "fs_dax_release"
        | "dm_dax_fs_release"
        | "dax_add_host"
        | "dax_direct_access"
        | "__put_devmap_managed_folio_refs"
        | "__put_devmap_managed_page_refs" => 2,
        "fs_dax_get" | "dm_dax_direct_access" => 3,
        "unpin_user_pages" => 2,
        "dax_holder_notify_failure" => 4,
        _ => 1,
    }
}

/// Arguments a BPF trampoline (fentry/fexit) can pass before 6.6 on x86.
const MAX_TRAMPOLINE_ARGS: u8 = 6;

/// Plans every point of [`POINTS`].
pub fn plan(inputs: &mut Inputs) -> Vec<PointPlan> {
    let mut plans: Vec<PointPlan> = Vec::with_capacity(POINTS.len());
    for (i, point) in POINTS.iter().enumerate() {
        let i = i as u16;
        if let Some(winner) = group_winner(&plans, point) {
            plans.push(PointPlan {
                point: i,
                kinds: Vec::new(),
                module: None,
                nargs: None,
                status: PointStatus::Skipped {
                    reason: format!("alternative {winner} is used on this kernel"),
                },
            });
            continue;
        }
        plans.push(plan_point(inputs, i, point));
    }
    choose_pin_hooks(inputs.idle_refcount, &mut plans);
    choose_wait_hooks(&mut plans);
    plans
}

/// From 6.15 every filesystem's break-layouts call waits through
/// `dax_break_layout` (vmlinux: ext4 and xfs through the inline
/// `dax_break_layout_inode`, fuse and xfs's second inode directly; 7.2.13
/// fs/ext4/inode.c, fs/xfs/xfs_inode.c, fs/fuse/dax.c). The filesystems'
/// own functions are module functions, kprobes only, whose traps cost
/// every truncate and every xfs fault whatever the program does: they are
/// not hooked where `dax_break_layout` is.
fn choose_wait_hooks(plans: &mut [PointPlan]) {
    let common_planned = plans.iter().any(|p| {
        p.point == idx::DAX_BREAK_LAYOUT && matches!(p.status, PointStatus::Planned { .. })
    });
    if !common_planned {
        return;
    }
    for plan in plans.iter_mut().filter(|p| {
        matches!(
            p.point,
            idx::EXT4_BREAK_LAYOUTS | idx::XFS_BREAK_LAYOUTS | idx::FUSE_DAX_BREAK_LAYOUTS
        ) && matches!(p.status, PointStatus::Planned { .. })
    }) {
        plan.kinds.clear();
        plan.status = PointStatus::Skipped {
            reason: "not needed here: its waits go through dax_break_layout on this kernel"
                .to_string(),
        };
    }
}

/// Which pin hooks to use. Before 6.15 every FS-DAX page gup takes is a
/// devmap page whose pagemap gup looks up first (`get_dev_pagemap`), and
/// every long-term pin goes through `__gup_longterm_locked`: those two see
/// all daxtrace needs, and ordinary memory reaches neither on the fast
/// path. The gup entry points, which every O_DIRECT and shared futex of
/// the machine runs through, are hooked only where the two cannot be
/// (6.15+, where FS-DAX pages are not devmap, or either is missing, or the
/// slow path has no trampoline).
fn choose_pin_hooks(idle_refcount: u32, plans: &mut [PointPlan]) {
    let is_lookup_hook = |i: u16| i == idx::GET_DEV_PAGEMAP || i == idx::GUP_LONGTERM_LOCKED;
    let planned = |p: &PointPlan| matches!(p.status, PointStatus::Planned { .. });
    let lookups = idle_refcount != 0
        && plans
            .iter()
            .filter(|p| is_lookup_hook(p.point))
            .filter(|p| planned(p) && p.kinds.contains(&AttachKind::Fentry))
            .count()
            == 2;
    for plan in plans.iter_mut().filter(|p| planned(p)) {
        let reason = if lookups && gup_shape(plan.point).is_some() && !is_lookup_hook(plan.point) {
            "not needed here: pins are followed through get_dev_pagemap, refusals through __gup_longterm_locked"
        } else if !lookups && is_lookup_hook(plan.point) {
            if idle_refcount == 0 {
                "not needed here: FS-DAX pages are not devmap pages from 6.15, pins are followed through the gup entry points"
            } else {
                "not used: get_dev_pagemap and a __gup_longterm_locked trampoline are both needed, pins are followed through the gup entry points"
            }
        } else {
            continue;
        };
        plan.kinds.clear();
        plan.status = PointStatus::Skipped {
            reason: reason.to_string(),
        };
    }
}

/// The planned point of `point`'s group, if one is planned already.
fn group_winner(plans: &[PointPlan], point: &Point) -> Option<&'static str> {
    if point.group == 0 {
        return None;
    }
    plans.iter().find_map(|p| {
        let other = &POINTS[p.point as usize];
        (other.family == point.family
            && other.group == point.group
            && matches!(p.status, PointStatus::Planned { .. }))
        .then_some(other.target)
    })
}

fn missing(point: u16, module: Option<String>, nargs: Option<u8>, reason: String) -> PointPlan {
    PointPlan {
        point,
        kinds: Vec::new(),
        module,
        nargs,
        status: PointStatus::Missing { reason },
    }
}

fn plan_point(inputs: &mut Inputs, i: u16, point: &Point) -> PointPlan {
    match point.hook {
        Hook::Tracepoint => plan_tracepoint(inputs, i, point),
        Hook::Timer => {
            if inputs.facilities.can_perfmon() {
                planned(i, vec![AttachKind::PerfEvent], None, None, Vec::new())
            } else {
                missing(
                    i,
                    None,
                    None,
                    "perf events need root or CAP_PERFMON".to_string(),
                )
            }
        }
        Hook::Entry | Hook::EntryExit | Hook::Exit => plan_function(inputs, i, point),
    }
}

fn planned(
    point: u16,
    kinds: Vec<AttachKind>,
    module: Option<String>,
    nargs: Option<u8>,
    notes: Vec<String>,
) -> PointPlan {
    PointPlan {
        point,
        kinds: kinds.clone(),
        module,
        nargs,
        status: PointStatus::Planned { kinds, notes },
    }
}

fn plan_tracepoint(inputs: &Inputs, i: u16, point: &Point) -> PointPlan {
    let Some(tracefs) = inputs.tracefs else {
        return missing(
            i,
            None,
            None,
            "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)".to_string(),
        );
    };
    if tracefs.has_event(point.target) {
        planned(i, vec![AttachKind::Tracepoint], None, None, Vec::new())
    } else {
        missing(
            i,
            None,
            None,
            format!("tracepoint {} does not exist on this kernel", point.target),
        )
    }
}

fn plan_function(inputs: &mut Inputs, i: u16, point: &Point) -> PointPlan {
    let name = point.target;
    if matches!(name, "unpin_user_page" | "unpin_user_pages") && inputs.idle_refcount != 0 {
        return missing(
            i,
            None,
            None,
            "not needed here: this kernel's puts of FS-DAX pages (unpins included) are hooked one by one"
                .to_string(),
        );
    }
    if point.family == Family::PagePut
        && name == "free_zone_device_folio"
        && inputs.idle_refcount != 0
    {
        return missing(
            i,
            None,
            None,
            "this kernel idles FS-DAX pages at refcount 1: its puts go through put_devmap_managed*"
                .to_string(),
        );
    }
    let symbol = inputs.kallsyms.and_then(|k| k.function(name)).cloned();
    let in_btf_vmlinux = match inputs.btf.as_deref() {
        Some(btf) => btf.function(name, None).ok().flatten(),
        None => None,
    };
    let Some(symbol) = symbol else {
        let why = match (inputs.kallsyms, &in_btf_vmlinux) {
            (None, _) => "kallsyms unreadable".to_string(),
            (Some(_), Some(_)) => {
                format!("{name} has BTF but no symbol in /proc/kallsyms (inlined everywhere)")
            }
            (Some(_), None) => format!("{name} is not in /proc/kallsyms (absent or inlined)"),
        };
        return missing(i, None, None, why);
    };
    let module = symbol.module.clone();
    let mut notes = Vec::new();
    let info: Option<FuncInfo> = match (&module, inputs.btf.as_deref_mut()) {
        (None, _) => in_btf_vmlinux,
        (Some(m), Some(btf)) => match btf.load_module(m) {
            Ok(true) => btf.function(name, Some(m)).ok().flatten(),
            Ok(false) => {
                notes.push(format!(
                    "module {m} has no BTF: arguments are read from registers"
                ));
                None
            }
            Err(err) => {
                notes.push(format!("module {m} BTF unreadable: {err}"));
                None
            }
        },
        (Some(_), None) => None,
    };
    let nargs = info.as_ref().map(|f| f.nargs);
    if let Some(n) = nargs {
        let need = needed_args(point);
        if n < need {
            return missing(
                i,
                module,
                nargs,
                format!(
                    "{name} takes {n} arguments here, the handler reads {need}: unknown signature"
                ),
            );
        }
    }
    if point.hook == Hook::Exit
        && let Some(n) = nargs
        && n > MAX_TRAMPOLINE_ARGS
        && super::idle::parse_release(inputs.release).is_none_or(|v| v < (6, 6))
    {
        return missing(
            i,
            module,
            nargs,
            format!(
                "{name} takes {n} arguments here: trampolines reach at most {MAX_TRAMPOLINE_ARGS} before 6.6, and a kretprobe cannot see a return's arguments"
            ),
        );
    }
    let mut kinds = Vec::new();
    match (&module, inputs.facilities.vmlinux_btf, nargs.is_some()) {
        (None, true, true) => kinds.push(AttachKind::Fentry),
        (None, true, false) => notes.push(format!("fentry: {name} has no BTF prototype")),
        (None, false, _) => notes.push("fentry: the kernel has no BTF".to_string()),
        (Some(m), _, _) => notes.push(format!(
            "fentry: {name} is in module {m} (module BTF attach is not supported by the loader)"
        )),
    }
    if point.hook == Hook::Exit {
        // A kretprobe cannot see the arguments these handlers need.
        notes.push("kprobe: not used (the return handler needs the arguments)".to_string());
    } else if inputs.facilities.kprobe_pmu {
        kinds.push(AttachKind::Kprobe);
        if let Some(set) = inputs.traceable
            && !set.contains(name)
        {
            notes.push(format!("{name} is not in available_filter_functions"));
        }
    } else {
        notes.push("kprobe: the kernel has no kprobe support (no kprobe PMU)".to_string());
    }
    if kinds.is_empty() {
        return missing(i, module, nargs, notes.join("; "));
    }
    planned(i, kinds, module, nargs, notes)
}

/// The planned points as loader requests.
pub fn requests(plans: &[PointPlan]) -> Vec<AttachRequest> {
    plans
        .iter()
        .filter(|p| !p.kinds.is_empty())
        .map(|p| AttachRequest {
            point: p.point,
            kinds: p.kinds.clone(),
            module: p.module.clone(),
        })
        .collect()
}

/// The dry report: every family with every point's planned status.
pub fn families(plans: &[PointPlan]) -> Vec<FamilyReport> {
    Family::ALL
        .iter()
        .map(|family| FamilyReport {
            family: family.name().to_string(),
            points: plans
                .iter()
                .filter(|p| POINTS[p.point as usize].family == *family)
                .map(|p| PointReport {
                    point: p.point,
                    target: POINTS[p.point as usize].target.to_string(),
                    module: p.module.clone(),
                    status: p.status.clone(),
                })
                .collect(),
        })
        .collect()
}
