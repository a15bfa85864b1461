//! `cargo xtask image`: the container image the DaemonSet names
//! (deploy/kubernetes), built from deploy/container/Dockerfile with buildah,
//! which needs no daemon, then saved as a docker-archive tarball that
//! `docker load` and `ctr images import` take. The image is checked after
//! the build: its entrypoint is the binary the Dockerfile copies, and the
//! tarball carries the tag the DaemonSet runs.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use xtask::vm::guest_bins;

use crate::run::{self, workspace_root};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Use the musl binary already built instead of building it.
    #[arg(long)]
    pub no_build: bool,
}

/// The tag the DaemonSet runs: `daxtrace:<workspace version>`.
pub fn tag() -> String {
    format!("daxtrace:{}", env!("CARGO_PKG_VERSION"))
}

/// Where the tarball goes.
pub fn archive(root: &Path) -> PathBuf {
    root.join("target/image")
        .join(format!("daxtrace-{}.tar", env!("CARGO_PKG_VERSION")))
}

/// buildah with the storage driver that works anywhere (vfs: no overlay
/// mount needed).
fn buildah() -> Command {
    let mut cmd = Command::new("buildah");
    cmd.args(["--storage-driver", "vfs"]);
    cmd
}

/// Whether buildah can be run here.
pub fn available() -> bool {
    run::probe_stdout(Command::new("buildah").arg("--version")).is_some()
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = workspace_root();
    let binary = if args.no_build {
        guest_bins::locate(&root).daxtrace
    } else {
        guest_bins::build(&root, false)?.daxtrace
    };
    if !binary.is_file() {
        bail!(
            "{} is missing: build it (drop --no-build) first",
            binary.display()
        );
    }
    if !available() {
        bail!("buildah is not installed (`cargo xtask setup` installs it)");
    }
    build(&root)
}

/// Builds the image from the workspace root and writes the tarball.
pub fn build(root: &Path) -> anyhow::Result<()> {
    let local = format!("localhost/{}", tag());
    run::status(
        buildah()
            .args(["bud", "--isolation", "chroot", "--layers=false", "-f"])
            .arg(root.join("deploy/container/Dockerfile"))
            .args(["-t", &local])
            .arg(root),
    )?;
    let entrypoint = run::probe_stdout(buildah().args([
        "inspect",
        "--type",
        "image",
        "--format",
        "{{.OCIv1.Config.Entrypoint}}",
        &local,
    ]))
    .context("buildah inspect of the image failed")?;
    // buildah 1.28 prints the list Go's way.
    if entrypoint.trim() != "[/daxtrace]" {
        bail!("the image's entrypoint is {entrypoint}, not [/daxtrace]");
    }
    let out = archive(root);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if out.exists() {
        std::fs::remove_file(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    run::status(buildah().args([
        "push",
        &local,
        &format!("docker-archive:{}:{}", out.display(), tag()),
    ]))?;
    let manifest = run::probe_stdout(
        Command::new("tar")
            .arg("-xOf")
            .arg(&out)
            .arg("manifest.json"),
    )
    .context("reading manifest.json of the tarball")?;
    // What `image: daxtrace:VERSION` resolves to on a node.
    if !manifest.contains(&format!("\"docker.io/library/{}\"", tag())) {
        bail!("the tarball is not tagged {}: {manifest}", tag());
    }
    eprintln!(
        "xtask image: {} in {} (docker load -i FILE, or ctr -n k8s.io images import FILE)",
        tag(),
        out.display()
    );
    Ok(())
}
