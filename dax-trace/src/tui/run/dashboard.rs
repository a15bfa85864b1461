//! The dashboard core shared by the interactive screen and `--batch`: the
//! model, intake counters, the user's [`App`] state and the current frame.
//! Pure state, no terminal: tests drive it with events and actions.
use tokio::sync::mpsc;

use crate::event::Event;
use crate::session::SessionInfo;
use crate::source::EventBatch;
use crate::stacks::StackTable;
use crate::tui::model::DashboardModel;
use crate::tui::model::app::{Action, App};
use crate::tui::model::view::Frame;
use crate::tui::run::intake::{DRAIN_BUDGET, Drain, Intake};
use crate::tui::ui::frame::{FrameBuilder, arrange};

/// Which clock "now" is on: ages and rates are measured on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The newest event's timestamp (replay: time as the trace saw it).
    Trace,
    /// CLOCK_MONOTONIC now (live: events carry the same clock).
    Monotonic,
}

impl Clock {
    fn now_ns(self, newest_event_ns: u64) -> u64 {
        match self {
            Clock::Trace => newest_event_ns,
            Clock::Monotonic => crate::clock::monotonic_ns().max(newest_event_ns),
        }
    }
}

/// Asks a source how it ended; `None` while it has not said.
type EndNote = Box<dyn FnMut() -> Option<String> + Send>;

pub struct Dashboard<M> {
    model: M,
    info: SessionInfo,
    clock: Clock,
    intake: Intake,
    builder: FrameBuilder,
    app: App,
    /// The last captured state (all rows); frozen while paused.
    captured: Frame,
    /// What is drawn: `captured` arranged for the app state.
    frame: Frame,
    /// Asks the source how it ended, until it has said it.
    end_note: Option<EndNote>,
    /// The stream's kernel stacks, for the owner shown in the detail pane.
    stacks: StackTable,
}

impl<M: DashboardModel> Dashboard<M> {
    pub fn new(model: M, info: SessionInfo, clock: Clock) -> Self {
        Self {
            model,
            info,
            clock,
            intake: Intake::default(),
            builder: FrameBuilder::default(),
            app: App::default(),
            captured: Frame::default(),
            frame: Frame::default(),
            end_note: None,
            stacks: StackTable::new(),
        }
    }

    /// Prints event times in `base` (`top --time`).
    pub fn set_time(&mut self, base: crate::human::time::TimeBase) {
        let offset = self.info.monotonic_to_realtime_ns;
        self.intake.log.set_time(base, offset);
    }

    /// Resolves owner stacks from `stacks` (the source's table).
    pub fn set_stacks(&mut self, stacks: StackTable) {
        self.stacks = stacks;
    }

    /// Once the stream is over, shows what `note` returns (how the source
    /// ended, e.g. "truncated at byte 4096") in the header.
    pub fn set_end_note(&mut self, note: impl FnMut() -> Option<String> + Send + 'static) {
        self.end_note = Some(Box::new(note));
    }

    /// Feeds one event (tests and fixtures).
    pub fn ingest(&mut self, event: &Event) {
        self.intake.ingest(&mut self.model, event);
    }

    /// Takes waiting events from the source, at most [`DRAIN_BUDGET`].
    pub fn drain(&mut self, rx: &mut mpsc::Receiver<EventBatch>) -> Drain {
        self.intake.drain(rx, &mut self.model, DRAIN_BUDGET)
    }

    /// Re-reads the model (unless paused) and re-arranges the frame.
    pub fn refresh(&mut self) {
        let now_ns = self.now_ns();
        if self.intake.closed
            && let Some(note) = self.end_note.as_mut().and_then(|ask| ask())
        {
            self.intake.end_note = Some(note);
            self.end_note = None;
        }
        if !self.app.paused {
            self.captured = self
                .builder
                .capture(&self.model, &self.intake, &self.info, now_ns);
        }
        self.rearrange();
    }

    /// Applies a user action; the frame is re-arranged at once so keys feel
    /// instant, without re-reading the model.
    pub fn apply(&mut self, action: Action) {
        self.app.apply(action);
        self.rearrange();
    }

    fn rearrange(&mut self) {
        let now_ns = self.captured_now_ns();
        self.frame = arrange(&self.captured, &self.model, &mut self.app, now_ns);
        let timeline = self.intake.log.timeline();
        if let Some(d) = self.frame.detail.as_mut() {
            d.time = timeline;
        }
        if let Some(p) = self.frame.detail.as_mut().and_then(|d| d.pinner.as_mut())
            && let Some(stack) = self.stacks.get(p.stack)
        {
            // Function and module: offsets do not fit the pane.
            p.frames = stack
                .frames
                .iter()
                .map(|f| match &f.module {
                    Some(m) => format!("{} [{m}]", f.name()),
                    None => f.name().to_string(),
                })
                .collect();
        }
    }

    fn now_ns(&self) -> u64 {
        self.clock.now_ns(self.intake.newest_ts_ns)
    }

    /// The time the captured snapshot was taken at (frozen while paused).
    fn captured_now_ns(&self) -> u64 {
        self.captured.header.now_ns
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    pub fn intake(&self) -> &Intake {
        &self.intake
    }

    pub fn model(&self) -> &M {
        &self.model
    }
}
