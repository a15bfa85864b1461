//! The source's end of an [`EventStream`](super::EventStream): a sender
//! that must say how the stream ended. A source that ends normally calls
//! [`Feed::end`]; one that fails calls [`Feed::fail`]; one that is dropped
//! without either (a panic in the source's task or thread, a forgotten
//! path) counts as failed. The consumer reads [`SourceEnd::failure`] once
//! the channel is closed, so a dead source is never taken for the end of
//! a trace: a recording then stays incomplete and a verdict inconclusive.
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::EventBatch;

/// How a source ended its stream, as its consumer sees it.
#[derive(Clone, Debug, Default)]
pub struct SourceEnd(Arc<Mutex<Option<Ending>>>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ending {
    Normal,
    Failed(String),
}

impl SourceEnd {
    /// Why the source failed, once it has; `None` while it runs or after a
    /// normal end. Set before the channel closes, so a consumer that saw
    /// the end of the events reads the final answer.
    pub fn failure(&self) -> Option<String> {
        match &*self.lock() {
            Some(Ending::Failed(reason)) => Some(reason.clone()),
            _ => None,
        }
    }

    fn settle(&self, ending: Ending) {
        let mut slot = self.lock();
        // The first word stands: a failure is not undone by a later drop.
        if slot.is_none() {
            *slot = Some(ending);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Ending>> {
        // The slot holds plain data: a panic elsewhere leaves it readable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a source sends through: an [`mpsc::Sender`] (by `Deref`) that
/// settles its [`SourceEnd`] before the channel closes.
#[derive(Debug)]
pub struct Feed {
    tx: mpsc::Sender<EventBatch>,
    end: SourceEnd,
}

impl Feed {
    pub(super) fn new(tx: mpsc::Sender<EventBatch>, end: SourceEnd) -> Self {
        Self { tx, end }
    }

    /// The stream ended normally (the source has nothing more, or the
    /// consumer asked it to stop).
    pub fn end(self) {
        self.end.settle(Ending::Normal);
    }

    /// The stream ends because the source failed, for `reason`.
    pub fn fail(self, reason: impl Into<String>) {
        self.end.settle(Ending::Failed(reason.into()));
    }
}

impl Deref for Feed {
    type Target = mpsc::Sender<EventBatch>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        // Runs before the fields drop, so before the channel closes.
        self.end.settle(Ending::Failed(
            "the event source stopped without ending its stream".to_string(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::EventStream;
    use crate::testkit::synthetic;

    #[tokio::test]
    async fn a_source_that_ends_normally_is_no_failure() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        tx.send(synthetic::scenario()).await.expect("send");
        tx.end();
        assert!(stream.events.recv().await.is_some());
        assert!(stream.events.recv().await.is_none());
        assert_eq!(stream.ended.failure(), None);
    }

    #[tokio::test]
    async fn a_failure_is_known_when_the_channel_closes() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        tx.fail("ring buffer poll failed");
        assert!(stream.events.recv().await.is_none());
        assert_eq!(
            stream.ended.failure().as_deref(),
            Some("ring buffer poll failed")
        );
    }

    #[tokio::test]
    async fn a_panicking_source_task_is_a_failure() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        let task = tokio::spawn(async move {
            tx.send(synthetic::scenario()).await.expect("send");
            panic!("the source broke");
        });
        assert!(stream.events.recv().await.is_some());
        assert!(stream.events.recv().await.is_none());
        assert!(task.await.is_err());
        let failure = stream.ended.failure().expect("failed");
        assert!(failure.contains("without ending"), "{failure}");
    }
}
