//! `source::live::start` on the machine running the tests: resolve, load and
//! attach on the running kernel. With the eBPF object and root it must
//! return a stream whose session names this kernel and what attached; when a
//! facility is truly absent the error must name it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use dax_trace::source::live::{self, LiveError, LiveOptions};

#[test]
fn live_start_attaches_or_says_what_is_missing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    match live::start(&LiveOptions::default()) {
        Ok(stream) => {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("release");
            assert_eq!(stream.info.kernel_release, release.trim());
            let (attached, total) = stream.info.probes.attached_count();
            // Every family counts but one this kernel makes unnecessary
            // (the orphaned-page family where eviction waits, 6.15+).
            let report = &stream.info.probes;
            let not_needed = report
                .families
                .iter()
                .filter(|f| report.not_needed(f).is_some())
                .count();
            assert_eq!(
                report.families.len(),
                dax_trace_common::probe::Family::ALL.len()
            );
            assert!(
                attached >= 1 && total == dax_trace_common::probe::Family::ALL.len() - not_needed,
                "{attached}/{total}, {not_needed} not needed"
            );
        }
        Err(LiveError::Load(err)) if !dax_trace::probes::object::has_programs() => {
            // Built with AYA_BUILD_SKIP: the message must say so.
            let text = err.to_string();
            println!("skipping: no eBPF programs in this build: {text}");
            assert!(text.contains("without its eBPF programs"), "{text}");
        }
        Err(LiveError::Unavailable(reasons)) => {
            println!("skipping: live capture unavailable here: {reasons:?}");
            let text = reasons.join("\n");
            assert!(
                text.contains("CAP_BPF") || text.contains("BTF"),
                "the reason names the missing facility: {text}"
            );
        }
        Err(other) => panic!("live start failed: {other}"),
    }
}
