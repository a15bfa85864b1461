//! `daxtrace probes`: every logical probe, the point and kind used on this
//! kernel, or why none. By default the programs are really loaded and
//! attached (then detached), so the table is what a capture would get;
//! `--plan-only` shows the resolution without touching the kernel.
use std::process::ExitCode;

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::Context as _;
use dax_trace::event::Event;
use dax_trace::probes::{attach, render::render_text};
use dax_trace::resolve::{self, Resolution};
use dax_trace::session::probe_report::{CORE_FAMILIES, ProbeReport};
use dax_trace::source::drive::{DriveOptions, Sink, Stopped, drive, stop_signals};
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
    /// Check that events arrive: after attaching, print every event as a
    /// JSON line for D (30s, 5m; a bare number is seconds) or until
    /// SIGINT/SIGTERM, then the count per event type on stderr.
    #[arg(long, value_name = "D", conflicts_with = "plan_only", value_parser = super::flags::capture)]
    pub listen: Option<std::time::Duration>,
    /// Exit status 3 when one of these families is missing (default, once
    /// attached: claim,release). With --plan-only, planned counts.
    #[command(flatten)]
    pub require: super::require::Require,
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
    /// The required families (--require, else claim and release once
    /// attached) that are missing: the exit status is 3 when not empty.
    missing_required: Vec<&'a str>,
    #[serde(flatten)]
    report: &'a ProbeReport,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(duration) = args.listen {
        return listen(duration, &args.require);
    }
    let resolution = resolve::resolve_host()?;
    let (mode, report, why) = attach_or_plan(&resolution, args.plan_only);
    let (attached, total) = report.attached_count();
    let missing = missing_required(&args, mode, &report);
    let mut text = String::new();
    if args.json {
        let out = Output {
            mode,
            not_attached_because: why,
            idle_refcount: resolution.idle.refcount,
            idle_rule: &resolution.idle.reason,
            attached,
            total,
            missing_required: missing.clone(),
            report: &report,
        };
        text += &serde_json::to_string_pretty(&out)?;
        text.push('\n');
    } else {
        text += &render_text(&report, mode);
        text += &format!(
            "idle refcount: {} ({})\n",
            resolution.idle.refcount, resolution.idle.reason
        );
        if !why.is_empty() {
            text += "not attached (plan only) because:\n";
            for w in &why {
                text += &format!("  - {w}\n");
            }
        }
        if !missing.is_empty() {
            text += &format!("missing required families: {}\n", missing.join(", "));
        }
    }
    super::stdout::print(&text)?;
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// The required families missing from `report`: those of --require, else
/// claim and release once attached. A plan that could not attach (no
/// privileges, no BTF) has none of the --require ones.
fn missing_required<'a>(args: &'a Args, mode: &str, report: &ProbeReport) -> Vec<&'a str> {
    let wanted: Vec<&'a str> = if args.require.require.is_empty() {
        if mode != "attached" {
            return Vec::new();
        }
        CORE_FAMILIES.to_vec()
    } else {
        args.require.require.iter().map(String::as_str).collect()
    };
    if mode != "attached" && !args.plan_only {
        return wanted;
    }
    wanted
        .into_iter()
        .filter(|family| !report.family_present(family))
        .collect()
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
    let mut ebpf = match attach::load(
        &resolution.config,
        &dax_trace::probes::sizing::MapSizes::inspection(),
        None,
    ) {
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

/// `--listen`: live capture for `duration` (or until SIGINT or SIGTERM),
/// events to stdout as JSON lines, their count per type to stderr.
fn listen(
    duration: std::time::Duration,
    require: &super::require::Require,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
        let mut stream = dax_trace::source::live::start(&Default::default())?;
        eprint!("{}", render_text(&stream.info.probes, "attached"));
        require.check(&stream.info.probes)?;
        eprintln!(
            "listening for {}",
            dax_trace::human::duration(duration.as_nanos() as u64)
        );
        let mut sink = Listening {
            out: super::stdout::Stdout::lock(),
            counts: BTreeMap::new(),
        };
        let opts = DriveOptions {
            duration: Some(duration),
            tick: None,
        };
        let stopped = drive(&mut stream, &opts, stop, &mut sink).await?;
        sink.out.flush()?;
        eprintln!("event counts: {}", serde_json::to_string(&sink.counts)?);
        if let Stopped::SourceFailed(reason) = stopped {
            anyhow::bail!("the event source failed: {reason}");
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}

/// `--listen`'s side of [`drive`]: each event as a JSON line, counted.
struct Listening {
    out: super::stdout::Stdout,
    counts: BTreeMap<&'static str, u64>,
}

impl Sink for Listening {
    type Error = anyhow::Error;

    fn batch(&mut self, events: &[Event]) -> anyhow::Result<()> {
        for event in events {
            *self.counts.entry(event.body.name()).or_default() += 1;
            writeln!(self.out, "{}", dax_trace::json::to_string(event)?)?;
        }
        Ok(())
    }
}
