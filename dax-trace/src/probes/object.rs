//! The eBPF object built from `dax-trace-ebpf` by build.rs, embedded in the binary.

/// The programs' ELF object. Empty when the crate was built with
/// `AYA_BUILD_SKIP=1` (userspace-only builds for tests).
pub static PROBES_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/dax-trace-probes"));

/// True when the binary carries the eBPF programs.
pub fn has_programs() -> bool {
    !PROBES_OBJECT.is_empty()
}
