//! Watchdogs: every blocking step runs under a deadline kept by its own thread.
//! When a deadline passes the watchdog says what is stuck (with the kernel
//! stacks of the worker threads), prints the summary line if asked, and exits.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use crate::progress;
use crate::report::Summary;
use crate::task;

/// Which exit code a stuck step gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Preparing the scenario (mkfs, mount, dmsetup): exit 2.
    Setup,
    /// The behaviour under test: exit 1.
    Check,
}

impl Stage {
    pub fn exit_code(self) -> i32 {
        match self {
            Stage::Setup => 2,
            Stage::Check => 1,
        }
    }
}

struct Context {
    scenario: &'static str,
    json: bool,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();
static THREADS: Mutex<Vec<(i32, &'static str)>> = Mutex::new(Vec::new());

/// Tell the watchdogs what to name in the summary line they print.
pub fn init(scenario: &'static str, json: bool) {
    let _ = CONTEXT.set(Context { scenario, json });
}

/// Disarms its watchdog when dropped.
#[must_use = "the watchdog is disarmed when the guard is dropped"]
pub struct WatchGuard {
    _disarm: mpsc::Sender<()>,
}

/// Arm a watchdog for `what`; it fires unless the guard is dropped within `deadline`.
pub fn watch(stage: Stage, what: impl Into<String>, deadline: Duration) -> WatchGuard {
    let what = what.into();
    watch_with(deadline, move || fire(stage, &what, deadline))
}

/// Run `on_fire` on a watchdog thread unless the guard is dropped within `deadline`.
fn watch_with(deadline: Duration, on_fire: impl FnOnce() + Send + 'static) -> WatchGuard {
    let (tx, rx) = mpsc::channel::<()>();
    let spawned = thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(deadline) {
                on_fire();
            }
        });
    if let Err(err) = spawned {
        progress!("warning: no watchdog thread ({err}); continuing without one");
    }
    WatchGuard { _disarm: tx }
}

/// A worker thread whose kernel state a firing watchdog reports.
#[must_use = "the thread is forgotten when the registration is dropped"]
pub struct Registration {
    tid: i32,
}

/// Register the calling thread under `role` (e.g. "truncate").
pub fn register_current(role: &'static str) -> Registration {
    let tid = task::gettid();
    if let Ok(mut threads) = THREADS.lock() {
        threads.push((tid, role));
    }
    Registration { tid }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut threads) = THREADS.lock() {
            threads.retain(|(tid, _)| *tid != self.tid);
        }
    }
}

fn fire(stage: Stage, what: &str, deadline: Duration) -> ! {
    progress!(
        "WATCHDOG: {what} still blocked after {:.1} s",
        deadline.as_secs_f64()
    );
    let threads = THREADS.lock().map(|t| t.clone()).unwrap_or_default();
    for (tid, role) in &threads {
        let state = task::state(*tid).map_or_else(|| "?".to_owned(), String::from);
        let wchan = task::wchan(*tid).unwrap_or_else(|| "?".to_owned());
        progress!("  thread {role} (tid {tid}): state {state}, wchan {wchan}");
        if let Some(stack) = task::kernel_stack(*tid) {
            for line in stack.lines() {
                eprintln!("      {line}");
            }
        }
    }
    let code = stage.exit_code();
    if let Some(ctx) = CONTEXT.get()
        && ctx.json
    {
        let summary = Summary::stuck(ctx.scenario, what, code);
        println!("{}", summary.to_json_line());
    }
    progress!("exiting with status {code} without cleanup (mounts and devices stay)");
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_when_the_step_outlives_its_deadline() {
        let (tx, rx) = mpsc::channel();
        let guard = watch_with(Duration::from_millis(20), move || {
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the watchdog fired while the guard was held");
        drop(guard);
    }

    #[test]
    fn stays_quiet_when_disarmed_in_time() {
        let (tx, rx) = mpsc::channel();
        let guard = watch_with(Duration::from_millis(200), move || {
            let _ = tx.send(());
        });
        drop(guard);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(400)),
            Err(RecvTimeoutError::Disconnected),
            "a disarmed watchdog never calls back"
        );
    }

    #[test]
    fn stuck_steps_exit_with_their_stage_code() {
        assert_eq!(Stage::Setup.exit_code(), 2);
        assert_eq!(Stage::Check.exit_code(), 1);
    }

    #[test]
    fn registered_threads_are_listed_until_dropped() {
        let me = task::gettid();
        let listed = || {
            THREADS
                .lock()
                .map(|t| t.iter().any(|(tid, _)| *tid == me))
                .unwrap_or(false)
        };
        let registration = register_current("test");
        assert!(listed());
        drop(registration);
        assert!(!listed());
    }
}
