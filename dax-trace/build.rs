//! Builds the eBPF object from `dax-trace-ebpf` with aya-build (nightly,
//! `-Z build-std=core`, target bpfel-unknown-none, linked by bpf-linker) and
//! leaves it in OUT_DIR for `include_bytes_aligned!`.
//!
//! Set `AYA_BUILD_SKIP=1` to build userspace without the eBPF toolchain (the
//! binary then reports that it carries no programs).
use anyhow::{Context as _, anyhow};

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR not set")?;
    let ebpf_dir = std::path::Path::new(&manifest_dir).join("../dax-trace-ebpf");
    let ebpf_dir = ebpf_dir
        .canonicalize()
        .with_context(|| format!("eBPF crate not found at {}", ebpf_dir.display()))?;
    let root_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("eBPF crate path is not UTF-8: {}", ebpf_dir.display()))?;
    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    let skipped =
        std::env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skipped {
        // Leave an empty object so include_bytes_aligned! still compiles.
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").context("OUT_DIR not set")?);
        std::fs::write(out.join("dax-trace-probes"), [])
            .context("writing empty eBPF placeholder")?;
        println!("cargo:rustc-cfg=ebpf_skipped");
    }
    println!("cargo::rustc-check-cfg=cfg(ebpf_skipped)");
    let package = aya_build::Package {
        name: "dax-trace-ebpf",
        root_dir,
        ..Default::default()
    };
    aya_build::build_ebpf([package], aya_build::Toolchain::default()).context(
        "building the eBPF programs (needs `cargo xtask setup`: nightly rust-src and bpf-linker)",
    )
}
