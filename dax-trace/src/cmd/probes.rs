//! `daxtrace probes`: every logical probe, the point and kind used on this
//! kernel, or why none. By default the programs are really loaded and
//! attached (then detached), so the table is what a capture would get;
//! `--plan-only` shows the resolution without touching the kernel.
use std::process::ExitCode;

use dax_trace::probes::{attach, render::render_text, report::ProbeReport};
use dax_trace::resolve::{self, Resolution};
use dax_trace::source::live::merge_outcomes;
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only resolve and plan; do not load or attach anything.
    #[arg(long)]
    pub plan_only: bool,
}

/// The JSON document.
#[derive(Serialize)]
struct Output<'a> {
    /// "attached" when programs were attached, "plan" otherwise.
    mode: &'a str,
    /// Why the programs were not attached (empty in "attached" mode).
    not_attached_because: Vec<String>,
    idle_refcount: u32,
    idle_rule: &'a str,
    attached: usize,
    total: usize,
    #[serde(flatten)]
    report: &'a ProbeReport,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let resolution = resolve::resolve_host()?;
    let (mode, report, why) = attach_or_plan(&resolution, args.plan_only);
    let (attached, total) = report.attached_count();
    if args.json {
        let out = Output {
            mode,
            not_attached_because: why,
            idle_refcount: resolution.idle.refcount,
            idle_rule: &resolution.idle.reason,
            attached,
            total,
            report: &report,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render_text(&report, mode));
        println!(
            "idle refcount: {} ({})",
            resolution.idle.refcount, resolution.idle.reason
        );
        if !why.is_empty() {
            println!("not attached (plan only) because:");
            for w in &why {
                println!("  - {w}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Attaches when possible; returns the mode, the report, and why not attached.
fn attach_or_plan(
    resolution: &Resolution,
    plan_only: bool,
) -> (&'static str, ProbeReport, Vec<String>) {
    let mut report = resolution.report.clone();
    if plan_only {
        return ("plan", report, vec!["--plan-only".to_string()]);
    }
    let blockers = resolution.blockers();
    if !blockers.is_empty() {
        return ("plan", report, blockers);
    }
    let mut ebpf = match attach::load(&resolution.config) {
        Ok(ebpf) => ebpf,
        Err(err) => return ("plan", report, vec![err.to_string()]),
    };
    let btf = aya::Btf::from_sys_fs().ok();
    let outcomes = attach::attach_all(&mut ebpf, &resolution.requests, btf.as_ref());
    merge_outcomes(&mut report, outcomes);
    // Dropping `ebpf` detaches everything.
    drop(ebpf);
    ("attached", report, Vec::new())
}
