//! `daxtrace serve` against the real Prometheus tools (Debian's prometheus
//! package, installed by `cargo xtask setup`): promtool lints the text
//! rendering, promtool tests the alerting rules, and a Prometheus server of
//! our own (loopback port and data directory of its own) scrapes
//! `serve --replay` of the shipped 6.1 sample; its query API must give the
//! figures `daxtrace report --json` gives for the same file.
//!
//! Without the tools these tests say so and pass, except under CI (the
//! `CI` variable set), where set-up must have provided them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const DAXTRACE: &str = env!("CARGO_BIN_EXE_daxtrace");
/// Guard against a hang, not a timed assertion.
const GUARD: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample() -> PathBuf {
    root().join("samples/dma-truncate-6.1.dxt")
}

/// True when `tool` runs; otherwise prints why the test is skipped (or
/// panics under CI, where set-up installs it).
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing under CI: `cargo xtask setup` installs Debian's prometheus package"
        );
        eprintln!(
            "skipped: {tool} is not installed (apt-get install --no-install-recommends prometheus)"
        );
    }
    found
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `daxtrace serve ARGS --listen 127.0.0.1:0` and returns it with the
/// address it says it bound.
fn serve(args: &[&str]) -> (Running, SocketAddr) {
    let mut child = Command::new(DAXTRACE)
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daxtrace starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve says where it listens before exiting")
            .expect("reads stderr");
        if let Some(rest) = line.split("serving http://").nth(1) {
            break rest
                .trim_end_matches("/metrics")
                .parse::<SocketAddr>()
                .expect("an address");
        }
    };
    // Keep draining stderr so serve never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Running(child), addr)
}

/// A plain HTTP/1.1 GET; returns (head, body).
fn http_get(addr: SocketAddr, path_and_query: &str, accept: Option<&str>) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(GUARD)).expect("timeout");
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )
    .expect("writes");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("reads");
    let (head, body) = out.split_once("\r\n\r\n").expect("a response");
    (head.to_string(), body.to_string())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn report_json() -> Value {
    let out = Command::new(DAXTRACE)
        .args(["report", "--json"])
        .arg(sample())
        .output()
        .expect("report runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report JSON")
}

fn sum_devices(report: &Value, field: impl Fn(&Value) -> u64) -> u64 {
    report["summary"]["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(field)
        .sum()
}

#[test]
fn promtool_finds_the_text_rendering_clean() {
    if !have("promtool") {
        return;
    }
    let (_serve, addr) = serve(&["--replay", sample().to_str().expect("utf-8 path")]);
    let (head, body) = http_get(addr, "/metrics", None);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("daxtrace_stuck_waits_total"), "{body}");
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    lint.stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feeds promtool");
    let out = lint.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_tests_the_alerting_rules() {
    if !have("promtool") {
        return;
    }
    let dir = root().join("deploy/prometheus");
    for args in [
        ["check", "rules", "daxtrace-alerts.yml"],
        ["test", "rules", "daxtrace-alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs a PromQL instant query; the single sample's value (None: no sample).
fn query(prom: SocketAddr, promql: &str) -> Option<f64> {
    let (head, body) = http_get(
        prom,
        &format!("/api/v1/query?query={}", percent_encode(promql)),
        None,
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{promql}: {head}\n{body}");
    let v: Value = serde_json::from_str(&body).expect("query JSON");
    let result = v["data"]["result"].as_array()?;
    assert!(result.len() <= 1, "{promql} gave {} series", result.len());
    result
        .first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|x| x.parse().ok())
}

#[test]
fn a_real_prometheus_scrapes_what_report_says() {
    if !have("prometheus") {
        return;
    }
    let report = report_json();
    let (_serve, target) = serve(&["--replay", sample().to_str().expect("utf-8 path")]);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: daxtrace\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("config");
    let prom = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={prom}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).expect("log"))
            .spawn()
            .expect("prometheus starts"),
    );

    // Wait until a scrape of the final state is stored (the first one lands
    // some seconds after start).
    let started = Instant::now();
    let events = report["summary"]["totals"]["events"]
        .as_u64()
        .expect("events");
    loop {
        let ready = TcpStream::connect(prom).is_ok()
            && query(prom, "up{job=\"daxtrace\"}") == Some(1.0)
            && query(prom, "sum(daxtrace_events_total)") == Some(events as f64);
        if ready {
            break;
        }
        assert!(
            started.elapsed() < GUARD,
            "Prometheus never stored a complete scrape; its log:\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    let balance = |field: &'static str| {
        sum_devices(&report, move |d| {
            d["balance"][field].as_u64().expect("a count")
        }) as f64
    };
    assert_eq!(
        query(prom, "sum(daxtrace_claims_total{outcome=\"granted\"})"),
        Some(balance("claims"))
    );
    assert_eq!(
        query(
            prom,
            "sum(daxtrace_claims_total{outcome=\"refused\"}) or vector(0)"
        ),
        Some(balance("refused"))
    );
    assert_eq!(
        query(prom, "sum(daxtrace_releases_total{outcome=\"matched\"})"),
        Some(balance("releases"))
    );
    let waits = sum_devices(&report, |d| d["waits"].as_u64().expect("waits"));
    assert!(waits > 0, "the sample has waits");
    assert_eq!(
        query(
            prom,
            "sum(daxtrace_break_layout_wait_duration_seconds_count)"
        ),
        Some(waits as f64)
    );
    let total_ns = sum_devices(&report, |d| d["wait_total_ns"].as_u64().expect("ns"));
    let sum = query(prom, "sum(daxtrace_break_layout_wait_duration_seconds_sum)").expect("sum");
    assert!(
        (sum - total_ns as f64 / 1e9).abs() < 1e-6,
        "{sum} vs {total_ns} ns"
    );
    let stuck = report["summary"]["stuck_waits"].as_u64().expect("stuck");
    assert!(stuck > 0, "the 6.1 sample holds the lost wakeup");
    assert_eq!(
        query(prom, "sum(daxtrace_stuck_waits_total)"),
        Some(stuck as f64)
    );
    assert_eq!(
        query(prom, "sum(daxtrace_claims_open)"),
        Some(sum_devices(&report, |d| d["outstanding"].as_u64().expect("open")) as f64)
    );

    // Every query of the Grafana dashboard parses and runs on real data.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/daxtrace-dashboard.json"))
            .expect("dashboard"),
    )
    .expect("dashboard JSON");
    let mut queries = 0;
    for target in dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
    {
        let expr = target["expr"].as_str().expect("expr");
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*")
            .replace("$device", ".*");
        let (head, body) = http_get(
            prom,
            &format!("/api/v1/query?query={}", percent_encode(&expr)),
            None,
        );
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "dashboard query {expr}: {body}"
        );
        queries += 1;
    }
    assert!(queries >= 10, "{queries} dashboard queries");

    // histogram_quantile interpolates inside the power-of-two bucket that
    // holds the report's p99: within that bucket's bounds.
    let p99_ns = report["summary"]["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["wait_p99_ns"].as_u64().expect("p99"))
        .max()
        .expect("a device");
    let q = query(
        prom,
        "histogram_quantile(0.99, sum by (le) (daxtrace_break_layout_wait_duration_seconds_bucket))",
    )
    .expect("a quantile");
    let upper = (p99_ns.next_power_of_two()) as f64 / 1e9;
    let lower = upper / 2.0;
    assert!(
        q > lower && q <= upper,
        "histogram_quantile {q} s outside ({lower}, {upper}] around the report's p99 {p99_ns} ns"
    );
}
