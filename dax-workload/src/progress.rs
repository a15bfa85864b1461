//! Human progress lines on stderr, stamped with the time since start.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

/// The process-wide start instant (fixed on first use).
pub fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

pub fn elapsed() -> Duration {
    start().elapsed()
}

/// `eprintln!` with a `[   s.mmm]` stamp.
#[macro_export]
macro_rules! progress {
    ($($arg:tt)*) => {
        eprintln!("[{:8.3}] {}", $crate::progress::elapsed().as_secs_f64(), format_args!($($arg)*))
    };
}
