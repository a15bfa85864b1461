//! Whether DAX is in effect on a device's mount (`state-dax-mode`): kept
//! with the mount it describes, so report and top read it beside the mount
//! point, and per mount point for the whole trace, so `check --expect-dax`
//! can judge a mount the trace saw come and go.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Collector;
use crate::daxmode::DaxMode;
use crate::event::{Dev, Event, StateDaxMode};

/// Mount points remembered at most (a trace that mounts more keeps the first).
const MAX_MOUNT_POINTS: usize = 256;

/// The last answer told for one mount point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaxAnswer {
    pub dev: Dev,
    pub mode: DaxMode,
    /// When it was told.
    pub ts_ns: u64,
}

/// The last answer per mount point over the whole trace.
#[derive(Clone, Debug, Default)]
pub(super) struct DaxAnswers(BTreeMap<String, DaxAnswer>);

impl Collector {
    /// Attaches the answer to the mount of its device (an answer for a
    /// device without a mount, whose `state-mount` was lost, stays only in
    /// the per-mount-point record).
    pub(super) fn on_state_dax_mode(&mut self, ev: &Event, s: &StateDaxMode) {
        let mode = DaxMode::of_state(s);
        let at = s.mount_point.as_str().to_string();
        if self.dax_answers.0.len() < MAX_MOUNT_POINTS || self.dax_answers.0.contains_key(&at) {
            let answer = DaxAnswer {
                dev: s.dev,
                mode,
                ts_ns: ev.ts_ns,
            };
            self.dax_answers.0.insert(at, answer);
        }
        let Some(id) = self.by_bdev.get(&s.dev).copied() else {
            return;
        };
        if let Some(m) = self.devices.get_mut(&id).and_then(|d| d.mount.as_mut()) {
            m.dax_mode = Some(mode);
        }
    }

    /// The last answer told for each mount point, in path order.
    pub fn dax_answers(&self) -> impl Iterator<Item = (&str, &DaxAnswer)> {
        self.dax_answers.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}
