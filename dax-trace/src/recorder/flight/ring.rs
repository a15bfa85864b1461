//! The flight recorder's memory: the last events of a recording as bytes
//! in one buffer of a fixed size, so that what a long run costs is the
//! `--ring` size and nothing more, however many events pass through.
//!
//! Each event is kept in its binary form (what a trace file stores), behind
//! a two-byte length: `len u16 LE | event bytes`. Adding an event evicts the
//! oldest ones until it fits. Every event ever pushed has a sequence number
//! (0, 1, ...), so the dump logic can tell whether an event of interest is
//! still held.
use std::collections::VecDeque;

use crate::event::{self, DecodeError, Event, MAX_EVENT_SIZE};

/// Bytes of the length before each event.
const LEN_BYTES: usize = 2;
/// The most bytes one event takes in the ring.
pub const LARGEST: usize = LEN_BYTES + MAX_EVENT_SIZE;
const _: () = assert!(MAX_EVENT_SIZE <= u16::MAX as usize);

/// The smallest ring: enough for some hundred events of the largest kind.
pub const MIN_RING_BYTES: u64 = 64 << 10;
/// The largest ring (4 GiB): beyond that a window is better a whole recording.
pub const MAX_RING_BYTES: u64 = 4 << 30;

/// The last events, at most `capacity` bytes of them.
pub struct ByteRing {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// Sequence number of the oldest event held.
    first_seq: u64,
    /// Sequence number the next event gets.
    next_seq: u64,
}

impl ByteRing {
    /// An empty ring of `capacity` bytes; the buffer grows up to it as
    /// events come (an idle recorder does not touch its whole size).
    pub fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            capacity: capacity.max(LARGEST),
            first_seq: 0,
            next_seq: 0,
        }
    }

    /// Appends `event`, evicting the oldest events until it fits; returns
    /// its sequence number and the bytes it takes.
    pub fn push(&mut self, event: &Event) -> (u64, usize) {
        let mut buf = [0u8; MAX_EVENT_SIZE];
        let len = event::encode_into(event, &mut buf);
        while self.bytes.len() + LEN_BYTES + len > self.capacity {
            self.evict_oldest();
        }
        if self.bytes.capacity() < self.bytes.len() + LEN_BYTES + len {
            // Grow by doubling as VecDeque would, but never past the
            // capacity: the bound is the allocation, not only the content.
            let want = (self.bytes.capacity() * 2)
                .max(4096)
                .clamp(self.bytes.len() + LEN_BYTES + len, self.capacity);
            self.bytes.reserve_exact(want - self.bytes.len());
        }
        self.bytes.extend((len as u16).to_le_bytes());
        self.bytes.extend(&buf[..len]);
        let seq = self.next_seq;
        self.next_seq += 1;
        (seq, LEN_BYTES + len)
    }

    /// Drops the oldest event (nothing when empty).
    fn evict_oldest(&mut self) {
        let Some(len) = self.len_at(0) else {
            return;
        };
        self.bytes.drain(..LEN_BYTES + len);
        self.first_seq += 1;
    }

    /// The length of the event whose length bytes start at `at`.
    fn len_at(&self, at: usize) -> Option<usize> {
        let lo = *self.bytes.get(at)?;
        let hi = *self.bytes.get(at + 1)?;
        Some(u16::from_le_bytes([lo, hi]) as usize)
    }

    /// Sequence number of the oldest event held (the next one's when empty).
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Sequence number the next event pushed gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Events held.
    pub fn len(&self) -> u64 {
        self.next_seq - self.first_seq
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (events and their lengths).
    pub fn used(&self) -> usize {
        self.bytes.len()
    }

    /// Bytes allocated for the buffer: never more than the capacity.
    pub fn allocated(&self) -> usize {
        self.bytes.capacity()
    }

    /// The size given (at least one largest event).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The events held, oldest first, decoded again.
    pub fn events(&self) -> RingEvents<'_> {
        RingEvents { ring: self, at: 0 }
    }
}

/// Iterator over a ring's events, oldest first.
pub struct RingEvents<'a> {
    ring: &'a ByteRing,
    at: usize,
}

impl Iterator for RingEvents<'_> {
    type Item = Result<Event, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let len = self.ring.len_at(self.at)?;
        let start = self.at + LEN_BYTES;
        let mut buf = [0u8; MAX_EVENT_SIZE];
        for (dst, src) in buf[..len]
            .iter_mut()
            .zip(self.ring.bytes.range(start..start + len))
        {
            *dst = *src;
        }
        self.at = start + len;
        Some(event::decode_bytes(&buf[..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::synthetic;

    fn held(ring: &ByteRing) -> Vec<Event> {
        ring.events().map(|e| e.expect("decodes")).collect()
    }

    #[test]
    fn events_come_back_in_order_and_intact() {
        let events = synthetic::scenario();
        let mut ring = ByteRing::new(16 << 20);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(ring.push(e).0, i as u64);
        }
        assert_eq!(held(&ring), events);
        assert_eq!(ring.first_seq(), 0);
        assert_eq!(ring.len(), events.len() as u64);
    }

    #[test]
    fn the_oldest_events_are_evicted_first() {
        let events: Vec<Event> = synthetic::page_storm(10_000).collect();
        let mut ring = ByteRing::new(MIN_RING_BYTES as usize);
        for e in &events {
            ring.push(e);
        }
        let kept = held(&ring);
        assert!(!kept.is_empty() && kept.len() < events.len());
        // Exactly the newest ones, in order, nothing skipped.
        assert_eq!(kept.as_slice(), &events[events.len() - kept.len()..]);
        assert_eq!(ring.first_seq(), (events.len() - kept.len()) as u64);
        assert_eq!(ring.next_seq(), events.len() as u64);
    }

    #[test]
    fn memory_stays_within_the_size_however_many_events_pass() {
        let size = 256 << 10;
        let mut ring = ByteRing::new(size);
        let mut peak_used = 0;
        let mut peak_allocated = 0;
        for e in synthetic::page_storm(500_000) {
            ring.push(&e);
            peak_used = peak_used.max(ring.used());
            peak_allocated = peak_allocated.max(ring.allocated());
        }
        assert!(
            peak_used <= size,
            "{peak_used} bytes held in a {size}-byte ring"
        );
        assert!(
            peak_allocated <= size + 4096,
            "{peak_allocated} bytes allocated for a {size}-byte ring"
        );
        // And the ring is used: full to within one event.
        assert!(peak_used + LARGEST > size);
        assert!(ring.len() < 500_000 / 10);
    }

    #[test]
    fn a_ring_smaller_than_one_event_still_holds_the_last() {
        let mut ring = ByteRing::new(1);
        assert_eq!(ring.capacity(), LARGEST);
        let events = synthetic::scenario();
        for e in &events {
            ring.push(e);
        }
        let kept = held(&ring);
        assert!(!kept.is_empty() && ring.used() <= LARGEST);
        assert_eq!(kept.as_slice(), &events[events.len() - kept.len()..]);
    }
}
