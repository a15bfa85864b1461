//! Resolution on recorded kernels: BTF (xz), filtered kallsyms and tracefs
//! files collected by `tests/fixtures/collect.sh` on each kernel generation.
//! The expected offsets come from the kernel sources of each release (struct
//! page, dev_pagemap, task_struct), not from this code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::PathBuf;

use dax_trace::resolve::{self, Facilities, KernelPaths, btf::KernelBtf};
use dax_trace::session::probe_report::{AttachKind, PointStatus};
use dax_trace_common::probe::{POINTS, idx};

mod kernel_fixtures;
use kernel_fixtures::{
    fixture_dir, is_missing, materialize, planned_kinds, resolve_fixture, status,
};

#[test]
fn kernel_6_18_offsets_match_its_sources() {
    let (_tmp, r) = resolve_fixture("6.18");
    let c = &r.config;
    assert_eq!(r.report.kernel_release, "6.18.44-fc-v782");
    // struct page on 6.18: flags, 16-byte union, mapping, __folio_index,
    // private, _mapcount, _refcount, memcg_data = 64 bytes.
    assert_eq!(c.page_size, 64);
    assert_eq!(c.page_mapping_off, 24);
    assert_eq!(c.page_index_off, 32);
    assert_eq!(c.page_refcount_off, 52);
    // page.pgmap is gone from 6.15; folio.pgmap overlays the lru union at 8.
    assert_eq!(c.page_pgmap_off, 8);
    assert!(
        r.report
            .offsets
            .iter()
            .any(|(n, _)| n == "page_pgmap (folio.pgmap)")
    );
    assert_eq!(c.fsdax_type, 3, "MEMORY_DEVICE_FS_DAX in 6.1+");
    assert_eq!(c.idle_refcount, 0, "0-based refcounts from 6.15");
    assert_eq!(c.dax_has_holder, 1);
    assert_eq!(c.pgmap_has_nr_range, 1);
    assert_eq!(c.pgmap_has_owner, 1);
    // From the fs_dax tracepoint format files.
    assert_eq!(
        (
            c.pte_fault_ino_off,
            c.pte_fault_dev_off,
            c.pte_fault_result_off
        ),
        (8, 40, 48)
    );
    // 6.18 has no vmemmap_base symbol on this build: the fixed base is used.
    assert_eq!(c.vmemmap_base_sym, 0);
}

#[test]
fn kernel_6_18_known_task_struct_pid_offset() {
    let (tmp, paths) = materialize("6.18");
    let btf = KernelBtf::open(&paths.btf_dir).expect("btf");
    assert_eq!(
        btf.member_offset("task_struct", "pid").expect("query"),
        Some(1264)
    );
    // A member behind anonymous unions and a dotted path through a named one.
    assert_eq!(
        btf.path_offset("dev_pagemap", "range.end").expect("query"),
        btf.path_offset("dev_pagemap", "range.start")
            .expect("query")
            .map(|o| o + 8)
    );
    assert_eq!(
        btf.member_offset("page", "no_such_member").expect("query"),
        None
    );
    assert_eq!(btf.struct_size("no_such_struct").expect("query"), None);
    drop(tmp);
}

