//! `cargo xtask test`: every check CI runs, in the order that fails fastest.
//!
//! Steps: formatting, clippy (userspace and the eBPF crate for its BPF
//! target, warnings denied), the workspace's unit and integration tests (they
//! include the host attach test of `daxtrace probes`), and the VM tests per
//! kernel generation (see `vmtest.rs`). The eBPF crate only builds for
//! `bpfel-unknown-none`, so the host steps exclude it and a step of its own
//! lints it for that target. A summary with each step's time ends the run.
use crate::run::{self, workspace_root};
use anyhow::{anyhow, bail};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::vm::KernelGen;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Skip the VM tests (they need the packages `cargo xtask setup` installs).
    #[arg(long, conflicts_with = "vm_only")]
    pub no_vm: bool,
    /// Run only the VM tests.
    #[arg(long)]
    pub vm_only: bool,
    /// Kernel generations for the VM tests.
    #[arg(long, value_delimiter = ',', default_values = ["5.10", "6.1", "6.12", "7"])]
    pub kernels: Vec<KernelGen>,
}

struct Step {
    name: String,
    elapsed: Duration,
    ok: bool,
}

#[derive(Default)]
struct Steps(Vec<Step>);

impl Steps {
    fn record(&mut self, name: &str, started: Instant, result: anyhow::Result<()>) {
        if let Err(err) = &result {
            eprintln!("xtask test: {name} FAILED: {err:#}");
        }
        self.0.push(Step {
            name: name.to_string(),
            elapsed: started.elapsed(),
            ok: result.is_ok(),
        });
    }

    fn cargo(&mut self, name: &str, dir: &Path, args: &[&str]) {
        let started = Instant::now();
        let result = run::status(Command::new("cargo").args(args).current_dir(dir));
        self.record(name, started, result);
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = workspace_root();
    let mut steps = Steps::default();
    if !args.vm_only {
        steps.cargo("fmt", &root, &["fmt", "--all", "--", "--check"]);
        steps.cargo(
            "clippy (userspace)",
            &root,
            &[
                "clippy",
                "--workspace",
                "--exclude",
                "dax-trace-ebpf",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        );
        steps.cargo(
            "clippy (eBPF)",
            &root.join("dax-trace-ebpf"),
            &[
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
            ],
        );
        steps.cargo(
            "unit and integration tests",
            &root,
            &["test", "--workspace", "--exclude", "dax-trace-ebpf"],
        );
    }
    if args.no_vm {
        eprintln!("xtask test: VM tests skipped (--no-vm)");
    } else {
        vm_steps(&args.kernels, &mut steps);
    }

    eprintln!("\nxtask test summary:");
    for step in &steps.0 {
        eprintln!(
            "  {:<32} {:>7.1}s  {}",
            step.name,
            step.elapsed.as_secs_f64(),
            if step.ok { "ok" } else { "FAILED" }
        );
    }
    let failed: Vec<&str> = steps
        .0
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("failed steps: {}", failed.join(", "));
    }
    Ok(())
}

fn vm_steps(kernels: &[KernelGen], steps: &mut Steps) {
    let mut results = Vec::new();
    for &kernel in kernels {
        let started = Instant::now();
        let name = format!("VM tests on Debian {kernel}");
        // The dashboard test needs one kernel only: 6.1, where waits are longest.
        let result = crate::vmtest::run_generation(kernel, kernel == KernelGen::V6_1);
        match result {
            Ok(r) => {
                let verdict = if r.ok() {
                    Ok(())
                } else {
                    Err(anyhow!("assertions failed (see the table below)"))
                };
                results.push(r);
                steps.record(&name, started, verdict);
            }
            Err(err) => steps.record(&name, started, Err(err)),
        }
    }
    let table = crate::vmtest::render(&results);
    eprintln!("\n{table}");
    let path = crate::vmtest::results_path();
    match std::fs::write(&path, &table) {
        Ok(()) => eprintln!("xtask test: VM results written to {}", path.display()),
        Err(err) => eprintln!("xtask test: could not write {}: {err}", path.display()),
    }
}
