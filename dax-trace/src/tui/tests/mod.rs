//! Every screen from fixture events through the collector, as a user sees it
//! at 80x24: snapshots of the rendered terminal, plus the behaviour behind
//! them (pause, intake budget, batch frames).
mod at_start;
mod owners;
mod waits;
use crate::event::{DaxAddHost, DmAccess, PagemapCreate};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use crate::collector::Collector;
use crate::event::Event;
use crate::session::SourceKind;
use crate::testkit::fleet::Fleet;
use crate::testkit::synthetic;
use crate::tui::model::app::Action;
use crate::tui::run::dashboard::{Clock, Dashboard};
use crate::tui::run::intake::{Drain, Intake};
use crate::tui::ui;
use crate::tui::ui::batch::write_frame;

fn dashboard(events: &[Event]) -> Dashboard<Collector> {
    let mut info = synthetic::session();
    info.source = SourceKind::Replay {
        path: "fixture.dxt".into(),
    };
    let mut dash = Dashboard::new(Collector::default(), info, Clock::Trace);
    for event in events {
        dash.ingest(event);
    }
    dash.refresh();
    dash
}

fn fleet() -> Vec<Event> {
    Fleet {
        devices: 12,
        busy_pages: 24,
        waits: 3,
        faults: 5,
    }
    .events()
}

pub(super) fn screen(dash: &Dashboard<Collector>) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal
        .draw(|f| ui::draw(f, dash.frame(), dash.app()))
        .expect("drawing on a test backend");
    terminal.backend().to_string()
}

