//! Recorded kernels as resolution inputs: the fixture trees of
//! `tests/fixtures/<kernel>` materialized (`*.xz` decompressed) and resolved.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

use dax_trace::resolve::{self, Facilities, KernelPaths, Resolution};
use dax_trace::session::probe_report::{AttachKind, PointStatus};
use dax_trace_common::probe::POINTS;

pub fn fixture_dir(kernel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kernel)
}

/// Copies the fixture into a temporary tree, decompressing `*.xz` files.
pub fn materialize(kernel: &str) -> (tempfile::TempDir, KernelPaths) {
    let src = fixture_dir(kernel);
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_tree(&src, tmp.path());
    let root = tmp.path();
    let release = std::fs::read_to_string(root.join("release")).expect("release file");
    let paths = KernelPaths {
        btf_dir: root.join("btf"),
        kallsyms: root.join("kallsyms"),
        tracefs: Some(root.join("tracing")),
        release: release.trim().to_string(),
    };
    (tmp, paths)
}

pub fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("fixture dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            copy_tree(&path, &dst.join(&name));
        } else if let Some(stem) = name.strip_suffix(".xz") {
            let compressed = std::fs::read(&path).expect("read xz");
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut compressed.as_slice(), &mut out).expect("xz");
            std::fs::write(dst.join(stem), out).expect("write");
        } else {
            std::fs::copy(&path, dst.join(&name)).expect("copy");
        }
    }
}

pub fn resolve_fixture(kernel: &str) -> (tempfile::TempDir, Resolution) {
    let (tmp, paths) = materialize(kernel);
    let facilities = Facilities::all(paths.tracefs.clone());
    let r = resolve::resolve(&paths, facilities).expect("resolution");
    (tmp, r)
}

pub fn status(r: &Resolution, point: u16) -> &PointStatus {
    &r.plans[point as usize].status
}

pub fn planned_kinds(r: &Resolution, point: u16) -> Vec<AttachKind> {
    match status(r, point) {
        PointStatus::Planned { kinds, .. } => kinds.clone(),
        other => panic!("{} not planned: {other:?}", POINTS[point as usize].target),
    }
}

pub fn is_missing(r: &Resolution, point: u16) -> bool {
    matches!(status(r, point), PointStatus::Missing { .. })
}
