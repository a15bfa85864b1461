//! The owners of busy pages in `top`: the owner column, the selected page's
//! owner and kernel stack in the detail pane, and the batch line, from
//! fixture events through the collector.
use super::screen;
use crate::collector::Collector;
use crate::session::SourceKind;
use crate::testkit::synthetic;
use crate::tui::model::app::Action;
use crate::tui::run::dashboard::{Clock, Dashboard};
use crate::tui::ui::batch::write_frame;

#[test]
fn detail_names_who_pins_the_selected_busy_page_with_its_stack() {
    use crate::stacks::{StackFrame, StackRecord, StackTable};
    use crate::testkit::fixture::{PGMAP0, PMEM0, Script};
    let mut s = Script {
        ts_ns: 10_000_000_000,
        ..Script::default()
    };
    s.pagemap(PGMAP0, 0x40000, 0x60000)
        .by(700, "truncate")
        .busy(PGMAP0, 0x40812, PMEM0, 12);
    let since = s.ts_ns - 2_000_000_000;
    s.by(585, "fio").pin_owner(
        PGMAP0,
        0x40812,
        dax_trace_common::probe::idx::PIN_USER_PAGES_FAST,
        since,
        5,
    );
    s.by(700, "truncate").busy(PGMAP0, 0x40900, PMEM0, 13);
    s.busy(PGMAP0, 0x40a00, PMEM0, 14);
    let since = s.ts_ns - 1_000_000;
    s.by(586, "dd").pin_owner(
        PGMAP0,
        0x40a00,
        dax_trace_common::probe::idx::GET_USER_PAGES_FAST,
        since,
        0,
    );
    let stacks = StackTable::new();
    stacks.insert(StackRecord {
        id: 5,
        frames: [
            ("pin_user_pages_fast", None),
            ("iov_iter_extract_pages", None),
            ("ext4_dio_read_iter", Some("ext4")),
        ]
        .iter()
        .map(|(sym, module)| StackFrame {
            addr: 0xffff_ffff_8100_0000,
            symbol: Some(sym.to_string()),
            offset: 0x2d,
            module: module.map(str::to_string),
        })
        .collect(),
    });
    let mut info = synthetic::session();
    info.source = SourceKind::Replay {
        path: "fixture.dxt".into(),
    };
    let mut dash = Dashboard::new(Collector::default(), info, Clock::Trace);
    dash.set_stacks(stacks);
    for e in s.build() {
        dash.ingest(&e);
    }
    dash.refresh();
    dash.apply(Action::ToggleDetail);
    let detail = dash.frame().detail.as_ref().expect("selected");
    let owners: Vec<&str> = detail.busy.iter().map(|b| b.owner.as_str()).collect();
    assert_eq!(owners, ["fio[585]", "?", "dd[586]"]);
    let p = detail
        .pinner
        .as_ref()
        .expect("the oldest page has an owner");
    assert_eq!((p.pfn, p.who.as_str()), (0x40812, "fio[585]"));
    assert_eq!(p.held_ns, 2_004_000_000);
    assert_eq!(p.frames[2], "ext4_dio_read_iter [ext4]");
    let shown = screen(&dash);
    assert!(shown.contains("pinned by fio[585]"), "{shown}");
    insta::assert_snapshot!(shown);
    // `]` twice: the third page, whose owner has no stack recorded.
    dash.apply(Action::BusyDown);
    assert_eq!(
        dash.frame().detail.as_ref().and_then(|d| d.pinner.as_ref()),
        None
    );
    dash.apply(Action::BusyDown);
    let detail = dash.frame().detail.as_ref().expect("selected");
    assert_eq!(detail.selected_busy, 2);
    let p = detail.pinner.as_ref().expect("dd holds the third page");
    assert_eq!(
        (p.who.as_str(), p.entry.as_str()),
        ("dd[586]", "get_user_pages_fast")
    );
    assert!(p.frames.is_empty());
    let shown = screen(&dash);
    assert!(shown.contains("pinned by dd[586]"), "{shown}");
    assert!(shown.contains(" via get_user_pages_fast"), "{shown}");
    // Past the end stays on the last page; `[` goes back.
    dash.apply(Action::BusyDown);
    dash.apply(Action::BusyUp);
    dash.apply(Action::BusyUp);
    dash.apply(Action::BusyUp);
    let p = dash.frame().detail.as_ref().and_then(|d| d.pinner.as_ref());
    assert_eq!(p.map(|p| p.who.as_str()), Some("fio[585]"));
    let mut out = Vec::new();
    write_frame(&mut out, dash.frame()).expect("writing to memory");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("oldest busy page pfn 0x40812 ino 12 pinned for 4.0ms by fio[585]\n  stack: pin_user_pages_fast <- iov_iter_extract_pages <- ext4_dio_read_iter [ext4]"),
        "{text}"
    );
}

#[test]
fn an_owner_that_released_a_page_still_busy_is_shown_in_parentheses() {
    use crate::testkit::fixture::{PGMAP0, PMEM0, Script};
    let mut s = Script {
        ts_ns: 10_000_000_000,
        ..Script::default()
    };
    s.pagemap(PGMAP0, 0x40000, 0x60000)
        .by(700, "truncate")
        .busy(PGMAP0, 0x40b00, PMEM0, 15);
    let since = s.ts_ns - 3_000_000;
    s.by(587, "cp")
        .pin_owner(
            PGMAP0,
            0x40b00,
            dax_trace_common::probe::idx::GET_USER_PAGES_FAST,
            since,
            0,
        )
        .by(0, "swapper/0")
        .pin_release(0x40b00, 587, since, false);
    let mut info = synthetic::session();
    info.source = SourceKind::Replay {
        path: "fixture.dxt".into(),
    };
    let mut dash = Dashboard::new(Collector::default(), info, Clock::Trace);
    for e in s.build() {
        dash.ingest(&e);
    }
    dash.refresh();
    dash.apply(Action::ToggleDetail);
    let detail = dash.frame().detail.as_ref().expect("selected");
    assert_eq!(detail.busy[0].owner, "(cp[587])");
    let p = detail.pinner.as_ref().expect("the last owner");
    assert!(p.released);
    // It held the page from `since` to its release, two events later.
    assert_eq!(p.held_ns, 5_000_000);
    let shown = screen(&dash);
    assert!(shown.contains("pfn 0x40b00 for 5.0ms, releas"), "{shown}");
    let mut out = Vec::new();
    write_frame(&mut out, dash.frame()).expect("writing to memory");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("pinned for 2.0ms (last held by cp[587])"),
        "{text}"
    );
}
