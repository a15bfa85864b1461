//! The refresh benchmark (not a test): CPU time the dashboard spends per
//! refresh (read the collector, arrange, draw a full frame) with thousands of
//! busy pages. `cargo run --release --example top_refresh_bench` prints it and
//! writes it to a file; the lead's `xtask bench` can call [`refresh_cost`].
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::fleet::Fleet;
use super::synthetic;
use crate::collector::Collector;
use crate::tui::model::app::Action;
use crate::tui::run::dashboard::{Clock, Dashboard};
use crate::tui::ui;

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RefreshCost {
    pub devices: u32,
    pub busy_pages: u64,
    pub refreshes: u32,
    /// Process CPU time per refresh (model read + arrange + draw).
    pub cpu_per_refresh: Duration,
    /// The share of one core this costs at one refresh per `interval`.
    pub interval: Duration,
}

impl RefreshCost {
    pub fn core_share(&self) -> f64 {
        self.cpu_per_refresh.as_secs_f64() / self.interval.as_secs_f64()
    }
}

impl std::fmt::Display for RefreshCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "top refresh: {} devices, {} busy pages, {} refreshes: {:.1} us CPU per refresh, \
             {:.3}% of a core at one refresh per {:.1} s",
            self.devices,
            self.busy_pages,
            self.refreshes,
            self.cpu_per_refresh.as_secs_f64() * 1e6,
            self.core_share() * 100.0,
            self.interval.as_secs_f64()
        )
    }
}

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Builds a fleet of `devices` with up to `max_busy` busy pages each, then
/// times `refreshes` refreshes drawn on a `width`x`height` screen with the
/// detail pane open (the costliest screen: it lists busy pages).
pub fn refresh_cost(
    devices: u32,
    max_busy: u64,
    refreshes: u32,
    (width, height): (u16, u16),
) -> RefreshCost {
    let events = Fleet {
        devices,
        busy_pages: max_busy,
        waits: 20,
        faults: 100,
    }
    .events();
    let mut dash = Dashboard::new(Collector::default(), synthetic::session(), Clock::Trace);
    for event in &events {
        dash.ingest(event);
    }
    dash.apply(Action::ToggleDetail);
    // A test backend cannot fail (its error type is Infallible).
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    dash.refresh();
    let busy_pages = dash.frame().rows.iter().map(|r| r.busy_pages).sum();
    let start = process_cpu();
    for _ in 0..refreshes {
        dash.refresh();
        let Ok(_) = terminal.draw(|f| ui::draw(f, dash.frame(), dash.app()));
    }
    let spent = process_cpu().saturating_sub(start);
    RefreshCost {
        devices,
        busy_pages,
        refreshes,
        cpu_per_refresh: spent / refreshes.max(1),
        interval: Duration::from_secs(1),
    }
}