#[test]
fn kernel_6_18_plan_uses_the_6_15_generation_points() {
    let (_tmp, r) = resolve_fixture("6.18");
    // Every vmlinux function gets fentry first, kprobe as fallback.
    assert_eq!(
        planned_kinds(&r, idx::FS_DAX_GET_BY_BDEV),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    assert_eq!(
        planned_kinds(&r, idx::FREE_ZONE_DEVICE_FOLIO),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    for old in [
        idx::PUT_DEVMAP_FOLIO_REFS,
        idx::PUT_DEVMAP_PAGE_REFS,
        idx::PUT_DEVMAP_MANAGED_PAGE,
    ] {
        assert!(matches!(status(&r, old), PointStatus::Skipped { .. }));
    }
    // Prototypes: fs_dax_get_by_bdev(bdev, start_off, holder, ops); fs_put_dax(dax_dev, holder).
    assert_eq!(r.config.ret_index[idx::FS_DAX_GET_BY_BDEV as usize], 4);
    assert_eq!(r.config.ret_index[idx::FS_PUT_DAX as usize], 2);
    assert_eq!(
        r.config.ret_index[idx::DAX_LAYOUT_BUSY_PAGE_RANGE as usize],
        3
    );
    assert_eq!(
        planned_kinds(&r, idx::PTE_FAULT_DONE),
        vec![AttachKind::Tracepoint]
    );
    // Not on this kernel: dm is not built, the seed API never shipped,
    // memory_failure_event is not compiled in.
    for absent in [
        idx::DM_DAX_DIRECT_ACCESS,
        idx::FS_DAX_CLAIM,
        idx::DAX_GET_BY_HOST,
        idx::RAS_MEMORY_FAILURE,
        idx::MF_MEMORY_FAILURE,
    ] {
        assert!(is_missing(&r, absent), "{}", POINTS[absent as usize].target);
    }
    assert_eq!(
        planned_kinds(&r, idx::STUCK_SCAN),
        vec![AttachKind::PerfEvent]
    );
}

#[test]
fn without_kprobes_or_btf_the_plan_says_why() {
    let (_tmp, paths) = materialize("6.18");
    let mut facilities = Facilities::all(paths.tracefs.clone());
    facilities.kprobe_pmu = false;
    let r = resolve::resolve(&paths, facilities).expect("resolution");
    assert_eq!(planned_kinds(&r, idx::FS_PUT_DAX), vec![AttachKind::Fentry]);
    assert!(r.report.problems.iter().any(|p| p.contains("kprobe")));

    let (_tmp2, mut paths) = materialize("6.18");
    paths.btf_dir = PathBuf::from("/nonexistent");
    let mut facilities = Facilities::all(paths.tracefs.clone());
    facilities.vmlinux_btf = false;
    let r = resolve::resolve(&paths, facilities).expect("resolution");
    assert!(!r.has_btf);
    assert!(r.blockers().iter().any(|b| b.contains("BTF")));
    assert_eq!(planned_kinds(&r, idx::FS_PUT_DAX), vec![AttachKind::Kprobe]);

    let (_tmp3, mut paths) = materialize("6.18");
    paths.tracefs = None;
    let mut facilities = Facilities::all(None);
    facilities.cap_bpf = false;
    facilities.cap_sys_admin = false;
    facilities.euid = 1000;
    let r = resolve::resolve(&paths, facilities).expect("resolution");
    assert!(is_missing(&r, idx::PTE_FAULT_DONE));
    let blockers = r.blockers().join("\n");
    assert!(blockers.contains("CAP_BPF"), "{blockers}");
    assert!(r.report.problems.iter().any(|p| p.contains("tracefs")));
}

#[test]
fn the_collect_script_covers_every_function_point() {
    let script =
        std::fs::read_to_string(fixture_dir("collect.sh")).expect("collect.sh next to fixtures");
    for p in POINTS.iter().filter(|p| {
        matches!(
            p.hook,
            dax_trace_common::probe::Hook::Entry
                | dax_trace_common::probe::Hook::EntryExit
                | dax_trace_common::probe::Hook::Exit
        )
    }) {
        assert!(
            script
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == p.target),
            "{} missing from collect.sh",
            p.target
        );
    }
}

#[test]
fn kernel_6_1_offsets_match_its_sources() {
    let (tmp, r) = resolve_fixture("6.1");
    let c = &r.config;
    assert_eq!(r.report.kernel_release, "6.1.0-50-amd64");
    assert_eq!(c.page_size, 64);
    // 6.1: page.pgmap is the first word of the ZONE_DEVICE struct in the union at 8.
    assert_eq!(c.page_pgmap_off, 8);
    assert!(
        r.report
            .offsets
            .iter()
            .any(|(n, _)| n == "page_pgmap (page.pgmap)")
    );
    assert_eq!(
        (c.page_mapping_off, c.page_index_off, c.page_refcount_off),
        (24, 32, 52)
    );
    assert_eq!(c.fsdax_type, 3, "MEMORY_DEVICE_FS_DAX in 6.1+");
    assert_eq!(c.idle_refcount, 1, "1-based refcounts before 6.15");
    assert_eq!(c.dax_has_holder, 1, "holders arrived in 6.0");
    // KASLR'd vmemmap: the symbol's address from kallsyms.
    assert_eq!(c.vmemmap_base_sym, 0xffffffffaee13d50);
    assert_ne!(c.mf_pfn_off, 0, "ras/memory_failure_event format read");
    let btf = KernelBtf::open(&r_paths(&tmp).btf_dir).expect("btf");
    assert_eq!(
        btf.member_offset("task_struct", "pid").expect("query"),
        Some(2416)
    );
}

fn r_paths(tmp: &tempfile::TempDir) -> KernelPaths {
    KernelPaths {
        btf_dir: tmp.path().join("btf"),
        kallsyms: tmp.path().join("kallsyms"),
        tracefs: Some(tmp.path().join("tracing")),
        release: String::new(),
    }
}

#[test]
fn kernel_6_1_plan_uses_module_btf_and_the_devmap_put() {
    let (_tmp, r) = resolve_fixture("6.1");
    assert_eq!(
        planned_kinds(&r, idx::PUT_DEVMAP_PAGE_REFS),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    assert!(is_missing(&r, idx::FREE_ZONE_DEVICE_FOLIO));
    // Module functions: kprobe only, prototype from the module's split BTF.
    let ext4 = &r.plans[idx::EXT4_BREAK_LAYOUTS as usize];
    assert_eq!(ext4.module.as_deref(), Some("ext4"));
    assert_eq!(ext4.kinds, vec![AttachKind::Kprobe]);
    assert_eq!(ext4.nargs, Some(1));
    let xfs = &r.plans[idx::XFS_BREAK_LAYOUTS as usize];
    assert_eq!(
        xfs.nargs,
        Some(3),
        "xfs_break_layouts(inode, iolock, reason)"
    );
    let dm = &r.plans[idx::DM_DAX_DIRECT_ACCESS as usize];
    assert_eq!(dm.module.as_deref(), Some("dm_mod"));
    assert_eq!(
        dm.nargs,
        Some(6),
        "(dax_dev, pgoff, nr_pages, mode, kaddr, pfn) from 6.1"
    );
    assert_eq!(r.config.ret_index[idx::FS_DAX_GET_BY_BDEV as usize], 4);
    assert_eq!(
        planned_kinds(&r, idx::RAS_MEMORY_FAILURE),
        vec![AttachKind::Tracepoint]
    );
    assert!(matches!(
        status(&r, idx::MF_MEMORY_FAILURE),
        PointStatus::Skipped { .. }
    ));
    for absent in [idx::DAX_BREAK_LAYOUT, idx::FS_DAX_GET, idx::DAX_GET_BY_HOST] {
        assert!(is_missing(&r, absent), "{}", POINTS[absent as usize].target);
    }
}

#[test]
fn kernel_5_10_has_no_holders_and_no_module_btf() {
    let (_tmp, r) = resolve_fixture("5.10");
    let c = &r.config;
    assert_eq!(r.report.kernel_release, "5.10.0-46-amd64");
    // enum memory_type in 5.10: MEMORY_DEVICE_PRIVATE = 1, MEMORY_DEVICE_FS_DAX = 2.
    assert_eq!(c.fsdax_type, 2);
    assert_eq!(c.dax_has_holder, 0, "holders arrived in 6.0");
    assert_eq!(c.idle_refcount, 1);
    // struct block_device starts with bd_dev in 5.10 (bd_start_sect first from 5.11).
    assert_eq!(c.bdev_dev_off, 0);
    assert_eq!(c.page_pgmap_off, 8);
    // fs_dax_get_by_bdev(bdev): one argument, the holder is never read.
    assert_eq!(r.config.ret_index[idx::FS_DAX_GET_BY_BDEV as usize], 1);
    assert_eq!(
        planned_kinds(&r, idx::PUT_DEVMAP_MANAGED_PAGE),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    assert!(
        is_missing(&r, idx::FS_PUT_DAX),
        "fs_put_dax is inline in 5.10"
    );
    assert_eq!(
        planned_kinds(&r, idx::DAX_GET_BY_HOST),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    // No module BTF: module functions are kprobed, arguments from registers,
    // and the prototype is unknown (ret_index falls back to what the handler reads).
    let ext4 = &r.plans[idx::EXT4_BREAK_LAYOUTS as usize];
    assert_eq!(ext4.kinds, vec![AttachKind::Kprobe]);
    assert_eq!(ext4.nargs, None);
    match &ext4.status {
        PointStatus::Planned { notes, .. } => {
            assert!(
                notes.iter().any(|n| n.contains("module ext4 has no BTF")),
                "{notes:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.config.ret_index[idx::DM_DAX_DIRECT_ACCESS as usize], 3);
}

#[test]
fn kernel_6_12_uses_folio_refs_and_still_idles_at_one() {
    let (_tmp, r) = resolve_fixture("6.12");
    let c = &r.config;
    assert_eq!(r.report.kernel_release, "6.12.117+deb13-amd64");
    // 6.12 has free_zone_device_folio too, but FS-DAX puts go through the devmap path.
    assert_eq!(c.idle_refcount, 1);
    assert_eq!(
        planned_kinds(&r, idx::PUT_DEVMAP_FOLIO_REFS),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    assert!(is_missing(&r, idx::FREE_ZONE_DEVICE_FOLIO));
    assert_eq!(r.config.ret_index[idx::PUT_DEVMAP_FOLIO_REFS as usize], 2);
    // page.pgmap still exists (removed in 6.15).
    assert_eq!(c.page_pgmap_off, 8);
    assert_eq!(c.fsdax_type, 3);
    assert_eq!(c.dax_has_holder, 1);
    // block_device in 6.12: bd_start_sect, bd_disk, bd_queue, bd_stats, bd_stamp,
    // bd_read_only/partno/flags, bd_dev at 52.
    assert_eq!((c.bdev_disk_off, c.bdev_dev_off), (16, 52));
    assert_eq!(r.config.ret_index[idx::DM_DAX_DIRECT_ACCESS as usize], 6);
}

#[test]
fn kernel_7_idles_at_zero_and_claims_through_fs_dax_get() {
    let (_tmp, r) = resolve_fixture("7");
    let c = &r.config;
    assert_eq!(r.report.kernel_release, "7.2.13+deb14-amd64");
    assert_eq!(c.idle_refcount, 0, "0-based refcounts from 6.15");
    assert_eq!(
        planned_kinds(&r, idx::FREE_ZONE_DEVICE_FOLIO),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    // folio->pgmap replaces page->pgmap; dev_pagemap lost a field before `type`
    // (104 on 6.1-6.12, 96 here): the reason offsets are never hard-coded.
    assert_eq!(c.page_pgmap_off, 8);
    assert!(
        r.report
            .offsets
            .iter()
            .any(|(n, _)| n == "page_pgmap (folio.pgmap)")
    );
    assert_eq!(c.pgmap_type_off, 96);
    assert_eq!(
        planned_kinds(&r, idx::FS_DAX_GET),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    assert_eq!(r.config.ret_index[idx::FS_DAX_GET as usize], 3);
    assert_eq!(
        planned_kinds(&r, idx::DAX_BREAK_LAYOUT),
        vec![AttachKind::Fentry, AttachKind::Kprobe]
    );
    // ext4 and xfs wait through dax_break_layout: their module functions
    // (kprobes) are not hooked.
    for fs in [idx::EXT4_BREAK_LAYOUTS, idx::XFS_BREAK_LAYOUTS] {
        match status(&r, fs) {
            PointStatus::Skipped { reason } => {
                assert!(reason.contains("dax_break_layout"), "{reason}")
            }
            other => panic!("{}: {other:?}", POINTS[fs as usize].target),
        }
    }
    for gone in [idx::PUT_DEVMAP_FOLIO_REFS, idx::PUT_DEVMAP_PAGE_REFS] {
        assert!(matches!(status(&r, gone), PointStatus::Skipped { .. }));
    }
}

/// The break-layouts programs test S_DAX in `inode.i_flags`. Up to 6.18
/// `struct inode` opens with i_mode (2 bytes), i_opflags (2), i_uid (4),
/// i_gid (4), then i_flags (include/linux/fs.h); the 7.x build recorded
/// here has moved it to offset 4. Only BTF can say.
#[test]
fn i_flags_is_found_where_each_generation_keeps_it() {
    for (kernel, offset) in [
        ("5.10", 12),
        ("6.1", 12),
        ("6.12", 12),
        ("6.18", 12),
        ("7", 4),
    ] {
        let (_tmp, r) = resolve_fixture(kernel);
        assert_eq!(r.config.inode_flags_off, offset, "{kernel}");
    }
}

/// `bpf_get_func_arg` came in 5.17: the 5.10 programs read their arguments
/// with a helper call, the others with the inlined helpers.
#[test]
fn argument_helpers_are_used_from_5_17() {
    for (kernel, has) in [("5.10", 0), ("6.1", 1), ("6.12", 1), ("6.18", 1), ("7", 1)] {
        let (_tmp, r) = resolve_fixture(kernel);
        assert_eq!(r.config.func_arg_helpers, has, "{kernel}");
    }
}
