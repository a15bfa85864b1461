//! The pump of live capture: moves the kernel ring buffer's records and
//! the per-CPU counters (drops per point, puts per pagemap, faults per
//! device, size and result) into the stream, until the consumer closes it
//! or asks it to stop, when the ring buffer is drained and the counters
//! read one last time.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aya::Ebpf;
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, PerCpuValues, RingBuf};
use dax_trace_common::{
    FaultKey, Loss, PgmapPuts, PointCounters, config::MAX_POINTS, probe::POINTS,
};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use super::enrich::Enricher;
use super::fault_tally::FaultTally;
use super::owner_table::OwnerTable;
use super::{BATCH_MAX, EventBatch, Feed, StopRequest};
use crate::clock::clock_ns;
use crate::event::{Drops, Event, PutStats, decode_bytes};
use crate::state::{Tracker, tracker};

/// How often the ring buffer is drained without a wake-up: records that
/// do not wake the reader (faults) wait at most this long, or until a
/// quarter of the ring is filled.
const DRAIN_TICK: Duration = Duration::from_millis(200);

pub(super) struct Pump {
    /// Owns the programs and links: dropping it detaches everything
    /// (`ProgramCosts` handles only look at them while it lives).
    pub(super) _ebpf: Arc<Mutex<Ebpf>>,
    pub(super) ring: AsyncFd<RingBuf<MapData>>,
    pub(super) counters: PerCpuArray<MapData, PointCounters>,
    pub(super) puts: PerCpuHashMap<MapData, u64, PgmapPuts>,
    pub(super) tx: Feed,
    /// The last total sent per (point, loss reason).
    pub(super) drops_seen: HashMap<(u16, u16), u64>,
    pub(super) puts_seen: HashMap<u64, (u64, u64)>,
    /// Faults counted in the kernel (`FAULT_COUNTS`), and what of them was sent.
    pub(super) fault_counts: PerCpuHashMap<MapData, FaultKey, u64>,
    /// What the owner table evicted (`None`: the object has no such table).
    pub(super) owner_table: Option<OwnerTable>,
    pub(super) faults_sent: FaultTally,
    pub(super) drain_pause: Option<Duration>,
    pub(super) tracker: Option<Tracker>,
    /// `None` only after enriching panicked.
    pub(super) enricher: Option<Enricher>,
    /// The consumer's request to end: the ring buffer is drained one last
    /// time, so events still in it when recording stops are kept.
    pub(super) stop: StopRequest,
}

