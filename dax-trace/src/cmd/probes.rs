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
    /// Check that events arrive: after attaching, print every event as a
    /// JSON line for D (30s, 5m; a bare number is seconds) or until
    /// SIGINT/SIGTERM, then the count per event type on stderr.
    #[arg(long, value_name = "D", conflicts_with = "plan_only", value_parser = super::flags::capture)]
    pub listen: Option<std::time::Duration>,
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
    if let Some(duration) = args.listen {
        return listen(duration);
    }
    let resolution = resolve::resolve_host()?;
    let (mode, report, why) = attach_or_plan(&resolution, args.plan_only);
    let (attached, total) = report.attached_count();
    let mut text = String::new();
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
    }
    super::stdout::print(&text)?;
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
fn listen(duration: std::time::Duration) -> anyhow::Result<ExitCode> {
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
        eprintln!(
            "listening for {}",
            dax_trace::human::duration(duration.as_nanos() as u64)
        );
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let deadline = tokio::time::sleep(duration);
        tokio::pin!(deadline);
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut out = super::stdout::Stdout::lock();
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
