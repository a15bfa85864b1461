//! `cargo xtask setup`: make a fresh machine able to build and test daxtrace.
//!
//! Each step first checks whether its piece is already there, so running it
//! again changes nothing. Facts behind the choices are in
//! `../shared/toolchain.md`: bpf-linker 0.10.4 loads the rustc toolchain's own
//! libLLVM (newer releases link Debian's LLVM 14 and fail), `-Z build-std`
//! needs nightly's rust-src, and the guest binaries are static musl builds.
use crate::run::{self, probe_stdout};
use anyhow::{Context as _, bail};
use std::process::Command;

/// The bpf-linker release known to work with the preinstalled toolchains.
const BPF_LINKER_VERSION: &str = "0.10.4";

/// The cargo-fuzz release the trace reader's fuzz target is run with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Debian packages the build and the VM test bed need on the host.
pub const APT_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "busybox-static",
    "e2fsprogs",
    "xfsprogs",
    "dmsetup",
    "kmod",
    "cpio",
    "xz-utils",
    "zstd",
    "tmux",
    "ndctl",
    // promtool (`check metrics`, `test rules`) and a real Prometheus server for
    // the exporter's tests; --no-install-recommends, and the tests run their
    // own instance on a loopback port of their own (never the service's 9090).
    "prometheus",
    // libfuzzer-sys compiles libFuzzer (C++) for the fuzz step of the tests.
    "g++",
    // The overhead benchmark's workload driver and its bpftrace comparison
    // (both run in the guest from the host's /usr over 9p).
    "fio",
    "bpftrace",
    // The C headers bpftrace's clang needs on 5.10 (guest: /usr/include -> the host's).
    "linux-libc-dev",
    // `cargo xtask image`: the DaemonSet's image without a container daemon.
    "buildah",
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Skip the Debian packages (the VM test bed then cannot run).
    #[arg(long)]
    pub no_apt: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    step("nightly toolchain with rust-src", nightly_rust_src)?;
    step("musl target for the static guest binaries", musl_target)?;
    step("bpf-linker", bpf_linker)?;
    step("cargo-fuzz for the trace reader's fuzz target", cargo_fuzz)?;
    if args.no_apt {
        eprintln!("xtask setup: skipping Debian packages (--no-apt)");
    } else {
        step("Debian packages", apt_packages)?;
    }
    eprintln!("xtask setup: done; `cargo build --release` now builds the eBPF object and daxtrace");
    Ok(())
}

fn step(what: &str, f: fn() -> anyhow::Result<()>) -> anyhow::Result<()> {
    eprintln!("xtask setup: {what}");
    f().with_context(|| format!("setup step failed: {what}"))
}

fn nightly_rust_src() -> anyhow::Result<()> {
    let installed = probe_stdout(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        "nightly",
    ]));
    match installed {
        None => {
            run::status(Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
                "--component",
                "rust-src",
            ]))?;
        }
        Some(list) if list.lines().any(|l| l.starts_with("rust-src")) => {
            eprintln!("  rust-src for nightly is installed");
        }
        Some(_) => {
            run::status(Command::new("rustup").args([
                "component",
                "add",
                "rust-src",
                "--toolchain",
                "nightly",
            ]))?;
        }
    }
    Ok(())
}

fn musl_target() -> anyhow::Result<()> {
    // Runs in the workspace so rust-toolchain.toml picks the toolchain.
    let root = run::workspace_root();
    let installed = probe_stdout(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(&root),
    )
    .unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "x86_64-unknown-linux-musl")
    {
        eprintln!("  x86_64-unknown-linux-musl is installed");
        return Ok(());
    }
    run::status(
        Command::new("rustup")
            .args(["target", "add", "x86_64-unknown-linux-musl"])
            .current_dir(&root),
    )
}

fn bpf_linker() -> anyhow::Result<()> {
    let version = probe_stdout(Command::new("bpf-linker").arg("--version"));
    cargo_install("bpf-linker", BPF_LINKER_VERSION, version)
}

fn cargo_fuzz() -> anyhow::Result<()> {
    let version = probe_stdout(Command::new("cargo").args(["fuzz", "--version"]));
    cargo_install("cargo-fuzz", CARGO_FUZZ_VERSION, version)
}

/// Installs `krate` at `version` from crates.io unless `found` (what the
/// installed tool says of its version) already names it.
fn cargo_install(krate: &str, version: &str, found: Option<String>) -> anyhow::Result<()> {
    let found = found.unwrap_or_default();
    if found.contains(version) {
        eprintln!("  {}", found.trim());
        return Ok(());
    }
    if !found.is_empty() {
        eprintln!("  found {}, want {version}: reinstalling", found.trim());
    }
    run::status(Command::new("cargo").args([
        "install",
        &format!("{krate}@{version}"),
        "--locked",
        "--force",
    ]))
    .with_context(|| format!("installing {krate} (needs network access to crates.io)"))
}

fn apt_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("  all {} packages are installed", APT_PACKAGES.len());
        return Ok(());
    }
    eprintln!("  installing: {}", missing.join(" "));
    let sudo = if run::is_root() {
        None
    } else if probe_stdout(Command::new("sudo").args(["-n", "true"])).is_some() {
        Some("sudo")
    } else {
        bail!(
            "not root and no password-less sudo: install these packages by hand: apt-get install {}",
            missing.join(" ")
        );
    };
    let apt = |args: &[&str]| {
        let mut cmd = match sudo {
            Some(s) => {
                let mut c = Command::new(s);
                c.arg("apt-get");
                c
            }
            None => Command::new("apt-get"),
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    run::status(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    run::status(&mut install)
}

fn dpkg_installed(package: &str) -> bool {
    probe_stdout(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|s| s.contains("install ok installed"))
}
