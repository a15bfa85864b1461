//! The command line around the exporter: a taken port, bad flags,
//! `check --format prometheus -o`, completions and the man page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::Path;
use std::process::{Command, Output};

const DAXTRACE: &str = env!("CARGO_BIN_EXE_daxtrace");

fn daxtrace(args: &[&str]) -> Output {
    Command::new(DAXTRACE)
        .args(args)
        .output()
        .expect("daxtrace runs")
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/dma-truncate-6.1.dxt")
        .display()
        .to_string()
}

#[test]
fn a_taken_port_fails_at_once_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = daxtrace(&["serve", "--replay", &sample(), "--listen", &addr]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("another process uses this port"),
        "{stderr}"
    );
    assert!(!stderr.contains("serving"), "never half-started: {stderr}");
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        vec!["serve", "--listen", "not-an-address"],
        vec!["serve", "--speed", "2"],
        vec!["serve", "--replay", "x.dxt", "--speed", "-1"],
        vec![
            "serve",
            "--replay",
            "/nonexistent.dxt",
            "--listen",
            "127.0.0.1:0",
        ],
    ] {
        let out = daxtrace(&args);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn check_writes_a_textfile_collector_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("daxtrace.prom");
    let out = daxtrace(&[
        "check",
        &sample(),
        "--format",
        "prometheus",
        "-o",
        path.to_str().expect("utf-8"),
    ]);
    // The 6.1 sample holds a lost wakeup: check fails, and says so in the file.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "the verdict goes to the file");
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(
        text.contains("daxtrace_check_outcome{outcome=\"fail\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("daxtrace_check_assertion{assertion=\"no-stuck-waits\",status=\"fail\"} 1"),
        "{text}"
    );
    let entries = std::fs::read_dir(dir.path()).expect("lists").count();
    assert_eq!(entries, 1, "no temporary file left behind");
    // Without --format prometheus, -o writes the report in its format.
    let text_report = daxtrace(&["check", &sample(), "-o", path.to_str().expect("utf-8")]);
    assert_eq!(text_report.status.code(), Some(1));
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(text.starts_with("daxtrace check: FAIL"), "{text}");
}

#[test]
fn completions_and_the_man_page_come_from_the_flags() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef daxtrace"),
        ("fish", "complete -c daxtrace"),
    ] {
        let out = daxtrace(&["completions", shell]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("serve"),
            "{shell} completes the serve subcommand"
        );
    }
    let man = daxtrace(&["man"]);
    assert!(man.status.success());
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(
        text.starts_with(".ie") || text.contains(".TH daxtrace"),
        "{text}"
    );
    assert!(text.contains("serve"), "{text}");
}

#[test]
fn a_replay_drops_every_capability_on_every_thread() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(DAXTRACE)
        .args(["serve", "--replay", &sample(), "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let line = BufReader::new(stderr)
        .lines()
        .map(|l| l.expect("reads"))
        .find(|l| l.contains("serving http://"))
        .expect("serve reports it serves");
    assert!(line.contains("capabilities now []"), "{line}");
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).expect("tasks");
    let mut threads = 0;
    for task in tasks {
        // A thread may end between the listing and the read (the replay
        // reader finishes): only the threads still there are judged.
        let Ok(status) = std::fs::read_to_string(task.expect("task").path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(field("CapEff:"), "0000000000000000", "{status}");
        assert_eq!(field("CapPrm:"), "0000000000000000", "{status}");
        assert_eq!(field("NoNewPrivs:"), "1", "{status}");
        threads += 1;
    }
    assert!(
        threads >= 2,
        "the runtime threads are checked too ({threads})"
    );
    let _ = child.kill();
    let _ = child.wait();
}
