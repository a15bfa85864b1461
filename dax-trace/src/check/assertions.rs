//! The assertions, each turning collector state into an [`Assertion`].
use super::CheckOptions;
use super::verdict::{Assertion, Status};
use crate::collector::pins_view::{ownership_phrase, stack_summary};
use crate::collector::{Collector, DeviceIdentity, Sampled};
use crate::human::duration;
use crate::stacks::StackTable;
use dax_trace_common::Loss;
use dax_trace_common::probe::{Family, POINTS};

/// Every assertion, in the order they are reported.
pub(super) fn all(
    c: &Collector,
    opts: &CheckOptions,
    stacks: Option<&StackTable>,
) -> Vec<Assertion> {
    let clock = Clock::of(c, opts, stacks);
    vec![
        claims_released(c, opts, &clock),
        no_release_without_claim(c, opts, &clock),
        no_double_claim(c, opts, &clock),
        max_wait(c, opts, &clock),
        no_stuck_waits(c, opts, &clock),
        super::orphans::no_orphaned_busy_pages(c, opts, &clock),
        no_dropped_events(c),
    ]
}

/// Prints event times in the chosen base (`--time`; by default relative
/// to the first event of the trace) (and
/// resolves the stacks that name page owners).
pub(super) struct Clock<'a> {
    origin: u64,
    timeline: crate::human::time::Timeline,
    pub(super) stacks: Option<&'a StackTable>,
}

impl<'a> Clock<'a> {
    fn of(c: &Collector, opts: &CheckOptions, stacks: Option<&'a StackTable>) -> Self {
        Self {
            origin: c.totals().first_ts_ns.unwrap_or(0),
            timeline: opts.timeline(c),
            stacks,
        }
    }

    pub(super) fn at(&self, ts_ns: u64) -> String {
        self.timeline.at(ts_ns)
    }

    /// `; stack a <- b <- c ... [ext4]` when the trace has the stack.
    pub(super) fn stack(&self, stack: dax_trace_common::field::StackId) -> String {
        stack_summary(stack, self.stacks)
            .map(|s| format!("; stack {s}"))
            .unwrap_or_default()
    }
}

fn holder(h: u64) -> String {
    if h == 0 {
        "no holder".to_string()
    } else {
        format!("holder {h:#x}")
    }
}

pub(super) fn label(identity: Option<&DeviceIdentity>, dev: crate::event::Dev) -> String {
    match identity {
        Some(i) => i.label(),
        None if dev.0 != 0 => dev.to_string(),
        None => "unknown device".to_string(),
    }
}

pub(super) fn assertion(id: &str, title: &str, details: Vec<String>) -> Assertion {
    Assertion {
        id: id.to_string(),
        title: title.to_string(),
        status: if details.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        },
        details,
    }
}

/// Notes how many violations the collector counted but did not keep.
pub(super) fn note_unlisted<T>(details: &mut Vec<String>, sampled: &Sampled<T>, filtered: bool) {
    let unlisted = sampled.count.saturating_sub(sampled.examples.len() as u64);
    if unlisted > 0 {
        let qualifier = if filtered { "up to " } else { "" };
        details.push(format!("... and {qualifier}{unlisted} more not listed"));
    }
}

fn claims_released(c: &Collector, opts: &CheckOptions, clock: &Clock<'_>) -> Assertion {
    let details = c
        .leaks()
        .into_iter()
        .filter(|l| opts.selects(Some(&l.identity), Some(l.claim.bdev)))
        .map(|l| {
            format!(
                "{}: claim by {} with {} via {} at {} never released{}",
                l.identity.label(),
                l.claim.by,
                holder(l.claim.holder),
                kebab(l.claim.api),
                clock.at(l.claim.by.ts_ns),
                clock.stack(l.claim.stack),
            )
        })
        .collect();
    let a = assertion("claims-released", "every claim is released", details);
    unless_lost(c, a, Family::Release, "releases")
}

/// A failure that lost events of `family` could explain is inconclusive,
/// not a failure: the kernel dropped them (a full ring buffer), so what the
/// trace lacks may have happened (a release of the "leaked" claim).
pub(super) fn unless_lost(
    c: &Collector,
    mut a: Assertion,
    family: Family,
    what: &str,
) -> Assertion {
    if a.status != Status::Fail {
        return a;
    }
    let lost = lost_at_family(c, family);
    if lost > 0 {
        a.status = Status::Inconclusive;
        a.details.push(format!(
            "{lost} {what} were lost by the kernel (ring buffer full): the trace cannot tell"
        ));
    }
    a
}

