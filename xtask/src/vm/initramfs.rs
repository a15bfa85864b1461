//! The guest image: busybox, host tools, kernel modules, the guest binaries
//! and /init, as a newc cpio cached per kernel and rebuilt when an input changes.
//! Each run appends a small second archive with its command and settings.
use std::collections::BTreeSet;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::cpio;
use super::guest_bins::GuestBinaries;
use super::guest_script::{self, RunConfig};
use super::host_tools::{self, Installer};
use super::image::KernelImage;
use super::modules;
use super::pmem::PmemKind;

/// Bump when the image layout changes in a way the inputs do not show.
const LAYOUT_VERSION: u32 = 1;

/// Build (or reuse) the base image of `kernel` under `dir`; returns its path.
pub fn ensure_base_image(
    kernel: &KernelImage,
    bins: &GuestBinaries,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let module_set = modules::resolve(kernel, modules::WANTED, &dir.join("empty-modprobe.d"))?;
    let tools = resolve_tools()?;
    let busybox =
        host_tools::find_tool("busybox").context("busybox not found: install busybox-static")?;
    let key = cache_key(kernel, bins, &module_set, &tools, &busybox)?;
    // One cached image per set of guest binaries: runs from different
    // checkouts/target dirs do not keep rebuilding each other's image.
    let flavour = {
        let mut h = std::hash::DefaultHasher::new();
        bins.daxtrace.hash(&mut h);
        bins.workload.hash(&mut h);
        format!("{:08x}", h.finish() as u32)
    };
    // The single image of earlier versions is never used again.
    for legacy in ["base.cpio", "base.key"] {
        std::fs::remove_file(dir.join(legacy)).ok();
    }
    let archive = dir.join(format!("base-{flavour}.cpio"));
    let key_file = dir.join(format!("base-{flavour}.key"));
    if archive.exists() && std::fs::read_to_string(&key_file).is_ok_and(|k| k == key) {
        return Ok(archive);
    }
    eprintln!("vm: building the guest image for {}", kernel.release);
    if !module_set.missing.is_empty() {
        eprintln!(
            "vm: {} has no module {} (built in or absent; skipped)",
            kernel.release,
            module_set.missing.join(", ")
        );
    }
    // Unique names and renames: a concurrent run never sees a half-written image.
    let staging = dir.join(format!("staging-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    populate(&staging, kernel, bins, &module_set, &tools, &busybox)?;
    let partial = dir.join(format!("base-{flavour}.cpio.{}", std::process::id()));
    cpio::write_archive(&staging, &partial)?;
    std::fs::remove_dir_all(&staging).ok();
    std::fs::rename(&partial, &archive).context("installing the new image")?;
    std::fs::write(&key_file, key).context("writing the image cache key")?;
    Ok(archive)
}

fn resolve_tools() -> anyhow::Result<Vec<PathBuf>> {
    let mut tools = Vec::new();
    for name in host_tools::REQUIRED {
        tools.push(host_tools::find_tool(name).with_context(|| {
            format!("{name} not found on the host (packages: bash e2fsprogs xfsprogs dmsetup mount kmod)")
        })?);
    }
    tools.extend(
        host_tools::OPTIONAL
            .iter()
            .filter_map(|n| host_tools::find_tool(n)),
    );
    Ok(tools)
}

fn file_stamp(path: &Path, h: &mut impl std::hash::Hasher) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    path.hash(h);
    meta.len().hash(h);
    meta.modified()?.hash(h);
    Ok(())
}

fn cache_key(
    kernel: &KernelImage,
    bins: &GuestBinaries,
    set: &modules::ModuleSet,
    tools: &[PathBuf],
    busybox: &Path,
) -> anyhow::Result<String> {
    let mut h = std::hash::DefaultHasher::new();
    LAYOUT_VERSION.hash(&mut h);
    kernel.release.hash(&mut h);
    guest_script::init_script().hash(&mut h);
    set.load.hash(&mut h);
    for f in set
        .files
        .iter()
        .chain(tools)
        .chain([&bins.daxtrace, &bins.workload])
    {
        file_stamp(f, &mut h)?;
    }
    file_stamp(busybox, &mut h)?;
    Ok(format!("{:016x}\n", h.finish()))
}

fn populate(
    staging: &Path,
    kernel: &KernelImage,
    bins: &GuestBinaries,
    set: &modules::ModuleSet,
    tools: &[PathBuf],
    busybox: &Path,
) -> anyhow::Result<()> {
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc/daxtrace-vm",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "root",
        "mnt/host",
        "var",
    ] {
        std::fs::create_dir_all(staging.join(d))?;
    }
    let mut installer = Installer::new(staging);
    for tool in tools {
        installer.install_tool(tool)?;
    }
    let tool_names: BTreeSet<String> = tools
        .iter()
        .filter_map(|t| t.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .chain(["sh".to_owned()])
        .collect();
    install_busybox(staging, busybox, &tool_names)?;
    std::os::unix::fs::symlink("bash", staging.join("usr/bin/sh"))?;
    std::os::unix::fs::symlink("../usr/bin/bash", staging.join("bin/sh"))?;
    std::os::unix::fs::symlink("../usr/bin/bash", staging.join("bin/bash"))?;
    for (src, name) in [
        (&bins.daxtrace, "daxtrace"),
        (&bins.workload, "dax-workload"),
    ] {
        std::fs::copy(src, staging.join("usr/bin").join(name))
            .with_context(|| format!("copying {}", src.display()))?;
    }
    modules::install(set, kernel, staging)?;
    write_file(staging, "init", &guest_script::init_script(), 0o755)?;
    let lines = |names: Vec<&str>| names.join("\n") + "\n";
    write_file(
        staging,
        "etc/daxtrace-vm/modules",
        &lines(set.boot_list()),
        0o644,
    )?;
    for kind in PmemKind::ALL {
        write_file(
            staging,
            &format!("etc/daxtrace-vm/modules.{}", kind.as_str()),
            &lines(set.pmem_list(kind)),
            0o644,
        )?;
    }
    write_file(
        staging,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\n",
        0o644,
    )?;
    write_file(staging, "etc/group", "root:x:0:\n", 0o644)?;
    std::os::unix::fs::symlink("/proc/self/mounts", staging.join("etc/mtab"))?;
    if Path::new("/etc/mke2fs.conf").exists() {
        std::fs::copy("/etc/mke2fs.conf", staging.join("etc/mke2fs.conf"))?;
    }
    Ok(())
}

fn install_busybox(staging: &Path, busybox: &Path, skip: &BTreeSet<String>) -> anyhow::Result<()> {
    std::fs::copy(busybox, staging.join("bin/busybox")).context("copying busybox")?;
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .context("running busybox --list-full")?;
    if !out.status.success() {
        bail!("busybox --list-full failed ({})", out.status);
    }
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let applet = Path::new(applet.trim());
        let Some(name) = applet.file_name() else {
            continue;
        };
        let link = staging.join(applet);
        if skip.contains(name.to_string_lossy().as_ref()) || link.symlink_metadata().is_ok() {
            continue;
        }
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let target =
            host_tools::relative_target(&Path::new("/").join(applet), Path::new("/bin/busybox"));
        std::os::unix::fs::symlink(target, &link)?;
    }
    Ok(())
}

fn write_file(staging: &Path, rel: &str, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = staging.join(rel);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The initrd of one run: the base image followed by an archive holding the
/// command and the run settings (the kernel unpacks concatenated archives).
pub fn write_run_initrd(
    base: &Path,
    run_dir: &Path,
    argv: &[String],
    cfg: &RunConfig,
) -> anyhow::Result<PathBuf> {
    let extra = run_dir.join("extra");
    std::fs::create_dir_all(extra.join("etc/daxtrace-vm"))?;
    write_file(
        &extra,
        "etc/daxtrace-vm/command",
        &guest_script::command_script(argv),
        0o755,
    )?;
    write_file(
        &extra,
        "etc/daxtrace-vm/run.conf",
        &guest_script::run_conf(cfg),
        0o644,
    )?;
    let extra_archive = run_dir.join("extra.cpio");
    cpio::write_archive(&extra, &extra_archive)?;
    let initrd = run_dir.join("initrd.cpio");
    let mut out = std::fs::File::create(&initrd)?;
    for part in [base, extra_archive.as_path()] {
        let mut input =
            std::fs::File::open(part).with_context(|| format!("opening {}", part.display()))?;
        std::io::copy(&mut input, &mut out)?;
    }
    Ok(initrd)
}