#[test]
fn empty_state() {
    let dash = dashboard(&[]);
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn sample_scenario_main_screen() {
    let dash = dashboard(&synthetic::scenario());
    let s = screen(&dash);
    // The xfs held since before the trace and two mount cycles, all
    // released; the last wait is stuck ("!"). ext4 on dm-0 stays mounted.
    assert!(s.contains("pmem0"), "{s}");
    assert!(s.contains("3/3"), "{s}");
    assert!(s.contains("ext4 /mnt/ext4"), "{s}");
    assert!(s.contains("2!"), "{s}");
    assert!(s.contains("drops 2"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn many_pagemaps_sorted_by_busy_pages() {
    let dash = dashboard(&fleet());
    let rows = &dash.frame().rows;
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0].device, "pmem11");
    assert_eq!(rows[0].busy_pages, 24);
    // One refresh after the whole fleet: the rate counts from the first event.
    let events = fleet();
    let span_s = (events[events.len() - 1].ts_ns - events[0].ts_ns) as f64 / 1e9;
    let expected = events.len() as f64 / span_s;
    let rate = dash.frame().header.events_per_sec;
    assert!((rate - expected).abs() < 1.0, "{rate} vs {expected}");
    assert!(rows.windows(2).all(|w| w[0].busy_pages >= w[1].busy_pages));
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn sorting_by_device_then_by_max_wait() {
    let mut dash = dashboard(&fleet());
    while dash.app().sort != crate::tui::model::app::SortColumn::Device {
        dash.apply(Action::CycleSort);
    }
    let names: Vec<&str> = dash
        .frame()
        .rows
        .iter()
        .map(|r| r.device.as_str())
        .collect();
    assert_eq!(&names[..3], ["pmem0", "pmem1", "pmem10"]);
    while dash.app().sort != crate::tui::model::app::SortColumn::MaxWait {
        dash.apply(Action::CycleSort);
    }
    assert_eq!(dash.frame().rows[0].device, "pmem11");
    let s = screen(&dash);
    assert!(s.contains("sort max"), "{s}");
}

#[test]
fn filter_active() {
    let mut dash = dashboard(&fleet());
    dash.apply(Action::StartFilter);
    for c in "pmem1".chars() {
        dash.apply(Action::FilterChar(c));
    }
    dash.apply(Action::FilterAccept);
    let names: Vec<&str> = dash
        .frame()
        .rows
        .iter()
        .map(|r| r.device.as_str())
        .collect();
    assert_eq!(names, ["pmem11", "pmem10", "pmem1"]);
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn help_open() {
    let mut dash = dashboard(&fleet());
    dash.apply(Action::ToggleHelp);
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn detail_of_the_busiest_device() {
    let mut dash = dashboard(&fleet());
    dash.apply(Action::ToggleDetail);
    let detail = dash.frame().detail.as_ref().expect("a device is selected");
    assert_eq!(detail.busy_total, 24);
    // Oldest pinned first.
    assert!(detail.busy.windows(2).all(|w| w[0].age_ns >= w[1].age_ns));
    assert_eq!(detail.holders.len(), 1);
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn detail_follows_the_selection() {
    let mut dash = dashboard(&fleet());
    dash.apply(Action::ToggleDetail);
    dash.apply(Action::Down);
    dash.apply(Action::Down);
    let detail = dash.frame().detail.as_ref().expect("selected");
    assert!(detail.title.starts_with("pmem9"), "{}", detail.title);
    assert_eq!(detail.busy_total, 20);
}

#[test]
fn pause_freezes_the_screen_but_not_intake() {
    let events = fleet();
    let (first, rest) = events.split_at(events.len() / 2);
    let mut dash = dashboard(first);
    dash.apply(Action::TogglePause);
    let frozen = dash.frame().rows.clone();
    for e in rest {
        dash.ingest(e);
    }
    dash.refresh();
    assert_eq!(dash.frame().rows, frozen);
    assert!(screen(&dash).contains("PAUSED"));
    assert_eq!(dash.intake().events_total, events.len() as u64);
    dash.apply(Action::TogglePause);
    dash.refresh();
    assert_ne!(dash.frame().rows, frozen);
    assert_eq!(dash.frame().rows.len(), 12);
}

#[test]
fn intake_takes_whole_batches_until_the_budget_is_reached() {
    let events = fleet();
    let (tx, mut rx) = mpsc::channel(events.len());
    for chunk in events.chunks(30) {
        tx.try_send(chunk.to_vec()).expect("room in the channel");
    }
    drop(tx);
    let mut intake = Intake::default();
    let mut model = Collector::default();
    assert_eq!(intake.drain(&mut rx, &mut model, 100), Drain::MoreWaiting);
    assert_eq!(intake.events_total, 120, "four batches of 30 reach 100");
    while intake.drain(&mut rx, &mut model, 100) != Drain::Closed {}
    assert_eq!(model.totals().events, events.len() as u64);
}

#[test]
fn intake_is_bounded_per_call_and_loses_nothing() {
    let events = fleet();
    // One event per batch: the budget then counts exactly.
    let (tx, mut rx) = mpsc::channel(events.len());
    for e in &events {
        tx.try_send(vec![e.clone()]).expect("room in the channel");
    }
    drop(tx);
    let mut intake = Intake::default();
    let mut model = Collector::default();
    let budget = 100;
    let mut calls = 0;
    loop {
        calls += 1;
        match intake.drain(&mut rx, &mut model, budget) {
            Drain::MoreWaiting => assert_eq!(intake.events_total, calls * budget as u64),
            Drain::Empty => panic!("a closed channel is never just empty"),
            Drain::Closed => break,
        }
    }
    assert_eq!(intake.events_total, events.len() as u64);
    assert_eq!(
        calls,
        (events.len() as u64).div_ceil(budget as u64)
            + u64::from(events.len().is_multiple_of(budget))
    );
    assert_eq!(model.totals().events, events.len() as u64);
}

#[test]
fn fault_rates_come_from_the_trace_clock() {
    let events = fleet();
    let mut dash = dashboard(&events[..events.len() - 1]);
    assert!(dash.frame().rows.iter().all(|r| r.faults_per_sec == 0.0));
    let last = events.last().cloned().expect("events");
    let mut later = last.clone();
    later.ts_ns += 1_000_000_000;
    dash.ingest(&last);
    dash.ingest(&later);
    dash.refresh();
    // No new faults in that second: every rate stays 0 but the clock moved.
    assert!(dash.frame().rows.iter().all(|r| r.faults_per_sec == 0.0));
    assert!(dash.frame().header.now_ns > events[0].ts_ns);
}

#[test]
fn batch_frame_lists_every_row() {
    let dash = dashboard(&fleet());
    let mut out = Vec::new();
    write_frame(&mut out, dash.frame()).expect("writing to memory");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("pmem") && l.contains("fsdax"))
            .count(),
        12
    );
    insta::assert_snapshot!(text);
}

fn at(ts_ns: u64, comm: &str, body: crate::event::EventBody) -> Event {
    Event {
        ts_ns,
        cpu: 0,
        pid: 77,
        tid: 77,
        comm: comm.into(),
        point: 0,
        body,
    }
}

#[test]
fn a_pagemap_no_device_uses_yet_has_its_own_row_and_detail() {
    use crate::event::EventBody;
    let pgmap = 0xffff_8880_0420_0000;
    let mut dash = dashboard(&[at(
        1_000,
        "modprobe",
        EventBody::PagemapCreate(PagemapCreate {
            pgmap,
            memory_type: 3,
            fs_dax: true.into(),
            pfn_start: 0x40000,
            pfn_end: 0x60000,
            nr_range: 1,
            owner: 0,
            ret: 0,
            ..Default::default()
        }),
    )]);
    let row = &dash.frame().rows[0];
    assert_eq!(row.device, "pgmap~4200000");
    assert_eq!((row.kind.as_str(), row.size_bytes), ("fsdax", 512 << 20));
    dash.apply(Action::ToggleDetail);
    let detail = dash
        .frame()
        .detail
        .as_ref()
        .expect("the pagemap is selected");
    assert_eq!(
        detail.topology,
        ["pagemap ~4200000 pfn 0x40000-0x60000: fs-dax, 512 MiB"]
    );
}

#[test]
fn dm_topology_shows_in_both_devices_details() {
    use crate::event::EventBody;
    let (dm, pmem) = (0xffff_8880_0000_1000, 0xffff_8880_0000_2000);
    let host = |ts, dax_dev, disk: &str| {
        at(
            ts,
            "dmsetup",
            EventBody::DaxAddHost(DaxAddHost {
                dax_dev,
                disk: disk.into(),
            }),
        )
    };
    let mut dash = dashboard(&[
        host(1_000, pmem, "pmem0"),
        host(2_000, dm, "dm-0"),
        at(
            3_000,
            "dd",
            EventBody::DmAccess(DmAccess {
                dm_dax_dev: dm,
                member_dax_dev: pmem,
                dm_pgoff: 0,
                member_pgoff: 0,
                nr_pages: 1,
            }),
        ),
    ]);
    let kinds: Vec<(&str, &str)> = dash
        .frame()
        .rows
        .iter()
        .map(|r| (r.device.as_str(), r.kind.as_str()))
        .collect();
    assert_eq!(kinds, [("dm-0", "dm"), ("pmem0", "dax")]);
    dash.apply(Action::ToggleDetail);
    let detail = dash.frame().detail.as_ref().expect("dm-0 is selected");
    assert_eq!(detail.topology, ["this -> pmem0"]);
    dash.apply(Action::Down);
    let detail = dash.frame().detail.as_ref().expect("pmem0 is selected");
    assert_eq!(detail.topology, ["dm-0 -> this"]);
}
