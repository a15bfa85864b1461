//! The DAX root and the kind of pmem a boot ran on. /init formatted
//! /dev/pmem1 ext4 and mounted it `dax=always` at /dax-root before anything
//! ran (as a microVM's `root=/dev/pmem0 rootflags=dax`): a recording started
//! later must name that claim as held since before the trace, with its
//! mount point, on virtio-pmem and on e820 pmem alike. The guest writes
//! `pmem-layout` (`MAIN [ROOT]`) so a re-judge knows what ran.
use std::path::Path;
use xtask::vm::{KernelGen, PmemKind, PmemLayout};

use super::share::{body_type, events, recorded};

/// The pmem of each generation's boot. 6.1 and 7 run every scenario on
/// virtio-pmem (the microVM case), 5.10 and 6.12 on e820 pmem; the DAX
/// roots cover both kinds without an extra boot. 7 also reserves e820 pmem
/// for its device-DAX step (a virtio-pmem namespace cannot be devdax).
pub(crate) fn layout(kernel: KernelGen) -> PmemLayout {
    match kernel {
        KernelGen::V6_1 => PmemLayout {
            main: PmemKind::Virtio,
            dax_root: Some(PmemKind::Memmap),
            spare_memmap: false,
        },
        KernelGen::V7 => PmemLayout {
            main: PmemKind::Virtio,
            dax_root: Some(PmemKind::Virtio),
            spare_memmap: true,
        },
        _ => PmemLayout {
            main: PmemKind::Memmap,
            dax_root: None,
            spare_memmap: false,
        },
    }
}

/// What the guest says it ran on: (main, DAX root) as /init named them.
pub(crate) fn ran_on(dir: &Path) -> Result<(String, Option<String>), String> {
    let path = dir.join("pmem-layout");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut words = text.split_whitespace().map(str::to_string);
    let main = words.next().ok_or("empty pmem-layout")?;
    Ok((main, words.next()))
}

/// The boot ran on the pmem its layout asked for.
pub(crate) fn layout_held(kernel: KernelGen, dir: &Path) -> Result<String, String> {
    let want = layout(kernel);
    let (main, root) = ran_on(dir)?;
    let want_root = want.dax_root.map(|k| k.as_str().to_string());
    if main != want.main.as_str() || root != want_root {
        return Err(format!(
            "ran on {main} (DAX root {root:?}), asked for {} (DAX root {want_root:?})",
            want.main.as_str()
        ));
    }
    Ok(match root {
        Some(r) => format!("pmem0 {main}, DAX root pmem1 {r}"),
        None => format!("pmem0 {main}"),
    })
}

/// The `daxroot` step: the DAX root's claim held since before the trace,
/// with its mount point, in the events, the JSON report and the text one.
pub(crate) fn judge(dir: &Path) -> Result<String, String> {
    let (_, root) = ran_on(dir)?;
    let kind = root.ok_or("no DAX root in this boot")?;
    let want_bytes: u64 = if kind == PmemKind::Virtio.as_str() {
        xtask::vm::pmem::VIRTIO_ROOT_MIB << 20
    } else {
        512 << 20
    };
    let report = recorded(dir, "daxroot")?;
    let evs = events(dir, "daxroot")?;
    let dev = evs
        .iter()
        .find(|e| body_type(e) == "state-dax-device" && e["body"]["disk"] == "pmem1")
        .ok_or("no state-dax-device for pmem1 (the DAX root)")?;
    let b = &dev["body"];
    let claims = b["claims"].as_u64().unwrap_or(0);
    let size = b["size_bytes"].as_u64().unwrap_or(0);
    // No holder asked for: ext4 claims without one before 6.5.
    if claims != 1 || size != want_bytes {
        return Err(format!(
            "pmem1 at start: {claims} claims, {size} bytes (want 1 held, {want_bytes}): {b}"
        ));
    }
    let mount = evs
        .iter()
        .find(|e| {
            body_type(e) == "state-mount"
                && e["body"]["mount_point"] == "/dax-root"
                && e["body"]["mounted"] == true
        })
        .ok_or("no state-mount for /dax-root")?;
    if mount["body"]["fstype"] != "ext4" || mount["body"]["dax"] != true {
        return Err(format!("/dax-root at start: {}", mount["body"]));
    }
    if evs.iter().any(|e| body_type(e) == "release") {
        return Err("a release during the recording: the DAX root was let go".into());
    }
    let text_path = dir.join("daxroot.report.txt");
    let text =
        std::fs::read_to_string(&text_path).map_err(|e| format!("{}: {e}", text_path.display()))?;
    let held = text
        .lines()
        .find(|l| l.trim_start().starts_with("held by") && l.contains("ext4 on /dax-root"))
        .ok_or_else(|| format!("the text report names no holder ext4 on /dax-root:\n{text}"))?;
    if !held.contains("since before the trace") {
        return Err(format!("the holder line does not say since when: {held}"));
    }
    if !report.to_string().contains("/dax-root") {
        return Err("report --json does not name /dax-root".into());
    }
    Ok(format!(
        "{kind} pmem1 {} MiB, 1 claim at start: `{}`",
        size >> 20,
        held.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtio_boots_cover_both_kinds_of_dax_root() {
        let roots: Vec<_> = [KernelGen::V6_1, KernelGen::V7]
            .into_iter()
            .map(|k| {
                let l = layout(k);
                assert_eq!(l.main, PmemKind::Virtio);
                assert_eq!(l.validate(), Ok(()));
                l.dax_root
            })
            .collect();
        assert!(roots.contains(&Some(PmemKind::Memmap)));
        assert!(roots.contains(&Some(PmemKind::Virtio)));
    }

    #[test]
    fn a_boot_on_other_pmem_than_asked_is_a_failure() {
        let dir = std::env::temp_dir().join(format!("daxroot-judge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pmem-layout"), "memmap\n").unwrap();
        assert!(layout_held(KernelGen::V6_12, &dir).is_ok());
        assert!(
            layout_held(KernelGen::V7, &dir)
                .unwrap_err()
                .contains("asked for virtio")
        );
        std::fs::write(dir.join("pmem-layout"), "virtio virtio\n").unwrap();
        assert!(layout_held(KernelGen::V7, &dir).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
