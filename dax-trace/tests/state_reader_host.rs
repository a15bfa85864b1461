//! The kernel-memory reader on the machine running the tests: it must read
//! this very thread's task_struct (pid and comm at their BTF offsets) and
//! refuse an unmapped address with an error, never zeros. Then a whole
//! state reading on this kernel must end with a `state-end` and name every
//! source it could not read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use dax_trace::event::EventBody;
use dax_trace::probes::attach;
use dax_trace::resolve::{self, btf::KernelBtf};
use dax_trace::state::kmem::{BpfReader, KernelMemory};
use dax_trace::state::reading::{self, Kernel, ReadOptions};

fn setup() -> Option<(resolve::Resolution, aya::Ebpf)> {
    if !dax_trace::probes::object::has_programs() {
        println!("skipping: built without the eBPF programs");
        return None;
    }
    let r = resolve::resolve_host().expect("resolution");
    let blockers = r.blockers();
    if !blockers.is_empty() {
        println!("skipping: {blockers:?}");
        return None;
    }
    let ebpf = attach::load(
        &r.config,
        &dax_trace::probes::sizing::MapSizes::inspection(),
        None,
    )
    .expect("load the object");
    Some((r, ebpf))
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

#[test]
fn the_reader_reads_this_threads_task_struct_and_refuses_bad_addresses() {
    let Some((_, mut ebpf)) = setup() else { return };
    let reader = BpfReader::new(&mut ebpf).expect("reader program loads");
    // Any kernel read makes the reader learn the calling task.
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
    let stext = kallsyms
        .lines()
        .find(|l| l.ends_with(" _stext"))
        .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
        .expect("_stext");
    let mut code = [0u8; 16];
    reader
        .read(stext, &mut code)
        .expect("kernel text is readable");
    let task = reader.current_task().expect("current task known");
    let btf = KernelBtf::open(std::path::Path::new("/sys/kernel/btf")).expect("btf");
    let pid_off = btf.path_offset("task_struct", "pid").unwrap().expect("pid") as u64;
    let comm_off = btf
        .path_offset("task_struct", "comm")
        .unwrap()
        .expect("comm") as u64;
    assert_eq!(reader.u32_at(task + pid_off).expect("pid"), gettid());
    let comm = std::fs::read_to_string("/proc/thread-self/comm").expect("comm");
    assert_eq!(
        reader.cstr_at(task + comm_off, 16).expect("comm"),
        comm.trim()
    );
    // A 20 KiB read spans two chunks and must match two separate reads.
    let mut big = vec![0u8; 20 * 1024];
    reader.read(stext, &mut big).expect("two chunks");
    assert_eq!(&big[..16], &code);
    let err = reader
        .read(0x10, &mut code)
        .expect_err("address 0x10 is unmapped");
    assert!(err.to_string().contains("0x10"), "{err}");
}

#[test]
fn a_state_reading_here_ends_with_state_end_and_names_what_it_could_not_read() {
    let Some((r, mut ebpf)) = setup() else { return };
    let reader = BpfReader::new(&mut ebpf).expect("reader");
    let kernel = Kernel {
        mem: &reader,
        layout: &r.state,
        config: &r.config,
    };
    let snap = reading::read(&kernel, &ReadOptions::default());
    let last = snap.events.last().expect("events");
    let EventBody::StateEnd(end) = last.body else {
        panic!("last event is {:?}", last.body)
    };
    assert_eq!(end.available, snap.available);
    // Mounts are always readable; every kernel source either read or explained.
    assert_ne!(
        end.available & dax_trace_common::payload::state_bits::MOUNTS,
        0
    );
    for (bit, name) in dax_trace_common::payload::state_bits::NAMES {
        if end.available & bit == 0 {
            assert!(
                snap.problems
                    .iter()
                    .any(|p| p.starts_with(name) || p.contains(name)),
                "{name} neither read nor explained: {:?}",
                snap.problems
            );
        }
    }
    println!(
        "available {:#x}, problems: {:#?}",
        end.available, snap.problems
    );
}
