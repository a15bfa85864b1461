//! Turns model state, intake counters and the user's [`App`] state into the
//! [`Frame`] (the view data one screen draws). Called once per refresh, not
//! per event.
use crate::session::{SessionInfo, SourceKind};
use crate::tui::model::DashboardModel;
use crate::tui::model::app::App;
use crate::tui::model::rate::{KeyedRates, RateMeter};
use crate::tui::model::view::{Frame, Header};
use crate::tui::run::intake::Intake;

/// Rate state carried from one refresh to the next.
#[derive(Debug, Default)]
pub struct FrameBuilder {
    faults: KeyedRates,
    events: RateMeter,
}

impl FrameBuilder {
    /// Reads the model at `now_ns` (the events' clock): every row, unfiltered
    /// and unsorted, with rates filled in, and header and log. The selection
    /// and detail are settled by [`arrange`].
    pub fn capture<M: DashboardModel>(
        &mut self,
        model: &M,
        intake: &Intake,
        info: &SessionInfo,
        now_ns: u64,
    ) -> Frame {
        let mut rows = model.rows(now_ns);
        let counts: Vec<(u64, u64)> = rows.iter().map(|r| (r.key, r.faults_total)).collect();
        for (row, rate) in rows.iter_mut().zip(self.faults.update(now_ns, &counts)) {
            row.faults_per_sec = rate;
        }
        if self.events.is_empty()
            && let Some(first) = intake.first_ts_ns
        {
            // Count from the first event, so the very first frame (all of a
            // fast replay) has a rate too.
            self.events.record(first, 0);
        }
        self.events.record(now_ns, intake.events_total);
        Frame {
            header: header(info, intake, self.events.per_sec(), now_ns),
            rows,
            detail: None,
            log: intake.log.lines().cloned().collect(),
        }
    }
}

/// The frame to draw from a captured snapshot: rows filtered and sorted as
/// `app` says, selection settled, detail of the selected row from `model`
/// with its selected busy page's owner.
pub fn arrange<M: DashboardModel>(
    captured: &Frame,
    model: &M,
    app: &mut App,
    now_ns: u64,
) -> Frame {
    let rows = app.arrange(captured.rows.clone());
    let mut detail = app.selected_key.and_then(|key| model.detail(key, now_ns));
    if let Some(d) = detail.as_mut() {
        let pfns: Vec<u64> = d.busy.iter().map(|b| b.pfn).collect();
        d.selected_busy = app.settle_busy(&pfns);
        d.pinner = d.busy.get(d.selected_busy).and_then(|b| b.pinner.clone());
    }
    Frame {
        header: captured.header.clone(),
        rows,
        detail,
        log: captured.log.clone(),
    }
}

fn header(info: &SessionInfo, intake: &Intake, events_per_sec: f64, now_ns: u64) -> Header {
    let (probes_attached, probes_total) = info.probes.attached_count();
    Header {
        source: match &info.source {
            SourceKind::Live => "live".to_string(),
            SourceKind::Replay { path } => format!("replay {path}"),
        },
        kernel: info.kernel_release.clone(),
        probes_attached,
        probes_total,
        events_total: intake.events_total,
        events_per_sec,
        drops: intake.drops(),
        now_ns,
        time: intake.log.timeline(),
        ended: intake
            .closed
            .then(|| match (&info.source, intake.end_note.as_deref()) {
                (SourceKind::Live, None) => "capture stopped".to_string(),
                (SourceKind::Live, Some(note)) => format!("capture stopped: {note}"),
                (SourceKind::Replay { .. }, None | Some("complete")) => "end of trace".to_string(),
                (SourceKind::Replay { .. }, Some(note)) => format!("end of trace: {note}"),
            }),
    }
}
