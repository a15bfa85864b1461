//! Which hooks follow pins on each recorded kernel: before 6.15 the
//! pagemap lookup and the long-term slow path, which ordinary memory's
//! fast gup never reaches; from 6.15 (FS-DAX pages are not devmap) the gup
//! entry points.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use dax_trace::session::probe_report::{AttachKind, PointStatus};
use dax_trace_common::probe::{POINTS, gup_shape, idx};

mod kernel_fixtures;
use kernel_fixtures::{planned_kinds, resolve_fixture, status};

/// The gup entry points (not the lookup hooks), by index.
fn gup_entry_points() -> impl Iterator<Item = u16> {
    (0..POINTS.len() as u16).filter(|&i| gup_shape(i).is_some() && i != idx::GUP_LONGTERM_LOCKED)
}

fn skipped_because(status: &PointStatus) -> Option<&str> {
    match status {
        PointStatus::Skipped { reason } => Some(reason),
        _ => None,
    }
}

#[test]
fn before_6_15_pins_are_followed_without_gup_hooks() {
    for kernel in ["5.10", "6.1", "6.12"] {
        let (_tmp, r) = resolve_fixture(kernel);
        assert_eq!(
            planned_kinds(&r, idx::GET_DEV_PAGEMAP),
            vec![AttachKind::Fentry, AttachKind::Kprobe],
            "{kernel}"
        );
        assert_eq!(
            planned_kinds(&r, idx::GUP_LONGTERM_LOCKED),
            vec![AttachKind::Fentry],
            "{kernel}: a fexit, the refusal needs the arguments"
        );
        assert_eq!(r.config.ret_index[idx::GUP_LONGTERM_LOCKED as usize], 6);
        let mut skipped = 0;
        for i in gup_entry_points() {
            match status(&r, i) {
                PointStatus::Missing { .. } => {}
                other => {
                    let why = skipped_because(other).unwrap_or_else(|| {
                        panic!("{kernel}: {} {other:?}", POINTS[i as usize].target)
                    });
                    assert!(why.contains("get_dev_pagemap"), "{kernel}: {why}");
                    skipped += 1;
                }
            }
        }
        assert!(skipped >= 4, "{kernel}: {skipped} gup entry points skipped");
        // Unpins matter only where puts are not hooked one by one.
        assert!(!matches!(
            status(&r, idx::UNPIN_USER_PAGE),
            PointStatus::Planned { .. }
        ));
    }
}

#[test]
fn from_6_15_the_gup_entry_points_follow_pins() {
    for kernel in ["6.18", "7"] {
        let (_tmp, r) = resolve_fixture(kernel);
        assert_eq!(
            planned_kinds(&r, idx::PIN_USER_PAGES_FAST),
            vec![AttachKind::Fentry],
            "{kernel}"
        );
        for i in [idx::GET_DEV_PAGEMAP, idx::GUP_LONGTERM_LOCKED] {
            let why = skipped_because(status(&r, i))
                .unwrap_or_else(|| panic!("{kernel}: {:?}", status(&r, i)));
            assert!(why.contains("not devmap"), "{kernel}: {why}");
        }
    }
}
