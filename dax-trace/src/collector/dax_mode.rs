//! Whether DAX is in effect on a device's mount (`state-dax-mode`): kept
//! with the mount it describes, so report, top and `check --expect-dax`
//! read it beside the mount point.
use super::Collector;
use crate::daxmode::DaxMode;
use crate::event::{Event, StateDaxMode};

impl Collector {
    /// Attaches the answer to the mount of its device; an answer for a
    /// device without a mount (its `state-mount` was lost) is dropped.
    pub(super) fn on_state_dax_mode(&mut self, _ev: &Event, s: &StateDaxMode) {
        let Some(id) = self.by_bdev.get(&s.dev).copied() else {
            return;
        };
        if let Some(m) = self.devices.get_mut(&id).and_then(|d| d.mount.as_mut()) {
            m.dax_mode = Some(DaxMode::of_state(s));
        }
    }
}
