//! `daxtrace probes`: every logical probe, the point and kind used on this
//! kernel, or why none. By default the programs are really loaded and
//! attached (then detached), so the table is what a capture would get;
//! `--plan-only` shows the resolution without touching the kernel.
use std::process::ExitCode;

use dax_trace::probes::report::{CORE_FAMILIES, ProbeReport};
use dax_trace::probes::{attach, render::render_text};
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
    /// Check that events arrive: after attaching, print every event as a
    /// JSON line for SECONDS (or until SIGINT/SIGTERM), then the count per
    /// event type on stderr.
    #[arg(long, value_name = "SECONDS", conflicts_with = "plan_only")]
    pub listen: Option<u64>,
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
    if let Some(secs) = args.listen {
        return listen(std::time::Duration::from_secs(secs), &args.require);
    }
    let resolution = resolve::resolve_host()?;
    let (mode, report, why) = attach_or_plan(&resolution, args.plan_only);
    let (attached, total) = report.attached_count();
    let missing = missing_required(&args, mode, &report);
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
        if !missing.is_empty() {
            println!("missing required families: {}", missing.join(", "));
        }
    }
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
    let mut ebpf = match attach::load(&resolution.config, None) {
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

/// `--listen`: live capture for `duration`, events to stdout as JSON lines.
fn listen(
    duration: std::time::Duration,
    require: &super::require::Require,
) -> anyhow::Result<ExitCode> {
    use std::collections::BTreeMap;
    use std::io::Write as _;
    use tokio::signal::unix::{SignalKind, signal};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut stream = dax_trace::source::live::start(&Default::default())?;
        eprint!("{}", render_text(&stream.info.probes, "attached"));
        require.check(&stream.info.probes)?;
        eprintln!("listening for {} s", duration.as_secs());
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let deadline = tokio::time::sleep(duration);
        tokio::pin!(deadline);
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        loop {
            tokio::select! {
                batch = stream.events.recv() => match batch {
                    Some(batch) => {
                        for event in &batch {
                            *counts.entry(event.body.name()).or_default() += 1;
                            writeln!(out, "{}", serde_json::to_string(event)?)?;
                        }
                    }
                    None => break,
                },
                _ = &mut deadline => break,
                _ = int.recv() => break,
                _ = term.recv() => break,
            }
        }
        // What the pump still holds, the ring buffer's last records included.
        for batch in stream.finish().await {
            for event in &batch {
                *counts.entry(event.body.name()).or_default() += 1;
                writeln!(out, "{}", serde_json::to_string(event)?)?;
            }
        }
        out.flush()?;
        eprintln!("event counts: {}", serde_json::to_string(&counts)?);
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}
