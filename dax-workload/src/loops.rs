//! Throughput loops for `cargo xtask bench overhead` (xtask/guest/bench.sh):
//! workloads fio cannot express, on ordinary memory and ordinary files, the
//! controls that show what a tracer's hooks cost where no DAX page is met.
//! Each runs for `--seconds` and prints `OPS ELAPSED_US` on stdout, the
//! format of the script's counted-cycles workloads. No report, no checks.
use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

#[derive(Debug, Args)]
pub struct FutexPingpongArgs {
    /// How long to run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub seconds: u32,
}

#[derive(Debug, Args)]
pub struct TruncateLoopArgs {
    /// The file to write, punch and truncate (on a filesystem without DAX).
    #[arg(long)]
    pub file: PathBuf,
    /// How long to run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub seconds: u32,
}

/// Prints `OPS ELAPSED_US` and gives the exit status (0, or 2 with the error said).
fn finish(what: &str, outcome: io::Result<(u64, Duration)>) -> i32 {
    match outcome {
        Ok((ops, elapsed)) => {
            println!("{ops} {}", elapsed.as_micros());
            0
        }
        Err(e) => {
            eprintln!("dax-workload {what}: {e}");
            2
        }
    }
}

pub fn futex_pingpong(args: &FutexPingpongArgs) -> i32 {
    finish(
        "futex-pingpong",
        pingpong(Duration::from_secs(args.seconds.into())),
    )
}

pub fn truncate_loop(args: &TruncateLoopArgs) -> i32 {
    finish(
        "truncate-loop",
        truncates(&args.file, Duration::from_secs(args.seconds.into())),
    )
}

/// The turn word's values: whose move it is, and the end of the game.
const PARENT: u32 = 0;
const CHILD: u32 = 1;
const STOP: u32 = 2;

/// FUTEX_WAIT / FUTEX_WAKE without FUTEX_PRIVATE_FLAG: a shared futex, whose
/// key the kernel finds through get_user_pages_fast on the mapping's page.
fn futex(word: &AtomicU32, op: libc::c_int, val: u32) -> io::Result<()> {
    // SAFETY: the word lives in a mapping both processes keep until they exit;
    // a null timeout waits for a wake or a changed value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            std::ptr::null::<libc::timespec>(),
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // EAGAIN: the value changed before the wait; EINTR: woken by a signal.
        if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) {
            return Err(e);
        }
    }
    Ok(())
}

/// Waits until `word` is no longer `value`.
fn wait_while(word: &AtomicU32, value: u32) -> io::Result<u32> {
    loop {
        let now = word.load(Ordering::Acquire);
        if now != value {
            return Ok(now);
        }
        futex(word, libc::FUTEX_WAIT, value)?;
    }
}

fn hand_over(word: &AtomicU32, to: u32) -> io::Result<()> {
    word.store(to, Ordering::Release);
    futex(word, libc::FUTEX_WAKE, 1)
}

/// Parent and child hand a turn word back and forth in a MAP_SHARED page;
/// one operation is one round trip (two waits, two wakes).
fn pingpong(run_for: Duration) -> io::Result<(u64, Duration)> {
    // SAFETY: a fresh anonymous shared mapping of one page, checked below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the page is mapped, zeroed (PARENT) and aligned for a u32.
    let turn = unsafe { &*(page as *const AtomicU32) };
    // SAFETY: plain fork; the child only touches the shared word and exits.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(io::Error::last_os_error());
    }
    if child == 0 {
        let status = loop {
            match wait_while(turn, PARENT) {
                Ok(STOP) => break 0,
                Ok(_) => {}
                Err(_) => break 1,
            }
            if hand_over(turn, PARENT).is_err() {
                break 1;
            }
        };
        // SAFETY: the child leaves without running the parent's destructors.
        unsafe { libc::_exit(status) };
    }
    let start = Instant::now();
    let mut trips = 0u64;
    let played = (|| -> io::Result<()> {
        while start.elapsed() < run_for {
            hand_over(turn, CHILD)?;
            wait_while(turn, CHILD)?;
            trips += 1;
        }
        Ok(())
    })();
    let elapsed = start.elapsed();
    let stopped = hand_over(turn, STOP);
    let mut status = 0;
    // SAFETY: reaping our own child.
    if unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    played?;
    stopped?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(io::Error::other(format!(
            "the child ended with status {status:#x}"
        )));
    }
    Ok((trips, elapsed))
}

/// Write 16 KiB, punch its first 4 KiB, truncate to 0: one operation.
fn truncates(path: &std::path::Path, run_for: Duration) -> io::Result<(u64, Duration)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let data = vec![0x5au8; 16 * 1024];
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed() < run_for {
        file.write_all_at(&data, 0)?;
        // SAFETY: fallocate on an fd we own, with constant flags and range.
        let rc = unsafe {
            libc::fallocate(
                file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                0,
                4096,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        file.set_len(0)?;
        ops += 1;
    }
    Ok((ops, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pingpong_counts_round_trips_and_ends() {
        let (trips, elapsed) = pingpong(Duration::from_millis(200)).unwrap();
        assert!(trips > 10, "{trips}");
        assert!(elapsed >= Duration::from_millis(200));
    }

    #[test]
    fn the_truncate_loop_leaves_an_empty_file() {
        let dir = std::env::temp_dir().join(format!("dax-workload-loops-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let (ops, _) = truncates(&path, Duration::from_millis(100)).unwrap();
        assert!(ops > 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
