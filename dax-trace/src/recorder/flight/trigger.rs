//! What makes the flight recorder write a dump: events that show a hazard
//! (a lost wakeup, a page let go under DMA, a refused long-term pin, a
//! memory failure) and a SIGUSR1 from outside; and the hold-off that keeps
//! a burst of them from writing a file each.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::event::{Event, EventBody};

/// Why a dump was written. The names are those of the event kinds (and
/// `sigusr1`, `exit`), as `--trigger` takes them and dumps record them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// A thread asleep on a page that is idle: a lost wakeup.
    StuckWait,
    /// A page let go (evicted, truncated) while DMA still held it.
    PageOrphaned,
    /// A long-term pin the kernel refused on FS-DAX memory.
    RefusedPin,
    /// The kernel handled a memory failure (poison) on a DAX page.
    MemoryFailure,
    /// SIGUSR1: a dump asked for from outside (always armed).
    Signal,
    /// The recorder stopped and `--dump-on-exit` asked for a last dump.
    Exit,
}

/// The event triggers, in the order `--trigger` lists them.
pub const EVENT_TRIGGERS: [Trigger; 4] = [
    Trigger::StuckWait,
    Trigger::PageOrphaned,
    Trigger::RefusedPin,
    Trigger::MemoryFailure,
];

impl Trigger {
    /// The name in `--trigger`, file headers and messages.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::StuckWait => "stuck-wait",
            Trigger::PageOrphaned => "page-orphaned",
            Trigger::RefusedPin => "refused-pin",
            Trigger::MemoryFailure => "memory-failure",
            Trigger::Signal => "sigusr1",
            Trigger::Exit => "exit",
        }
    }

    /// The trigger an event is, if any (whether armed or not).
    pub fn of(event: &Event) -> Option<Trigger> {
        match event.body {
            EventBody::StuckWait(_) => Some(Trigger::StuckWait),
            EventBody::PageOrphaned(_) => Some(Trigger::PageOrphaned),
            EventBody::RefusedPin(_) => Some(Trigger::RefusedPin),
            EventBody::MemoryFailure(_) => Some(Trigger::MemoryFailure),
            _ => None,
        }
    }
}

/// Why a `--trigger` list is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TriggerError {
    #[error("unknown trigger {0:?} (give {names}, all or none)", names = event_trigger_names())]
    Unknown(String),
    #[error("no trigger given (give {names}, all or none)", names = event_trigger_names())]
    Empty,
}

fn event_trigger_names() -> String {
    EVENT_TRIGGERS.map(Trigger::name).join(", ")
}

/// The event triggers armed (SIGUSR1 always is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Armed(Vec<Trigger>);

impl Default for Armed {
    /// Every event trigger.
    fn default() -> Self {
        Self(EVENT_TRIGGERS.to_vec())
    }
}

impl Armed {
    /// Parses `stuck-wait,refused-pin`, `all` or `none` (SIGUSR1 only).
    pub fn parse(list: &str) -> Result<Self, TriggerError> {
        let mut armed = Vec::new();
        let names: Vec<&str> = list.split(',').map(str::trim).collect();
        if names.iter().all(|n| n.is_empty()) {
            return Err(TriggerError::Empty);
        }
        for name in names {
            match name {
                "all" => armed.extend(EVENT_TRIGGERS),
                "none" => {}
                _ => armed.push(
                    EVENT_TRIGGERS
                        .into_iter()
                        .find(|t| t.name() == name)
                        .ok_or_else(|| TriggerError::Unknown(name.to_string()))?,
                ),
            }
        }
        armed.sort();
        armed.dedup();
        Ok(Self(armed))
    }

    /// The armed trigger `event` is, if any.
    pub fn matches(&self, event: &Event) -> Option<Trigger> {
        Trigger::of(event).filter(|t| self.0.contains(t))
    }

    /// The names, comma-separated (`none` when only SIGUSR1 is armed).
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none".to_string();
        }
        self.0
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// At most one dump per trigger kind per `hold_off`: a burst of stuck waits
/// (one per waiting thread, every scan) writes one file, not hundreds.
#[derive(Debug)]
pub struct HoldOff {
    hold_off: Duration,
    /// When each kind last opened a dump.
    last: HashMap<Trigger, Instant>,
    /// Triggers ignored because of the hold-off, per kind.
    held: HashMap<Trigger, u64>,
}

