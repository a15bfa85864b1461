//! Degraded coverage on the machine running the tests, which is the case
//! itself: the 6.18 host refuses fentry (EPERM) and has no kprobes, so most
//! families are missing. `probes` must say why and exit 3, `--require` must
//! end a live command at once, and `serve` must answer /healthz with 503
//! "degraded" and a 0 gauge for each missing family. Assertions follow what
//! `probes --json` finds attached here, so a fully covered machine runs the
//! healthy side of each check instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod binary;
use binary::daxtrace;

/// The attached probe table, or `None` when this machine cannot attach
/// (not root, no BTF): then there is nothing live to test.
fn attached_table() -> Option<Value> {
    let (_, stdout, _) = daxtrace(&["probes", "--json"]);
    let doc: Value = serde_json::from_str(&stdout).expect("JSON report");
    if doc["mode"] != "attached" {
        println!(
            "skipping: probes not attached here: {}",
            doc["not_attached_because"]
        );
        return None;
    }
    Some(doc)
}

/// (family, attached) for every family of the table that this kernel
/// needs (a family the kernel makes unnecessary is neither missing nor
/// exported: `ProbeReport::not_needed`).
fn families(doc: &Value) -> Vec<(String, bool)> {
    let report: dax_trace::session::probe_report::ProbeReport =
        serde_json::from_value(doc.clone()).expect("a probe report");
    doc["families"]
        .as_array()
        .expect("families")
        .iter()
        .zip(&report.families)
        .filter(|(_, f)| report.not_needed(f).is_none())
        .map(|(f, _)| {
            let attached = f["points"]
                .as_array()
                .expect("points")
                .iter()
                .any(|p| p["status"]["status"] == "attached");
            (f["family"].as_str().expect("name").to_string(), attached)
        })
        .collect()
}

fn fentry_refused(doc: &Value) -> bool {
    doc["families"].to_string().contains("fentry failed: ")
}

#[test]
fn probes_names_why_trampolines_are_refused_and_the_fallbacks() {
    let Some(doc) = attached_table() else { return };
    let diagnosis: Vec<&str> = doc["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(Value::as_str)
        .filter(|p| p.starts_with("trampolines (fentry/fexit) refused ("))
        .collect();
    if !fentry_refused(&doc) {
        assert!(diagnosis.is_empty(), "{diagnosis:?}");
        return;
    }
    assert_eq!(diagnosis.len(), 1, "one line: {:?}", doc["problems"]);
    let line = diagnosis[0];
    assert!(line.contains("fallbacks here: tracepoints "), "{line}");
    for kind in ["raw tracepoints", "tp_btf", "kprobe-multi", "kprobes"] {
        assert!(line.contains(kind), "{kind} in {line}");
    }
    // The text table prints the same line.
    let (_, text, _) = daxtrace(&["probes"]);
    assert!(text.contains(line), "{text}");
}

#[test]
fn probes_exit_status_follows_the_required_families() {
    let Some(doc) = attached_table() else { return };
    let table = families(&doc);
    let missing: Vec<&str> = table
        .iter()
        .filter(|(_, a)| !a)
        .map(|(f, _)| f.as_str())
        .collect();
    let attached: Vec<&str> = table
        .iter()
        .filter(|(_, a)| *a)
        .map(|(f, _)| f.as_str())
        .collect();
    if !attached.is_empty() {
        let (code, _, stderr) = daxtrace(&["probes", "--require", &attached.join(",")]);
        assert_eq!(code, 0, "{attached:?} are attached: {stderr}");
    }
    if missing.is_empty() {
        println!("every family attaches here: no exit-3 case");
        return;
    }
    let wanted = format!(
        "{},{}",
        attached.first().copied().unwrap_or(missing[0]),
        missing[0]
    );
    let (code, stdout, stderr) = daxtrace(&["probes", "--require", &wanted]);
    assert_eq!(code, 3, "{wanted}: {stderr}");
    assert!(
        stdout.contains(&format!("missing required families: {}", missing[0])),
        "{stdout}"
    );
    // Without --require: 3 exactly when claim or release is missing.
    let core_missing = missing.iter().any(|f| *f == "claim" || *f == "release");
    let (code, _, _) = daxtrace(&["probes"]);
    assert_eq!(code, if core_missing { 3 } else { 0 });
}

#[test]
fn every_live_command_requiring_a_missing_family_ends_at_once_with_3() {
    let Some(doc) = attached_table() else { return };
    let Some((missing, _)) = families(&doc).into_iter().find(|(_, a)| !a) else {
        println!("every family attaches here");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("t.dxt");
    let out = out.to_str().expect("utf-8");
    let commands: [&[&str]; 5] = [
        &["check", "--duration", "600", "--save-trace", out],
        &["record", "--duration", "600", "-o", out],
        &["top", "--batch", "--iterations", "600"],
        &["serve", "--listen", "127.0.0.1:0"],
        &["probes", "--listen", "600"],
    ];
    for command in commands {
        let started = Instant::now();
        let mut args = command.to_vec();
        args.extend(["--require", &missing]);
        let (code, _, stderr) = daxtrace(&args);
        assert_eq!(code, 3, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("required probe family not attached: {missing}")),
            "{args:?}: {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{args:?} ended after attaching, not after its 600 s"
        );
    }
}

/// One GET over a plain socket: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("reads");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_reports_degraded_health_and_a_gauge_per_family() {
    let Some(doc) = attached_table() else { return };
    let table = families(&doc);
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_daxtrace"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts serve"),
    );
    let stderr = server.0.stderr.take().expect("stderr");
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        if let Some(rest) = line.split("serving http://").nth(1) {
            addr = rest.strip_suffix("/metrics").map(str::to_string);
            break;
        }
    }
    let addr = addr.expect("serve announces its address");

    let (status, body) = get(&addr, "/healthz");
    let health: Value = serde_json::from_str(&body).expect("healthz JSON");
    let core_missing: Vec<&str> = table
        .iter()
        .filter(|(f, a)| !a && (f == "claim" || f == "release"))
        .map(|(f, _)| f.as_str())
        .collect();
    if core_missing.is_empty() {
        assert_eq!(
            (status, &health["status"]),
            (200, &Value::from("ok")),
            "{body}"
        );
    } else {
        assert_eq!(status, 503, "{body}");
        assert_eq!(health["status"], "degraded", "{body}");
        for family in &core_missing {
            assert!(
                health["degraded_because"]
                    .to_string()
                    .contains(&format!("probe family {family} not attached")),
                "{body}"
            );
        }
    }
    let missing: Vec<Value> = table
        .iter()
        .filter(|(_, a)| !a)
        .map(|(f, _)| Value::from(f.as_str()))
        .collect();
    assert_eq!(health["families_missing"], Value::Array(missing), "{body}");

    let (status, metrics) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    for (family, attached) in &table {
        let line = format!(
            "daxtrace_probe_family_attached{{family=\"{family}\"}} {}",
            u8::from(*attached)
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}