impl Pump {
    pub(super) async fn run(mut self, interval: Duration, first: Vec<Event>) {
        let mut tick = tokio::time::interval(interval);
        let mut state_tick = tokio::time::interval(tracker::TICK);
        // Fault records do not wake the reader (see the eBPF `wakeup`): it
        // drains on this tick too.
        let mut drain_tick = tokio::time::interval(DRAIN_TICK);
        drain_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = first;
        loop {
            if !send_all(&self.tx, &mut batch).await {
                // The consumer is gone: nobody is owed anything more.
                self.tx.end();
                return;
            }
            tokio::select! {
                ready = self.ring.readable_mut() => {
                    let from = batch.len();
                    match ready {
                        Ok(mut guard) => {
                            drain(guard.get_inner_mut(), &mut batch);
                            // Safe after the drain: tokio clears the readiness
                            // only if no wake-up came since the guard was taken.
                            guard.clear_ready();
                        }
                        Err(err) => {
                            log::error!("ring buffer poll failed: {err}");
                            self.tx.fail(format!("polling the ring buffer failed: {err}"));
                            return;
                        }
                    }
                    self.note(&batch[from..]);
                    if let Err(reason) = self.enrich(&mut batch, from).await {
                        self.fail(batch, reason).await;
                        return;
                    }
                    if let Some(pause) = self.drain_pause {
                        // A stop during the pause is not kept waiting.
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = self.stop.requested() => {
                                self.finish(batch).await;
                                return;
                            }
                        }
                    }
                }
                () = self.stop.requested() => {
                    self.finish(batch).await;
                    return;
                }
                _ = drain_tick.tick() => {
                    let from = batch.len();
                    drain(self.ring.get_mut(), &mut batch);
                    self.note(&batch[from..]);
                    if let Err(reason) = self.enrich(&mut batch, from).await {
                        self.fail(batch, reason).await;
                        return;
                    }
                }
                _ = tick.tick() => self.collect_stats(&mut batch, false),
                _ = state_tick.tick() => {
                    if let Some(t) = &mut self.tracker {
                        t.tick(&mut batch);
                    }
                }
                _ = self.tx.closed() => {
                    self.tx.end();
                    return;
                }
            }
        }
    }

    /// Lets the state tracker see the kernel's events.
    fn note(&mut self, events: &[Event]) {
        if let Some(t) = &mut self.tracker {
            t.note(events);
        }
    }

    /// The last drain: whatever the ring buffer holds now (the reader may
    /// not have been woken for it yet) and the last counter totals (faults
    /// counted since the last tick included) are sent before the stream ends.
    async fn finish(mut self, mut batch: Vec<Event>) {
        let start = batch.len();
        drain(self.ring.get_mut(), &mut batch);
        if let Err(reason) = self.enrich(&mut batch, start).await {
            self.fail(batch, reason).await;
            return;
        }
        self.collect_stats(&mut batch, true);
        send_all(&self.tx, &mut batch).await;
        self.tx.end();
    }

    /// Completes `batch[from..]` (stacks, refused pins' files). When that
    /// means reading the stack map or re-reading kallsyms (seconds under
    /// TCG), it runs on the blocking pool: a worker blocked here also held
    /// up the consumer task queued behind it, and the VM test on 7 saw a
    /// recording stand still for 3 s. A panic there loses `batch[from..]`
    /// and is the source's failure (`Err` with the reason): the stream must
    /// not look complete.
    async fn enrich(&mut self, batch: &mut Vec<Event>, from: usize) -> Result<(), String> {
        let Some(enricher) = self.enricher.as_mut() else {
            return Ok(());
        };
        if !enricher.needs_work(&batch[from..]) {
            return Ok(());
        }
        let Some(mut enricher) = self.enricher.take() else {
            return Ok(());
        };
        let mut events = batch.split_off(from);
        let sent = events.len();
        let done = tokio::task::spawn_blocking(move || {
            enricher.enrich(&mut events);
            (enricher, events)
        })
        .await;
        let (enricher, events) = done.map_err(|err| enrich_failure(sent, &err))?;
        self.enricher = Some(enricher);
        batch.extend(events);
        Ok(())
    }

    /// Sends what `batch` holds, then ends the stream as failed.
    async fn fail(self, mut batch: Vec<Event>, reason: String) {
        log::error!("{reason}");
        send_all(&self.tx, &mut batch).await;
        self.tx.fail(reason);
    }

    /// Sends `Drops` for each point and reason whose total changed,
    /// `PutStats` for pagemaps whose put counters changed and `FaultCounts`
    /// for fault keys whose count grew; `last`: the capture ends (the owner
    /// table's evictions are counted whether due or not).
    fn collect_stats(&mut self, out: &mut Vec<Event>, last: bool) {
        let ts_ns = clock_ns(libc::CLOCK_MONOTONIC) as u64;
        // Pages given an owner entry, in all and by the point adding most
        // (evictions are the table's, counted at that point).
        let mut owner_pages = 0u64;
        let mut top_adder = (0u64, 0u16);
        for point in 0..POINTS.len().min(MAX_POINTS) as u32 {
            let Ok(per_cpu) = self.counters.get(&point, 0) else {
                continue;
            };
            let point = point as u16;
            let added: u64 = per_cpu.iter().map(|c| c.owner_pages).sum();
            owner_pages += added;
            top_adder = top_adder.max((added, point));
            for loss in Loss::COUNTED_IN_KERNEL {
                let total: u64 = per_cpu.iter().map(|c| loss.of(c)).sum();
                self.send_drops(out, ts_ns, point, loss, total);
            }
        }
        if let Some(table) = &mut self.owner_table {
            let evicted = table.evicted(owner_pages, Instant::now(), last);
            self.send_drops(out, ts_ns, top_adder.1, Loss::OwnerEvicted, evicted);
        }
        for entry in self.puts.iter() {
            let Ok((pgmap, per_cpu)) = entry else {
                continue;
            };
            let puts: u64 = per_cpu.iter().map(|c| c.puts).sum();
            let idles: u64 = per_cpu.iter().map(|c| c.idles).sum();
            if self.puts_seen.get(&pgmap) != Some(&(puts, idles)) {
                self.puts_seen.insert(pgmap, (puts, idles));
                out.push(userspace_event(
                    ts_ns,
                    PutStats { pgmap, puts, idles }.into(),
                ));
            }
        }
        let readings: Vec<(FaultKey, PerCpuValues<u64>)> =
            self.fault_counts.iter().filter_map(Result::ok).collect();
        let grown = self
            .faults_sent
            .read(readings.iter().map(|(key, per_cpu)| (*key, &per_cpu[..])));
        out.extend(grown.into_iter().map(|c| userspace_event(ts_ns, c.into())));
    }
}