impl HoldOff {
    pub fn new(hold_off: Duration) -> Self {
        Self {
            hold_off,
            last: HashMap::new(),
            held: HashMap::new(),
        }
    }

    /// True when `trigger` at `now` may open a dump (and notes that it
    /// did); false while its kind is held off (and counts it).
    pub fn admit(&mut self, trigger: Trigger, now: Instant) -> bool {
        let held = self
            .last
            .get(&trigger)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.hold_off);
        if held {
            *self.held.entry(trigger).or_default() += 1;
            return false;
        }
        self.last.insert(trigger, now);
        true
    }

    /// Triggers ignored so far because of the hold-off.
    pub fn held(&self) -> u64 {
        self.held.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{RefusedPin, StuckWait};
    use crate::testkit::synthetic;

    fn event(body: EventBody) -> Event {
        Event {
            ts_ns: 1,
            cpu: 0,
            pid: 1,
            tid: 1,
            comm: "t".into(),
            point: 0,
            body,
        }
    }

    #[test]
    fn the_hazard_kinds_trigger_and_nothing_else_does() {
        let stuck = event(EventBody::StuckWait(StuckWait::default()));
        let refused = event(EventBody::RefusedPin(RefusedPin::default()));
        let all = Armed::default();
        assert_eq!(all.matches(&stuck), Some(Trigger::StuckWait));
        assert_eq!(all.matches(&refused), Some(Trigger::RefusedPin));
        let ordinary = synthetic::page_storm(200)
            .filter(|e| all.matches(e).is_some())
            .count();
        assert_eq!(ordinary, 0, "faults, busy pages and idles are no trigger");
        let only_stuck = Armed::parse("stuck-wait").expect("parses");
        assert_eq!(only_stuck.matches(&refused), None);
        assert_eq!(only_stuck.matches(&stuck), Some(Trigger::StuckWait));
        let none = Armed::parse("none").expect("parses");
        assert_eq!(none.matches(&stuck), None);
        assert_eq!(none.describe(), "none");
    }

    #[test]
    fn trigger_lists_parse_and_bad_names_are_refused() {
        assert_eq!(
            Armed::parse(" refused-pin , stuck-wait,stuck-wait").expect("parses"),
            Armed(vec![Trigger::StuckWait, Trigger::RefusedPin])
        );
        assert_eq!(Armed::parse("all").expect("parses"), Armed::default());
        assert_eq!(
            Armed::default().describe(),
            "stuck-wait,page-orphaned,refused-pin,memory-failure"
        );
        let err = Armed::parse("stuck-wait,stuck").expect_err("unknown");
        assert_eq!(err, TriggerError::Unknown("stuck".into()));
        assert!(err.to_string().contains("page-orphaned"), "{err}");
        assert_eq!(Armed::parse(" , "), Err(TriggerError::Empty));
        // The names are the event kinds' own.
        for t in EVENT_TRIGGERS {
            assert!(
                dax_trace_common::kind::ALL
                    .iter()
                    .any(|(_, n)| *n == t.name()),
                "{} is not a kind name",
                t.name()
            );
        }
    }

    #[test]
    fn a_burst_of_one_kind_opens_one_dump_per_hold_off() {
        let start = Instant::now();
        let mut h = HoldOff::new(Duration::from_secs(10));
        let at = |ms| start + Duration::from_millis(ms);
        let admitted = (0..200)
            .filter(|i| h.admit(Trigger::StuckWait, at(i * 10)))
            .count();
        assert_eq!(admitted, 1, "200 stuck waits in 2 s");
        assert_eq!(h.held(), 199);
        // Another kind is not held by it.
        assert!(h.admit(Trigger::Signal, at(500)));
        // After the hold-off the kind may dump again.
        assert!(!h.admit(Trigger::StuckWait, at(9_999)));
        assert!(h.admit(Trigger::StuckWait, at(10_000)));
    }
}
