//! `daxtrace top --replay` in a real terminal: tmux runs it, send-keys drives
//! sort, filter, detail and quit, capture-pane shows what a user would see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

/// How long a screen may take to show what is expected (debug build, busy machine).
const PATIENCE: Duration = Duration::from_secs(20);

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    /// Starts `command` in a detached session "top" of `cols` x `rows`.
    fn start(&self, cols: u16, rows: u16, command: &str) {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let out = self.run(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            &cols,
            "-y",
            &rows,
            command,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let out = self.run(&["send-keys", "-t", "top", key]);
            assert!(out.status.success(), "send-keys {key}: {out:?}");
        }
    }

    /// Waits until the pane shows `needle`; panics with the screen otherwise.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the screen never showed {needle:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_present() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn replay_in_tmux_sorts_filters_opens_detail_and_quits() {
    if !tmux_present() {
        eprintln!("skipped: tmux is not installed, no real terminal to drive");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::sample_trace(dir.path());
    let bin = env!("CARGO_BIN_EXE_daxtrace");
    let tmux = Tmux {
        socket: format!("daxtrace-test-{}", std::process::id()),
    };
    // The shell line after daxtrace shows how it exited, on the restored screen.
    let command = format!(
        "{bin} top --replay {} --speed 0 --interval 0.2; echo daxtrace-exited-$?; sleep 60",
        trace.display()
    );
    tmux.start(100, 30, &command);

    let screen = tmux.wait_for("end of trace");
    assert!(screen.contains("daxtrace top"), "{screen}");
    assert!(screen.contains("pmem0"), "{screen}");
    assert!(screen.contains("sort busy"), "{screen}");

    tmux.keys(&["s"]);
    tmux.wait_for("sort waits");

    // Shrinking to 80x24 redraws the whole layout at the new size.
    let out = tmux.run(&["resize-window", "-t", "top", "-x", "80", "-y", "24"]);
    assert!(out.status.success(), "tmux resize-window: {out:?}");
    let start = Instant::now();
    loop {
        let screen = tmux.capture();
        let lines: Vec<&str> = screen.lines().collect();
        if lines.len() == 24 && lines[23].contains(" q quit") && lines[0].contains("daxtrace top") {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no 80x24 layout after resize:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    tmux.keys(&["/", "p", "m", "e", "m", "0"]);
    let screen = tmux.wait_for("filter: pmem0");
    assert!(screen.contains("filter \"pmem0\""), "{screen}");
    tmux.keys(&["Enter"]);
    tmux.wait_for(" q quit");

    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("busy pages");
    assert!(screen.contains("holders"), "{screen}");
    assert!(screen.contains("claim"), "{screen}");

    tmux.keys(&["?"]);
    tmux.wait_for("cycle the sort column");
    tmux.keys(&["Escape"]);

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("daxtrace-exited-");
    assert!(screen.contains("daxtrace-exited-0"), "{screen}");
    // The alternate screen is gone: the dashboard's frame is not left behind.
    assert!(!screen.contains("busy pages"), "{screen}");
}

#[test]
fn ctrl_c_restores_the_terminal() {
    if !tmux_present() {
        eprintln!("skipped: tmux is not installed, no real terminal to drive");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::sample_trace(dir.path());
    let bin = env!("CARGO_BIN_EXE_daxtrace");
    let tmux = Tmux {
        socket: format!("daxtrace-test-int-{}", std::process::id()),
    };
    let command = format!(
        "stty -g > {dir}/before; {bin} top --replay {trace} --speed 0 --interval 0.2; \
         echo daxtrace-exited-$?; stty -g > {dir}/after; sleep 60",
        dir = dir.path().display(),
        trace = trace.display()
    );
    tmux.start(80, 24, &command);
    tmux.wait_for("end of trace");
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("daxtrace-exited-");
    assert!(screen.contains("daxtrace-exited-0"), "{screen}");
    // Raw mode is off again: the terminal settings are those from before.
    // The shell creates `after` before stty writes it: wait for a whole line.
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let start = Instant::now();
    while !read("after").ends_with('\n') {
        assert!(start.elapsed() < PATIENCE, "the shell never got past stty");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        read("before").ends_with('\n'),
        "stty -g before: {:?}",
        read("before")
    );
    assert_eq!(read("before"), read("after"));
}
