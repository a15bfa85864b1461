//! Fetch a Debian kernel through apt, unpack it without installing, and find
//! its image and modules; the result is cached per generation.
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

use super::apt::{self, AptRepo};
use super::generation::KernelGen;
use super::image::KernelImage;
use super::modules;

const COMPLETE_MARKER: &str = ".unpacked";

/// The kernel of `generation`, from `dir` when already unpacked there, else
/// downloaded through apt into it.
pub fn ensure_kernel(generation: KernelGen, dir: &Path) -> anyhow::Result<KernelImage> {
    let root = dir.join("root");
    if root.join(COMPLETE_MARKER).exists() {
        return locate(generation, &root);
    }
    eprintln!("vm: fetching the Debian {generation} kernel through apt");
    let repo = AptRepo::create(&dir.join("apt"), generation.suites())?;
    repo.update()?;
    let image = apt::image_package_of_metapackage(&repo.depends_of("linux-image-amd64")?)
        .context("linux-image-amd64 depends on no versioned linux-image package")?;
    let packages = apt::kernel_payload_packages(&image, &repo.depends_of(&image)?);
    let debs = dir.join("debs");
    recreate_dir(&debs)?;
    repo.download(&packages, &debs)?;
    recreate_dir(&root)?;
    for entry in std::fs::read_dir(&debs).with_context(|| format!("listing {}", debs.display()))? {
        let deb = entry?.path();
        if deb.extension().is_some_and(|e| e == "deb") {
            unpack_deb(&deb, &root)?;
        }
    }
    let kernel = locate(generation, &root)?;
    if !kernel.modules_dir().join("modules.dep").exists() {
        // Debian generates modules.dep at install time (except 7.x, which ships it).
        modules::depmod(&kernel.module_base, &kernel.release)?;
    }
    std::fs::write(root.join(COMPLETE_MARKER), packages.join("\n"))
        .context("marking the kernel unpacked")?;
    eprintln!(
        "vm: kernel {} unpacked ({})",
        kernel.release,
        packages.join(", ")
    );
    Ok(kernel)
}

fn recreate_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn unpack_deb(deb: &Path, root: &Path) -> anyhow::Result<()> {
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(root)
        .status()
        .context("running dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb -x {} failed ({status})", deb.display());
    }
    Ok(())
}

/// Find the release, image and module tree in an unpacked kernel `root`
/// (6.1: `boot/vmlinuz-R` + `lib/modules/R`; 6.12: `usr/lib/modules/R`;
/// 7.x: `usr/lib/modules/R/vmlinuz`).
pub fn locate(generation: KernelGen, root: &Path) -> anyhow::Result<KernelImage> {
    for base in [root.to_owned(), root.join("usr")] {
        let modules = base.join("lib/modules");
        let Ok(entries) = std::fs::read_dir(&modules) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let release = entry.file_name().to_string_lossy().into_owned();
            let has_modules = ["modules.dep", "modules.order", "kernel"]
                .iter()
                .any(|f| entry.path().join(f).exists());
            if !generation.matches_release(&release) || !has_modules {
                continue;
            }
            let candidates = [
                root.join("boot").join(format!("vmlinuz-{release}")),
                entry.path().join("vmlinuz"),
            ];
            let image = candidates
                .into_iter()
                .find(|p| p.exists())
                .with_context(|| format!("no vmlinuz for {release} in {}", root.display()))?;
            return Ok(KernelImage {
                generation,
                release,
                image,
                module_base: base,
            });
        }
    }
    bail!(
        "no {generation} kernel with modules under {}/{{,usr/}}lib/modules",
        root.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn finds_the_classic_boot_layout() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("boot/vmlinuz-6.1.0-56-amd64"));
        touch(&t.path().join("lib/modules/6.1.0-56-amd64/modules.dep"));
        let k = locate(KernelGen::V6_1, t.path()).unwrap();
        assert_eq!(k.release, "6.1.0-56-amd64");
        assert_eq!(k.image, t.path().join("boot/vmlinuz-6.1.0-56-amd64"));
        assert_eq!(k.module_base, t.path());
    }

    #[test]
    fn finds_the_merged_usr_split_layout() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("usr/lib/modules/7.2.13+deb14-amd64/vmlinuz"));
        touch(
            &t.path()
                .join("usr/lib/modules/7.2.13+deb14-amd64/modules.dep"),
        );
        let k = locate(KernelGen::V7, t.path()).unwrap();
        assert_eq!(
            k.image,
            t.path().join("usr/lib/modules/7.2.13+deb14-amd64/vmlinuz")
        );
        assert_eq!(
            k.modules_dir(),
            t.path().join("usr/lib/modules/7.2.13+deb14-amd64")
        );
    }

    #[test]
    fn refuses_a_tree_of_another_generation() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("boot/vmlinuz-6.12.57+deb13-amd64"));
        touch(
            &t.path()
                .join("usr/lib/modules/6.12.57+deb13-amd64/modules.dep"),
        );
        assert!(locate(KernelGen::V6_1, t.path()).is_err());
        assert!(locate(KernelGen::V6_12, t.path()).is_ok());
    }
}
