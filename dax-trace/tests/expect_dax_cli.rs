//! End-to-end: `daxtrace check --expect-dax MOUNTPOINT` and the `dax mode`
//! line of `report`, on trace files written with the real writer, and on
//! this system (whose filesystems are not on DAX-capable devices).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod trace_file;
use std::process::Command;
use trace_file::write_trace;

use dax_trace::daxmode::Asked;
use dax_trace::event::{Dev, Event, EventBody, StateDaxMode, StateEnd, StateMount};

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

const PMEM0: Dev = Dev::new(259, 0);

/// xfs on /mnt/x since before the trace, with the answer `answer` when
/// given (a trace recorded before the answers existed has none).
fn state(answer: Option<StateDaxMode>) -> Vec<Event> {
    let mount = StateMount {
        dev: PMEM0,
        mounted: true.into(),
        dax: true.into(),
        fstype: "xfs".into(),
        disk: "pmem0".into(),
        mount_point: "/mnt/x".into(),
        ..Default::default()
    };
    let mut bodies = vec![EventBody::StateMount(mount)];
    bodies.extend(answer.map(EventBody::StateDaxMode));
    bodies.push(EventBody::StateEnd(StateEnd {
        mounts: 1,
        ..Default::default()
    }));
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| Event::own(1_000_000 * (i as u64 + 1), b))
        .collect()
}

/// The state with `dax_files` of `sampled` files DAX under `asked`.
fn mounted(asked: Asked, sampled: u32, dax_files: u32) -> Vec<Event> {
    state(Some(StateDaxMode {
        dev: PMEM0,
        asked: asked.code(),
        reported: true.into(),
        sampled,
        dax_files,
        mount_point: "/mnt/x".into(),
        ..Default::default()
    }))
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("runs daxtrace");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn line<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no {id} in {out}"))
}

#[test]
fn a_trace_whose_files_are_dax_passes_and_one_whose_files_are_not_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let on = write_trace(dir.path(), "on.dxt", &mounted(Asked::Always, 3, 3));
    let on = on.to_str().expect("utf8");
    let (code, out) = run(&["check", on, "--expect-dax", "/mnt/x"]);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "dax-in-effect").contains("PASS"), "{out}");

    let off = write_trace(dir.path(), "off.dxt", &mounted(Asked::Inode, 2, 0));
    let off = off.to_str().expect("utf8");
    let (code, out) = run(&["check", off, "--expect-dax", "/mnt/x/"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "/mnt/x/ (pmem0 (259:0)): dax=inode asked, DAX not in effect (0 of 2 files sampled are DAX)"
        ),
        "{out}"
    );
    let (code, out) = run(&["check", on, "--expect-dax", "/mnt/y"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("/mnt/y: not mounted on a DAX-capable device in the trace"),
        "{out}"
    );
}

#[test]
fn an_empty_filesystem_or_an_older_trace_is_inconclusive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write_trace(dir.path(), "empty.dxt", &mounted(Asked::Always, 0, 0));
    let (code, out) = run(&[
        "check",
        empty.to_str().expect("utf8"),
        "--expect-dax",
        "/mnt/x",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("DAX unknown: no regular file to sample"),
        "{out}"
    );
    let older = write_trace(dir.path(), "older.dxt", &state(None));
    let (code, out) = run(&[
        "check",
        older.to_str().expect("utf8"),
        "--expect-dax",
        "/mnt/x",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no sample of its files"), "{out}");
}

#[test]
fn the_report_says_whether_dax_is_in_effect_on_the_mount() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = write_trace(dir.path(), "t.dxt", &mounted(Asked::Inode, 4, 1));
    let (code, out) = run(&["report", t.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "  dax mode      dax=inode asked, DAX partly in effect (1 of 4 files sampled are DAX)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "DAX in effect, per mount point (last sample)\n  /mnt/x (259:0, at +0.001s): dax=inode asked, DAX partly in effect (1 of 4 files sampled are DAX)\n"
        ),
        "{out}"
    );
    let (code, out) = run(&["report", t.to_str().expect("utf8"), "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let m = &v["dax_modes"][0];
    assert_eq!(m["mount_point"], "/mnt/x", "{out}");
    assert_eq!(m["mode"]["asked"], "inode", "{out}");
    assert_eq!(m["mode"]["effect"], "partly", "{out}");
    assert_eq!(m["mode"]["dax_files"], 1, "{out}");
}

#[test]
fn on_this_system_a_filesystem_off_dax_capable_devices_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("utf8");
    let (code, out) = run(&["check", "--expect-dax", path]);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, &format!("- {path}")).contains("is not on a DAX-capable device"),
        "{out}"
    );
    let (code, out) = run(&["check", "--expect-dax", path, "--max-wait", "1s"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("give a trace FILE or --duration D"), "{out}");
    let (code, out) = run(&["check"]);
    assert_eq!(code, 3, "a usage error: {out}");
    assert!(out.contains("--expect-dax <MOUNTPOINT>"), "{out}");
}
