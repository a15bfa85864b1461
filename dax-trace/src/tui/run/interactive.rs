//! The interactive loop: drain events, redraw at the refresh rate, react to
//! keys at once. Runs on a plain thread; sources run on their tokio runtime.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent};
use tokio::sync::mpsc;

use crate::source::EventBatch;
use crate::tui::TuiError;
use crate::tui::model::DashboardModel;
use crate::tui::run::dashboard::Dashboard;
use crate::tui::run::intake::Drain;
use crate::tui::run::keys::action_for;
use crate::tui::run::terminal::TerminalGuard;
use crate::tui::ui;

/// Longest time spent waiting for a key before events are drained again.
const INPUT_POLL: Duration = Duration::from_millis(50);

/// Runs `dash` on the terminal, fed from `events`, until the user quits or
/// `stop` is set (SIGINT, SIGTERM). The terminal is restored on every way out.
pub fn run<M: DashboardModel>(
    mut dash: Dashboard<M>,
    mut events: mpsc::Receiver<EventBatch>,
    refresh: Duration,
    stop: &Arc<AtomicBool>,
) -> Result<(), TuiError> {
    let mut guard = TerminalGuard::enter().map_err(TuiError::Terminal)?;
    let mut next_refresh = Instant::now();
    let mut redraw = true;
    loop {
        if stop.load(Ordering::Relaxed) || dash.app().quit {
            return Ok(());
        }
        let drained = if dash.intake().closed {
            Drain::Closed
        } else {
            dash.drain(&mut events)
        };
        let now = Instant::now();
        if now >= next_refresh {
            dash.refresh();
            next_refresh = now + refresh;
            redraw = true;
        }
        if redraw {
            guard
                .terminal()
                .draw(|f| ui::draw(f, dash.frame(), dash.app()))
                .map_err(TuiError::Terminal)?;
            redraw = false;
        }
        // With events still waiting only peek at the keyboard.
        let wait = if drained == Drain::MoreWaiting {
            Duration::ZERO
        } else {
            next_refresh
                .saturating_duration_since(Instant::now())
                .min(INPUT_POLL)
        };
        if event::poll(wait).map_err(TuiError::Terminal)? {
            match event::read().map_err(TuiError::Terminal)? {
                TermEvent::Key(key) => {
                    if let Some(action) = action_for(dash.app(), key) {
                        dash.apply(action);
                        redraw = true;
                    }
                }
                TermEvent::Resize(..) => redraw = true,
                _ => {}
            }
        }
    }
}
