//! The eBPF object built from `dax-trace-ebpf` by build.rs, embedded in the binary.

/// The programs' ELF object. Empty when the crate was built with
/// `AYA_BUILD_SKIP=1` (userspace-only builds for tests).
pub static PROBES_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/dax-trace-probes"));

/// True when the binary carries the eBPF programs.
pub fn has_programs() -> bool {
    !PROBES_OBJECT.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dax_trace_common::probe::{Hook, POINTS};

    /// The programs a point's hook kind needs, as the loader names them.
    fn needed(stem: &str, hook: Hook) -> Vec<String> {
        let kinds: &[&str] = match hook {
            Hook::Entry => &["fentry", "kprobe"],
            Hook::EntryExit => &["fentry", "fexit", "kprobe", "kretprobe"],
            Hook::Exit => &["fexit"],
            Hook::Tracepoint => &["tp"],
            Hook::Timer => &["timer"],
        };
        kinds.iter().map(|k| format!("{k}_{stem}")).collect()
    }

    #[test]
    fn the_object_holds_every_declared_program_and_a_gpl_compatible_license() {
        if !has_programs() {
            eprintln!("skipped: built with AYA_BUILD_SKIP=1, the binary carries no eBPF object");
            return;
        }
        let obj = aya_obj::Object::parse(PROBES_OBJECT).expect("the embedded object parses");
        let mut missing = Vec::new();
        for point in POINTS.iter() {
            for name in needed(point.stem, point.hook) {
                if !obj.programs.contains_key(&name) {
                    missing.push(name);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "programs missing from the object: {missing:?}"
        );
        assert!(
            obj.programs.contains_key("daxtrace_kread"),
            "the state reader program"
        );
        // The kernel refuses GPL-only helpers (bpf_probe_read_kernel) to
        // programs without a GPL-compatible license.
        assert_eq!(obj.license.to_str(), Ok("Dual MIT/GPL"));
    }
}
