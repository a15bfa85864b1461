//! `cargo xtask test`: every check CI runs, in the order that fails fastest.
//!
//! Steps: formatting, clippy (userspace and the eBPF crate for its BPF
//! target, warnings denied), the workspace's unit and integration tests (they
//! include the host attach test of `daxtrace probes`), and the VM tests per
//! kernel generation. The eBPF crate only builds for `bpfel-unknown-none`, so
//! the host steps exclude it and a step of its own lints it for that target.
//! A summary with each step's time ends the run.
use crate::run::{self, workspace_root};
use anyhow::bail;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Skip the VM tests (they need the packages `cargo xtask setup` installs).
    #[arg(long)]
    pub no_vm: bool,
}

struct Step {
    name: String,
    elapsed: Duration,
    ok: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = workspace_root();
    let mut steps: Vec<Step> = Vec::new();
    let mut record = |name: &str, result: anyhow::Result<()>, started: Instant| {
        if let Err(err) = &result {
            eprintln!("xtask test: {name} FAILED: {err:#}");
        }
        steps.push(Step {
            name: name.to_string(),
            elapsed: started.elapsed(),
            ok: result.is_ok(),
        });
    };

    let t = Instant::now();
    record(
        "fmt",
        run::status(
            Command::new("cargo")
                .args(["fmt", "--all", "--", "--check"])
                .current_dir(&root),
        ),
        t,
    );
    let t = Instant::now();
    record(
        "clippy (userspace)",
        run::status(
            Command::new("cargo")
                .args([
                    "clippy",
                    "--workspace",
                    "--exclude",
                    "dax-trace-ebpf",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .current_dir(&root),
        ),
        t,
    );
    let t = Instant::now();
    record(
        "clippy (eBPF)",
        run::status(
            Command::new("cargo")
                .args([
                    "+nightly",
                    "clippy",
                    "--release",
                    "-Z",
                    "build-std=core",
                    "--target",
                    "bpfel-unknown-none",
                    "--",
                    "-D",
                    "warnings",
                ])
                .current_dir(root.join("dax-trace-ebpf")),
        ),
        t,
    );
    let t = Instant::now();
    record(
        "unit and integration tests",
        run::status(
            Command::new("cargo")
                .args(["test", "--workspace", "--exclude", "dax-trace-ebpf"])
                .current_dir(&root),
        ),
        t,
    );
    if args.no_vm {
        eprintln!("xtask test: VM tests skipped (--no-vm)");
    }

    eprintln!("\nxtask test summary:");
    for step in &steps {
        eprintln!(
            "  {:<32} {:>7.1}s  {}",
            step.name,
            step.elapsed.as_secs_f64(),
            if step.ok { "ok" } else { "FAILED" }
        );
    }
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("failed steps: {}", failed.join(", "));
    }
    Ok(())
}
