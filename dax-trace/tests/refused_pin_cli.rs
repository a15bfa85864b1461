//! Refused long-term pins name their file in every front end that reads a
//! trace: the shipped sample (format 5 and later) carries the file as the kernel
//! named it at the refusal (path under the mount point, inode, device), and
//! the same sample as format 4 wrote it (the path read from /proc/PID/maps,
//! kept in `tests/fixtures/synthetic-6.1-v4.dxt`) still reads with its path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/synthetic-6.1.dxt")
}

fn v4_sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/synthetic-6.1-v4.dxt")
}

fn stdout(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("runs daxtrace");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn version(file: &PathBuf) -> u32 {
    let bytes = std::fs::read(file).expect("read trace");
    u32::from_le_bytes(bytes[8..12].try_into().expect("preamble"))
}

#[test]
fn the_report_names_the_refused_file_with_its_inode_from_the_kernel() {
    assert!(version(&sample()) >= 5, "format 5 or later");
    let text = stdout(&["report", sample().to_str().unwrap()]);
    assert!(
        text.contains(
            "asked 2 times to pin 64 pages of /mnt/pmem0/ring.buf (inode 14 on 259:0) long term"
        ),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&["report", sample().to_str().unwrap(), "--json"]))
            .expect("json report");
    let refused = &json["summary"]["pins"]["refused"][0];
    assert_eq!(refused["path"], "/mnt/pmem0/ring.buf", "{refused}");
    assert_eq!(refused["ino"], 14, "{refused}");
    assert_eq!(refused["path_from"], 2, "{refused}");
}

#[test]
fn a_format_4_trace_still_names_the_file_it_read_from_proc() {
    let old = v4_sample();
    assert_eq!(version(&old), 4);
    let text = stdout(&["report", old.to_str().unwrap()]);
    assert!(
        text.contains("asked 2 times to pin 64 pages of /mnt/pmem0/ring.buf long term"),
        "{text}"
    );
    let events = stdout(&[
        "export",
        old.to_str().unwrap(),
        "--format",
        "jsonl",
        "-o",
        "-",
    ]);
    let refused: Vec<serde_json::Value> = events
        .lines()
        .filter(|l| l.contains("refused-pin"))
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(refused.len(), 2);
    for r in &refused {
        assert_eq!(r["body"]["path"], "/mnt/pmem0/ring.buf", "{r}");
        assert_eq!(r["body"]["path_from"], 0, "{r}");
        assert_eq!(r["body"]["ino"], 0, "{r}");
    }
    let check = stdout(&["check", old.to_str().unwrap()]);
    assert!(check.contains("/mnt/pmem0/ring.buf"), "{check}");
}
