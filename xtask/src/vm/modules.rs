//! The kernel modules the guest needs, their dependency closure (from the
//! kernel's own modules.dep through `modprobe --show-depends`), and their
//! installation into the image.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::image::KernelImage;
use super::pmem::PmemKind;

/// Modules the guest loads at boot when the kernel has them as modules:
/// pmem (legacy e820; ACPI NFIT for the emulated NVDIMM; virtio-pmem, the
/// pmem of microVM guests), device-mapper with
/// dm-delay and loop (the slow device of dma-truncate), ext4, xfs, 9p over
/// virtio, the checksums ext4/xfs ask for, and device-dax with its drivers
/// (dax_pmem, device_dax, fsdev_dax, kmem: 7.x's devdax step loads them).
/// Built-in or absent ones are skipped.
pub const WANTED: &[&str] = &[
    "libnvdimm",
    "nd_pmem",
    "nd_btt",
    "nd_e820",
    "nfit",
    "virtio_pmem",
    "nd_virtio",
    "dm_mod",
    "dm_delay",
    "loop",
    "crc32c_generic",
    "crc32c_intel",
    "ext4",
    "xfs",
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    "null_blk",
    "dax_pmem",
    "device_dax",
    "fsdev_dax",
    "kmem",
];

/// The modules of one kind of pmem, loaded only when a run has it
/// ([`PmemKind::modules`]).
fn pmem_only(name: &str) -> bool {
    PmemKind::ALL.iter().any(|k| k.modules().contains(&name))
}

/// Modules in the image that no boot loads: the command modprobes them
/// (null_blk, the fast block device of the overhead benchmark, creates
/// /dev/nullb0 as soon as it is loaded; the device-dax drivers would take
/// over a namespace the other steps need as fsdax).
pub const ON_DEMAND: &[&str] = &["null_blk", "dax_pmem", "device_dax", "fsdev_dax", "kmem"];

/// One line of `modprobe --show-depends`.
#[derive(Debug, PartialEq, Eq)]
pub enum ShownDep {
    Builtin(String),
    File(PathBuf),
}

/// Parse `modprobe --show-depends` output (`insmod PATH [ARGS]` / `builtin NAME`).
pub fn parse_show_depends(output: &str) -> Vec<ShownDep> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("insmod"), Some(path)) => Some(ShownDep::File(PathBuf::from(path))),
                (Some("builtin"), Some(name)) => Some(ShownDep::Builtin(name.to_owned())),
                _ => None,
            }
        })
        .collect()
}

/// The resolved module set of one kernel.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ModuleSet {
    /// Module files, dependencies first, without duplicates.
    pub files: Vec<PathBuf>,
    /// Wanted names that are loadable modules (what /init modprobes).
    pub load: Vec<String>,
    /// Wanted names built into the kernel.
    pub builtin: Vec<String>,
    /// Wanted names this kernel has neither as module nor built in.
    pub missing: Vec<String>,
}

impl ModuleSet {
    /// The loadable modules /init loads on every boot.
    pub fn boot_list(&self) -> Vec<&str> {
        self.load
            .iter()
            .map(String::as_str)
            .filter(|m| !ON_DEMAND.contains(m) && !pmem_only(m))
            .collect()
    }

    /// The loadable modules /init loads for a device of `kind`.
    pub fn pmem_list(&self, kind: PmemKind) -> Vec<&str> {
        self.load
            .iter()
            .map(String::as_str)
            .filter(|m| kind.modules().contains(m))
            .collect()
    }

    /// Add the `--show-depends` result of `name` (None: module not found).
    pub fn add(&mut self, name: &str, shown: Option<Vec<ShownDep>>) {
        let Some(deps) = shown else {
            self.missing.push(name.to_owned());
            return;
        };
        let mut any_file = false;
        for dep in deps {
            match dep {
                ShownDep::File(path) => {
                    any_file = true;
                    if !self.files.contains(&path) {
                        self.files.push(path);
                    }
                }
                ShownDep::Builtin(_) => {}
            }
        }
        if any_file {
            self.load.push(name.to_owned());
        } else {
            self.builtin.push(name.to_owned());
        }
    }
}

/// Resolve `wanted` against `kernel`'s modules.dep. `empty_conf` is an empty
/// directory handed to `modprobe -C`, so host rules (e.g. ndctl's) do not interfere.
pub fn resolve(
    kernel: &KernelImage,
    wanted: &[&str],
    empty_conf: &Path,
) -> anyhow::Result<ModuleSet> {
    std::fs::create_dir_all(empty_conf)
        .with_context(|| format!("creating {}", empty_conf.display()))?;
    let mut set = ModuleSet::default();
    for name in wanted {
        let out = Command::new("modprobe")
            .arg("-d")
            .arg(&kernel.module_base)
            .arg("-S")
            .arg(&kernel.release)
            .arg("-C")
            .arg(empty_conf)
            .arg("--show-depends")
            .arg(name)
            .output()
            .context("running modprobe (install kmod)")?;
        let shown = out
            .status
            .success()
            .then(|| parse_show_depends(&String::from_utf8_lossy(&out.stdout)));
        set.add(name, shown);
    }
    Ok(set)
}

