//! `daxtrace state`: the state a live front end finds at attach — dax
//! devices and the claims held on them, pagemaps, DAX mounts, dm targets,
//! threads waiting for busy pages and the census of busy pages — read once
//! and printed, without attaching any probe. The same reading that record,
//! top, check and serve send first.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use dax_trace::probes::attach;
use dax_trace::resolve;
use dax_trace::state::kmem::BpfReader;
use dax_trace::state::reading::{self, Kernel, ReadOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the state's events as JSON lines (the trace's `state-*` events),
    /// then one line `{"problems": [...]}`.
    #[arg(long)]
    pub json: bool,
    /// How long the census of busy pages may take.
    #[arg(long, value_name = "D", value_parser = super::flags::budget, default_value = "1s")]
    pub census_budget: Duration,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let resolution = resolve::resolve_host()?;
    let blockers = resolution.blockers();
    if !blockers.is_empty() {
        anyhow::bail!(
            "the state cannot be read here:\n{}",
            blockers
                .iter()
                .map(|b| format!("  - {b}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let mut ebpf = attach::load(
        &resolution.config,
        &dax_trace::probes::sizing::MapSizes::inspection(),
        None,
    )
    .context("loading the eBPF object")?;
    let reader = BpfReader::new(&mut ebpf).context("loading the kernel-memory reader")?;
    let kernel = Kernel {
        mem: &reader,
        layout: &resolution.state,
        config: &resolution.config,
    };
    let opts = ReadOptions {
        census_budget: args.census_budget,
        ..ReadOptions::default()
    };
    let snap = reading::read(&kernel, &opts);
    let mut out = String::new();
    if args.json {
        for e in &snap.events {
            out += &dax_trace::json::to_string(e)?;
            out.push('\n');
        }
        out += &format!("{}\n", serde_json::json!({ "problems": snap.problems }));
    } else {
        out += &dax_trace::state::render::render(&snap.events);
        for p in &snap.problems {
            out += &format!("note: {p}\n");
        }
    }
    super::stdout::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
