//! `cargo xtask test`: every check CI runs, in the order that fails fastest.
//!
//! Steps: formatting, module direction (no cycle between the top-level
//! modules of dax-trace and of xtask, see `direction/`), clippy
//! (userspace and the eBPF crate for its BPF target, warnings denied), the
//! workspace's unit and integration tests (they include the host attach
//! test of `daxtrace probes`), a short run of the trace reader's fuzz target
//! (`--fuzz-seconds`), and the VM tests per kernel generation (see
//! `vmtest/`). The eBPF crate only builds for `bpfel-unknown-none`, so the
//! host steps exclude it and a step of its own lints it for that target. A
//! summary with each step's time ends the run.
use crate::run::{self, workspace_root};
use anyhow::{Context as _, anyhow, bail};
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
    /// With --vm-only: judge what the last VM run left in target/vmtest
    /// again, without booting (after changing a judge).
    #[arg(long, requires = "vm_only")]
    pub rejudge: bool,
    /// Seconds the trace reader is fuzzed for (0 skips the fuzz step).
    #[arg(long, default_value_t = 30)]
    pub fuzz_seconds: u64,
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
        let started = Instant::now();
        let result = ["dax-trace/src", "xtask/src"]
            .iter()
            .try_for_each(|src| crate::direction::check(&root.join(src)));
        steps.record("module direction (no cycles)", started, result);
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
        if args.fuzz_seconds > 0 {
            let started = Instant::now();
            let result = fuzz_reader(&root, args.fuzz_seconds);
            steps.record(
                &format!("fuzz trace reader ({} s)", args.fuzz_seconds),
                started,
                result,
            );
        }
    }
    if args.no_vm {
        eprintln!("xtask test: VM tests skipped (--no-vm)");
    } else {
        vm_steps(&args.kernels, args.rejudge, &mut steps);
    }

    // The DaemonSet's image, from the musl binary the VM stage built (or an
    // earlier one).
    let musl = xtask::vm::guest_bins::locate(&root).daxtrace;
    if crate::container::available() && musl.is_file() {
        let started = Instant::now();
        let result = crate::container::build(&root);
        steps.record("container image (buildah)", started, result);
    } else {
        eprintln!(
            "xtask test: container image skipped (needs buildah and {})",
            musl.display()
        );
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

/// Runs the trace reader's cargo-fuzz target for `seconds`, seeded with the
/// shipped sample traces. A crash fails the step; libFuzzer writes the input
/// that caused it under `target/fuzz-artifacts/`.
fn fuzz_reader(root: &Path, seconds: u64) -> anyhow::Result<()> {
    let target = root.join("target");
    let corpus = target.join("fuzz-corpus").join("reader");
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let samples = root.join("samples");
    for entry in
        std::fs::read_dir(&samples).with_context(|| format!("reading {}", samples.display()))?
    {
        let path = entry?.path();
        if let Some(name) = path
            .file_name()
            .filter(|_| path.extension().is_some_and(|e| e == "dxt"))
        {
            std::fs::copy(&path, corpus.join(name))
                .with_context(|| format!("seeding the corpus with {}", path.display()))?;
        }
    }
    let artifacts = target.join("fuzz-artifacts");
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;
    let target_dir = target.join("fuzz");
    let max_time = format!("-max_total_time={seconds}");
    let artifact_prefix = format!("-artifact_prefix={}/", artifacts.display());
    let corpus_arg = corpus.display().to_string();
    let target_dir_arg = target_dir.display().to_string();
    run::status(
        Command::new("cargo")
            .args([
                "+nightly",
                "fuzz",
                "run",
                "-s",
                "none",
                "--target-dir",
                &target_dir_arg,
                "reader",
                &corpus_arg,
                "--",
                &max_time,
                "-max_len=8192",
                &artifact_prefix,
            ])
            // The fuzz target needs the reader, not the eBPF object.
            .env("AYA_BUILD_SKIP", "1")
            .current_dir(root.join("dax-trace").join("fuzz")),
    )
    .context("the fuzz target found a crash, or could not be built (cargo-fuzz comes from `cargo xtask setup`)")
}

fn vm_steps(kernels: &[KernelGen], rejudge: bool, steps: &mut Steps) {
    let mut results = Vec::new();
    for &kernel in kernels {
        let started = Instant::now();
        let name = format!("VM tests on Debian {kernel}");
        // The dashboard test needs one kernel only: 6.1, where waits are longest.
        let with_top = kernel == KernelGen::V6_1;
        let result = if rejudge {
            crate::vmtest::rejudge_generation(kernel, with_top)
        } else {
            crate::vmtest::run_generation(kernel, with_top)
        };
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