impl Pump {
    /// A `Drops` event when `total` changed since the last one sent.
    fn send_drops(&mut self, out: &mut Vec<Event>, ts_ns: u64, point: u16, loss: Loss, total: u64) {
        let key = (point, loss as u16);
        if total > 0 && self.drops_seen.get(&key) != Some(&total) {
            self.drops_seen.insert(key, total);
            let drops = Drops {
                point,
                reason: loss as u16,
                total,
                ..Drops::default()
            };
            out.push(userspace_event(ts_ns, drops.into()));
        }
    }
}

/// Sends `batch` through `tx` in batches of at most [`BATCH_MAX`], leaving
/// it empty; `false` when the consumer is gone.
async fn send_all(tx: &mpsc::Sender<EventBatch>, batch: &mut Vec<Event>) -> bool {
    while !batch.is_empty() {
        let rest = batch.split_off(batch.len().min(BATCH_MAX));
        let full = std::mem::replace(batch, rest);
        if tx.send(full).await.is_err() {
            return false;
        }
    }
    true
}

/// Decodes every record the ring buffer holds into `batch`.
fn drain(ring: &mut RingBuf<MapData>, batch: &mut Vec<Event>) {
    while let Some(item) = ring.next() {
        match decode_bytes(&item) {
            Ok(event) => batch.push(event),
            Err(err) => log::warn!("undecodable event: {err}"),
        }
    }
}

fn userspace_event(ts_ns: u64, body: crate::event::EventBody) -> Event {
    Event::own(ts_ns, body)
}

/// Why the stream fails when completing `lost` events panicked (or was
/// cancelled) on the blocking pool.
fn enrich_failure(lost: usize, err: &tokio::task::JoinError) -> String {
    let what = if err.is_panic() {
        "panicked"
    } else {
        "was cancelled"
    };
    let events = crate::human::plural(lost as u64, "event");
    format!("completing events (stacks, file names) {what}: {events} lost")
}

#[cfg(test)]
mod tests {
    use super::enrich_failure;

    #[tokio::test]
    async fn a_panic_while_completing_events_is_a_failure_naming_the_loss() {
        let err = tokio::task::spawn_blocking(|| panic!("a symbolizer bug"))
            .await
            .expect_err("the task panicked");
        let reason = enrich_failure(3, &err);
        assert!(reason.contains("panicked"), "{reason}");
        assert!(reason.contains("3 events lost"), "{reason}");
        assert_eq!(
            enrich_failure(1, &err),
            "completing events (stacks, file names) panicked: 1 event lost"
        );
    }
}