fn no_release_without_claim(c: &Collector, opts: &CheckOptions, clock: &Clock<'_>) -> Assertion {
    let f = &c.findings().unmatched_releases;
    let mut details: Vec<String> = f
        .examples
        .iter()
        .filter(|r| opts.selects(Some(&r.identity), None))
        .map(|r| {
            let line = format!(
                "{}: release by {} with {} via {} at {} matches no open claim",
                r.identity.label(),
                r.by,
                holder(r.holder),
                kebab(r.api),
                clock.at(r.by.ts_ns),
            );
            let line = match super::pre_existing::unmatched_reason(c, r.device) {
                Some(why) => format!("{line} ({why})"),
                None => line,
            };
            format!("{line}{}", clock.stack(r.stack))
        })
        .collect();
    if !details.is_empty() {
        note_unlisted(&mut details, f, !opts.devices.is_empty());
    }
    let a = assertion(
        "no-release-without-claim",
        "no release without a claim",
        details,
    );
    unless_lost(c, a, Family::Claim, "claims")
}

fn no_double_claim(c: &Collector, opts: &CheckOptions, clock: &Clock<'_>) -> Assertion {
    let f = &c.findings().double_claims;
    let mut details: Vec<String> = f
        .examples
        .iter()
        .filter(|d| opts.selects(Some(&d.identity), None))
        .map(|d| {
            format!(
                "{}: {} claimed again by {} at {} ({}) while its claim by {} at {} is open",
                d.identity.label(),
                holder(d.holder),
                d.second,
                clock.at(d.second.ts_ns),
                if d.granted { "granted" } else { "refused" },
                d.first.by,
                clock.at(d.first.by.ts_ns),
            )
        })
        .collect();
    if !details.is_empty() {
        note_unlisted(&mut details, f, !opts.devices.is_empty());
    }
    assertion(
        "no-double-claim",
        "no double claim by the same holder",
        details,
    )
}

fn max_wait(c: &Collector, opts: &CheckOptions, clock: &Clock<'_>) -> Assertion {
    let id = "max-wait";
    let Some(limit) = opts.max_wait_ns else {
        return Assertion {
            id: id.to_string(),
            title: "busy-page waits stay under --max-wait".to_string(),
            status: Status::Skipped,
            details: vec!["no --max-wait given".to_string()],
        };
    };
    let title = format!("every busy-page wait is shorter than {}", duration(limit));
    let f = &c.findings().slow_waits;
    let mut details: Vec<String> = f
        .examples
        .iter()
        .filter(|w| opts.selects(w.identity.as_ref(), Some(w.record.dev)))
        .map(|w| {
            let r = &w.record;
            format!(
                "{}: {} waited {}{} on inode {} ({}) ending at {}{}",
                label(w.identity.as_ref(), r.dev),
                r.waiter,
                if r.lower_bound { "at least " } else { "" },
                duration(r.latency_ns),
                r.ino,
                if r.lower_bound {
                    "in progress at attach".to_string()
                } else {
                    kebab(r.api)
                },
                clock.at(r.waiter.ts_ns),
                r.busy_pfn
                    .map(|p| {
                        let end = r.waiter.ts_ns;
                        let owners = c.ownership_during(p, end.saturating_sub(r.latency_ns), end);
                        if owners.is_told() {
                            format!(
                                ", busy pfn {p:#x} {}",
                                ownership_phrase(&owners, r.waiter.ts_ns, clock.stacks)
                            )
                        } else {
                            format!(", busy pfn {p:#x}")
                        }
                    })
                    .unwrap_or_default(),
            )
        })
        .collect();
    if !details.is_empty() {
        note_unlisted(&mut details, f, !opts.devices.is_empty());
    }
    for w in c.open_wait_views() {
        let identity = c.device_by_name(&w.dev.to_string()).map(|d| &d.identity);
        if w.waited_ns >= limit && opts.selects(identity, Some(w.dev)) {
            let (least, since) = if w.at_attach.is_some() {
                (
                    "at least ",
                    "before the trace (found at attach)".to_string(),
                )
            } else {
                ("", clock.at(w.begin.ts_ns))
            };
            details.push(format!(
                "{}: {} still waiting on inode {} at the end of the trace, for {least}{} since {since}",
                label(identity, w.dev),
                w.begin,
                w.ino,
                duration(w.waited_ns),
            ));
        }
    }
    assertion(id, &title, details)
}

