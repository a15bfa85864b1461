//! Static musl builds of the workspace binaries that run inside the guest.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// The guest's copies of `daxtrace` and `dax-workload`.
#[derive(Clone, Debug)]
pub struct GuestBinaries {
    pub daxtrace: PathBuf,
    pub workload: PathBuf,
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
}

/// Where the release musl binaries land.
pub fn locate(workspace: &Path) -> GuestBinaries {
    let dir = target_dir(workspace).join(MUSL_TARGET).join("release");
    GuestBinaries {
        daxtrace: dir.join("daxtrace"),
        workload: dir.join("dax-workload"),
    }
}

/// Build both binaries for the musl target. The eBPF object is embedded
/// (AYA_BUILD_SKIP is cleared) unless `skip_ebpf`.
pub fn build(workspace: &Path, skip_ebpf: bool) -> anyhow::Result<GuestBinaries> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args([
        "build",
        "--release",
        "--quiet",
        "--target",
        MUSL_TARGET,
        "-p",
        "dax-trace",
        "-p",
        "dax-workload",
    ]);
    if skip_ebpf {
        cmd.env("AYA_BUILD_SKIP", "1");
    } else {
        cmd.env_remove("AYA_BUILD_SKIP");
    }
    let status = cmd
        .status()
        .context("running cargo build for the guest binaries")?;
    if !status.success() {
        bail!(
            "building the guest binaries failed ({status}); needs `rustup target add {MUSL_TARGET}` \
             and, for the eBPF object, bpf-linker (or pass --skip-ebpf)"
        );
    }
    let bins = locate(workspace);
    for bin in [&bins.daxtrace, &bins.workload] {
        if !bin.is_file() {
            bail!("cargo build succeeded but {} is missing", bin.display());
        }
    }
    Ok(bins)
}
