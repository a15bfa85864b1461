//! Rendering tests over hand-made view data: layout, overlays and edge cases
//! that do not depend on collector state. Screens from fixture events through
//! the collector are in `tui::tests`.
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::draw;
use crate::tui::model::app::{Action, App};
use crate::tui::model::view::{
    BusyPage, Detail, Frame, Header, Histogram, HolderEntry, PagemapRow, Pinner, WaitRow,
};

fn render(snap: &Frame, app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| draw(f, snap, app))
        .expect("drawing on a test backend");
    terminal
}

fn header() -> Header {
    Header {
        source: "replay dma.dxt".into(),
        kernel: "6.1.0-28-amd64".into(),
        probes_attached: 9,
        probes_total: 11,
        events_total: 1234,
        events_per_sec: 56.0,
        drops: 0,
        now_ns: 12_345_000_000,
        ended: None,
        time: crate::human::time::Timeline::new(crate::human::time::TimeBase::Mono, 0, 0),
    }
}

fn pmem(key: u64, busy: u64, waits: u64) -> PagemapRow {
    PagemapRow {
        key,
        device: format!("pmem{key}"),
        kind: "fsdax".into(),
        size_bytes: 1 << 30,
        holder: "ext4".into(),
        claims: 2,
        releases: 1,
        busy_pages: busy,
        waits,
        wait_p50_ns: (waits > 0).then_some(2_000_000),
        wait_p99_ns: (waits > 0).then_some(9_000_000),
        wait_percentiles_bound: false,
        wait_max_ns: (waits > 0).then_some(12_000_000),
        faults_total: 40,
        faults_per_sec: 4.0,
        stuck_waits: 0,
        orphaned_pages: 0,
        blocked_waits: 0,
    }
}

fn detail() -> Detail {
    Detail {
        title: "pmem0".into(),
        topology: vec!["dm-0 (linear) -> pmem0".into()],
        flushes: Some("12, p50 1.1ms p99 4.0ms max 6.2ms".into()),
        holders: vec![HolderEntry {
            at_ns: 1_000_000_000,
            holder: "ext4".into(),
            action: "claim".into(),
            pid: 300,
            comm: "mount".into(),
        }],
        busy: vec![BusyPage {
            pfn: 0x240000,
            ino: 12,
            pgoff: Some(3),
            age_ns: 1_500_000_000,
            refcount: 2,
            owner: "fio[585]".into(),
            pinner: None,
        }],
        busy_total: 1,
        busy_at_start: Vec::new(),
        busy_at_start_total: 0,
        histogram: Histogram {
            bounds_ns: vec![1_000_000, 10_000_000, 100_000_000],
            counts: vec![0, 3, 1, 0],
        },
        waits: vec![
            WaitRow {
                who: "truncate[77/78]".into(),
                ino: 12,
                waited_ns: 3_042_000_000,
                at_attach: false,
                stuck: true,
                blocked: false,
                uninterruptible: false,
            },
            WaitRow {
                who: "rm[90]".into(),
                ino: 14,
                waited_ns: 1_500_000_000,
                at_attach: false,
                stuck: false,
                blocked: true,
                uninterruptible: true,
            },
            WaitRow {
                who: "punch[77/80]".into(),
                ino: 13,
                waited_ns: 250_000_000,
                at_attach: false,
                stuck: false,
                blocked: false,
                uninterruptible: false,
            },
        ],
        time: crate::human::time::Timeline::default(),
        selected_busy: 0,
        pinner: Some(Pinner {
            pfn: 0x240000,
            who: "fio[585]".into(),
            entry: "pin_user_pages_fast".into(),
            held_ns: 1_600_000_000,
            released: false,
            stack: dax_trace_common::field::StackId(1),
            frames: vec![
                "pin_user_pages_fast".into(),
                "iov_iter_extract_pages".into(),
                "ext4_dio_read_iter [ext4]".into(),
            ],
        }),
    }
}

fn snapshot() -> Frame {
    Frame {
        header: header(),
        rows: vec![pmem(0, 1, 4), pmem(1, 0, 0)],
        detail: Some(detail()),
        log: (0..30)
            .map(|i| format!("[   12.{i:06}] dd[77] busy-page pfn {:#x}", 0x240000 + i))
            .collect(),
    }
}

#[test]
fn empty_state_says_it_waits_for_events() {
    let snap = Frame {
        header: Header {
            source: "live".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let t = render(&snap, &App::default(), 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn main_screen_at_80x24() {
    let t = render(&snapshot(), &App::default(), 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn help_overlay_lists_every_binding() {
    let mut app = App::default();
    app.apply(Action::ToggleHelp);
    let t = render(&snapshot(), &app, 80, 24);
    let text = t.backend().to_string();
    for (keys, _) in crate::tui::run::keys::BINDINGS {
        assert!(text.contains(keys), "help lacks {keys}");
    }
    insta::assert_snapshot!(t.backend());
}

#[test]
fn detail_pane_at_80x24() {
    let mut app = App::default();
    app.apply(Action::ToggleDetail);
    let t = render(&snapshot(), &app, 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn filter_line_while_typing() {
    let mut app = App::default();
    app.apply(Action::StartFilter);
    app.apply(Action::FilterChar('x'));
    let snap = Frame {
        rows: Vec::new(),
        ..snapshot()
    };
    let t = render(&snap, &app, 80, 24);
    let text = t.backend().to_string();
    assert!(text.contains("no pagemap matches the filter"), "{text}");
    assert!(text.contains("filter: x"), "{text}");
}

#[test]
fn tiny_and_huge_terminals_do_not_panic() {
    let mut app = App::default();
    for (w, h) in [(1, 1), (10, 5), (20, 8), (300, 100)] {
        render(&snapshot(), &app, w, h);
        app.apply(Action::ToggleDetail);
        render(&snapshot(), &app, w, h);
        app.apply(Action::ToggleHelp);
        render(&snapshot(), &app, w, h);
    }
}

#[test]
fn scrolling_back_shows_older_log_lines() {
    let mut app = App::default();
    let newest = render(&snapshot(), &app, 80, 24).backend().to_string();
    assert!(newest.contains("12.000029"));
    app.apply(Action::LogOlder);
    app.apply(Action::LogOlder);
    let older = render(&snapshot(), &app, 80, 24).backend().to_string();
    assert!(!older.contains("12.000029"), "{older}");
    assert!(older.contains("events (-10)"), "{older}");
}

#[test]
fn a_page_let_go_while_busy_marks_the_busy_cell_and_the_row() {
    let mut row = pmem(3, 2, 0);
    assert!(!row.alarming());
    assert_eq!(super::columns::cells(&row)[5], "2");
    row.orphaned_pages = 1;
    assert!(row.alarming());
    assert_eq!(super::columns::cells(&row)[5], "2!");
    row.orphaned_pages = 0;
    row.blocked_waits = 1;
    row.waits = 0;
    assert_eq!(super::columns::cells(&row)[6], "0!");
}

#[test]
fn a_blocked_eviction_wait_is_marked_in_the_detail_pane() {
    let mut app = App::default();
    app.apply(Action::ToggleDetail);
    let mut snap = snapshot();
    if let Some(d) = snap.detail.as_mut() {
        d.waits.retain(|w| w.blocked);
    }
    let text = render(&snap, &app, 120, 40).backend().to_string();
    assert!(text.contains("BLOCKED D 1.5s rm[90]"), "{text}");
}