/// Copy the module files (decompressed, so the guest needs no decompressor) and
/// the built-in lists into `staging/lib/modules/<release>`, then `depmod` it.
pub fn install(set: &ModuleSet, kernel: &KernelImage, staging: &Path) -> anyhow::Result<()> {
    let src_dir = kernel.modules_dir();
    let dst_dir = staging.join("lib/modules").join(&kernel.release);
    for file in &set.files {
        let rel = file
            .strip_prefix(&src_dir)
            .with_context(|| format!("{} is outside {}", file.display(), src_dir.display()))?;
        let (rel_ko, decompressor) = uncompressed_name(rel);
        let dst = dst_dir.join(&rel_ko);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match decompressor {
            None => {
                std::fs::copy(file, &dst).with_context(|| format!("copying {}", file.display()))?;
            }
            Some(tool) => {
                let out = Command::new(tool)
                    .arg("-dc")
                    .arg(file)
                    .output()
                    .with_context(|| format!("running {tool}"))?;
                if !out.status.success() {
                    bail!("{tool} -dc {} failed ({})", file.display(), out.status);
                }
                std::fs::write(&dst, out.stdout)?;
            }
        }
    }
    for list in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.builtin.bin",
        "modules.order",
    ] {
        let src = src_dir.join(list);
        if src.exists() {
            std::fs::copy(&src, dst_dir.join(list))
                .with_context(|| format!("copying {}", src.display()))?;
        }
    }
    depmod(staging, &kernel.release)
}

/// `depmod -b base release`. Its warnings about lists a package does not ship
/// (7.x: no modules.order or modules.builtin text) are only shown on failure.
pub fn depmod(base: &Path, release: &str) -> anyhow::Result<()> {
    let out = Command::new("depmod")
        .arg("-b")
        .arg(base)
        .arg(release)
        .output()
        .context("running depmod (install kmod)")?;
    if !out.status.success() {
        bail!(
            "depmod -b {} {release} failed ({}): {}",
            base.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `x.ko.xz` -> (`x.ko`, Some("xz")); `x.ko` -> (`x.ko`, None).
pub fn uncompressed_name(rel: &Path) -> (PathBuf, Option<&'static str>) {
    let tool = match rel.extension().and_then(|e| e.to_str()) {
        Some("xz") => Some("xz"),
        Some("zst") => Some("zstd"),
        Some("gz") => Some("gzip"),
        _ => None,
    };
    match tool {
        Some(t) => (rel.with_extension(""), Some(t)),
        None => (rel.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_depends_lists_files_and_builtins() {
        let out = "builtin crc32c\n\
                   insmod /k/lib/modules/6.1/kernel/drivers/nvdimm/libnvdimm.ko \n\
                   insmod /k/lib/modules/6.1/kernel/drivers/nvdimm/nd_pmem.ko.xz opt=1\n\
                   garbage\n";
        assert_eq!(
            parse_show_depends(out),
            [
                ShownDep::Builtin("crc32c".into()),
                ShownDep::File("/k/lib/modules/6.1/kernel/drivers/nvdimm/libnvdimm.ko".into()),
                ShownDep::File("/k/lib/modules/6.1/kernel/drivers/nvdimm/nd_pmem.ko.xz".into()),
            ]
        );
    }

    #[test]
    fn closure_keeps_dependency_order_without_duplicates() {
        let mut set = ModuleSet::default();
        set.add(
            "nd_pmem",
            Some(vec![
                ShownDep::File("/m/libnvdimm.ko".into()),
                ShownDep::File("/m/nd_btt.ko".into()),
                ShownDep::File("/m/nd_pmem.ko".into()),
            ]),
        );
        set.add(
            "nd_e820",
            Some(vec![
                ShownDep::File("/m/libnvdimm.ko".into()),
                ShownDep::File("/m/nd_e820.ko".into()),
            ]),
        );
        set.add(
            "virtio_pci",
            Some(vec![ShownDep::Builtin("virtio_pci".into())]),
        );
        set.add("crc32c_intel", None);
        let files: Vec<_> = set.files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            files,
            [
                "/m/libnvdimm.ko",
                "/m/nd_btt.ko",
                "/m/nd_pmem.ko",
                "/m/nd_e820.ko"
            ]
        );
        assert_eq!(set.load, ["nd_pmem", "nd_e820"]);
        assert_eq!(set.builtin, ["virtio_pci"]);
        assert_eq!(set.missing, ["crc32c_intel"]);
        set.add("nfit", Some(vec![ShownDep::File("/m/nfit.ko".into())]));
        set.add(
            "virtio_pmem",
            Some(vec![ShownDep::File("/m/virtio_pmem.ko".into())]),
        );
        assert_eq!(set.boot_list(), ["nd_pmem"]);
        assert_eq!(set.pmem_list(PmemKind::Memmap), ["nd_e820"]);
        assert_eq!(set.pmem_list(PmemKind::Nvdimm), ["nfit"]);
        assert_eq!(set.pmem_list(PmemKind::Virtio), ["virtio_pmem"]);
        set.add(
            "null_blk",
            Some(vec![ShownDep::File("/m/null_blk.ko".into())]),
        );
        assert_eq!(
            set.boot_list(),
            ["nd_pmem"],
            "on-demand modules are in the image but never loaded at boot"
        );
        assert!(set.files.contains(&PathBuf::from("/m/null_blk.ko")));
    }

    #[test]
    fn compressed_modules_are_stored_plain() {
        assert_eq!(
            uncompressed_name(Path::new("kernel/fs/xfs/xfs.ko.xz")),
            (PathBuf::from("kernel/fs/xfs/xfs.ko"), Some("xz"))
        );
        assert_eq!(
            uncompressed_name(Path::new("kernel/fs/xfs/xfs.ko.zst")),
            (PathBuf::from("kernel/fs/xfs/xfs.ko"), Some("zstd"))
        );
        assert_eq!(
            uncompressed_name(Path::new("a/b.ko")),
            (PathBuf::from("a/b.ko"), None)
        );
    }
}