fn no_stuck_waits(c: &Collector, opts: &CheckOptions, clock: &Clock<'_>) -> Assertion {
    let f = &c.findings().stuck_waits;
    let mut details: Vec<String> = f
        .examples
        .iter()
        .filter(|s| opts.selects(s.identity.as_ref(), Some(s.dev)))
        .map(|s| {
            let waiter = match &s.waiter {
                Some(a) => crate::human::time::task(a.comm, a.pid, s.waiter_tid),
                None => format!("?[?/{}]", s.waiter_tid),
            };
            // A wait found at attach began before the trace: its start is
            // a lower bound.
            let since = if s.at_attach || s.wait_begin_ns < clock.origin {
                "before the trace (found at attach)".to_string()
            } else {
                clock.at(s.wait_begin_ns)
            };
            let asleep = if s.at_attach { "at least " } else { "" };
            let owner = if s.owners.is_told() {
                format!(
                    "; page {}",
                    ownership_phrase(&s.owners, s.reported_ns, clock.stacks)
                )
            } else {
                String::new()
            };
            format!(
                "{}: {} sleeps on idle pfn {:#x} (inode {}, refcount {}) since {}, still asleep {asleep}{} later at {}{owner}",
                label(s.identity.as_ref(), s.dev),
                waiter,
                s.pfn,
                s.ino,
                s.refcount,
                since,
                duration(s.reported_ns.saturating_sub(s.wait_begin_ns)),
                clock.at(s.reported_ns),
            )
        })
        .collect();
    if !details.is_empty() {
        note_unlisted(&mut details, f, !opts.devices.is_empty());
    }
    let a = assertion(
        "no-stuck-waits",
        "no waiter sleeps on an idle page (lost wakeup)",
        details,
    );
    unless_unwatched(c, a)
}

/// A pass is inconclusive when waiters' pages were pushed out of their
/// watch slots (`watch-replaced`): a lost wakeup on one of them could not
/// be seen.
fn unless_unwatched(c: &Collector, mut a: Assertion) -> Assertion {
    let unwatched: u64 = c
        .drops()
        .other_losses()
        .filter(|(reason, ..)| *reason == Loss::WatchReplaced.name())
        .map(|(.., n)| n)
        .sum();
    if a.status == Status::Pass && unwatched > 0 {
        a.status = Status::Inconclusive;
        a.details.push(format!(
            "{unwatched} pages waiters slept on lost their watch to another waiter's page (watch-replaced): a lost wakeup on them could not be seen"
        ));
    }
    a
}

fn no_dropped_events(c: &Collector) -> Assertion {
    let mut details: Vec<String> = c
        .drops()
        .lost_at()
        .map(|(point, name, n)| format!("{n} events lost at {name} (point {point})"))
        .collect();
    // A failed map insert outside pin tracking can lose a claim, release or
    // wait span the verdicts count; owner slots, pin owners and stacks only
    // cost attribution (report shows them).
    details.extend(
        c.drops()
            .other_losses()
            .filter(|(reason, point, _, _)| {
                *reason == Loss::MapFull.name()
                    && POINTS
                        .get(*point as usize)
                        .is_some_and(|p| p.family != Family::Pin)
            })
            .map(|(reason, point, name, n)| format!("{n} {reason} at {name} (point {point})")),
    );
    Assertion {
        id: "no-dropped-events".to_string(),
        title: "no event was lost".to_string(),
        status: if details.is_empty() {
            Status::Pass
        } else {
            Status::Inconclusive
        },
        details,
    }
}

/// Events lost by the kernel (ring buffer full) at the points of `family`,
/// and inserts refused by its full tables.
pub(super) fn lost_at_family(c: &Collector, family: Family) -> u64 {
    let of_family = |point: u16| {
        POINTS
            .get(point as usize)
            .is_some_and(|p| p.family == family)
    };
    let ring: u64 = c
        .drops()
        .lost_at()
        .filter(|(point, _, _)| of_family(*point))
        .map(|(_, _, n)| n)
        .sum();
    let tables: u64 = c
        .drops()
        .other_losses()
        .filter(|(reason, point, _, _)| *reason == Loss::MapFull.name() && of_family(*point))
        .map(|(_, _, _, n)| n)
        .sum();
    ring + tables
}

/// The kebab-case name an API enum serializes to (`fs-put-dax`).
fn kebab<T: serde::Serialize + std::fmt::Debug>(v: T) -> String {
    serde_json::to_value(&v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}
