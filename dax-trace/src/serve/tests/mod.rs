//! In-process tests of the exporter over real sockets: negotiation, the
//! read-only endpoints, bounds against hostile clients, and a taken port.
mod faults;
mod flushes;
mod health;
mod orphans;
mod shared;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::*;
use crate::source::Feed;
use crate::testkit::synthetic;

/// Guard so a broken server fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(20);

struct Running {
    addr: SocketAddr,
    shared: Shared,
    events: Feed,
    _stop: oneshot::Sender<()>,
}

fn start(limits: HttpLimits) -> Running {
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("binds");
    let addr = listener.local_addr().expect("addr");
    let (stream, events) = EventStream::channel(synthetic::session());
    let (stop, stopped) = oneshot::channel::<()>();
    let (shared, _server) = spawn(listener, stream, Mode::Replay, limits, async {
        let _ = stopped.await;
    })
    .expect("spawns");
    Running {
        addr,
        shared,
        events,
        _stop: stop,
    }
}

/// Sends `request` as is and reads until the server closes.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.expect("connects");
        s.write_all(request).await.expect("writes");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    };
    tokio::time::timeout(GUARD, exchange)
        .await
        .expect("server answered")
}

async fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> String {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{accept}Connection: close\r\n\r\n");
    raw(addr, req.as_bytes()).await
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

async fn wait_for_events(shared: &Shared, n: u64) {
    let wait = async {
        while shared.lock().collector.totals().events < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(GUARD, wait)
        .await
        .expect("events folded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_negotiated_and_always_typed() {
    let r = start(HttpLimits::default());
    let events = synthetic::scenario();
    r.events.send(events.clone()).await.expect("sends");
    wait_for_events(&r.shared, events.len() as u64).await;

    let om = get(
        r.addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .await;
    assert!(om.starts_with("HTTP/1.1 200"), "{om}");
    assert_eq!(
        header(&om, "content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(body(&om).ends_with("# EOF\n"));
    let expected = format!(
        "daxtrace_events_total{{kind=\"claim\"}} {}",
        events.iter().filter(|e| e.body.name() == "claim").count()
    );
    assert!(body(&om).contains(&expected), "{expected} in {om}");

    let text = get(r.addr, "/metrics", None).await;
    assert_eq!(
        header(&text, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!body(&text).contains("# EOF"));
    assert!(body(&text).contains(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_read_only() {
    let r = start(HttpLimits::default());
    let post = raw(
        r.addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert_eq!(header(&post, "allow"), Some("GET, HEAD"));
    let missing = get(r.addr, "/admin", None).await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(header(&missing, "content-type").is_some());
    let index = get(r.addr, "/", None).await;
    assert!(body(&index).contains("href=\"/metrics\""), "{index}");
    let health = get(r.addr, "/healthz", None).await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let json: serde_json::Value = serde_json::from_str(body(&health)).expect("json");
    assert_eq!(json["source"], "replay");
    let head = raw(
        r.addr,
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body(&head), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_source_makes_it_unhealthy() {
    let r = start(HttpLimits::default());
    let healthy = get(r.addr, "/healthz", None).await;
    assert!(healthy.starts_with("HTTP/1.1 200"), "{healthy}");
    let Running {
        addr,
        shared,
        events,
        _stop,
    } = r;
    events.fail("the trace is corrupt at byte 900");
    let ended = async {
        while !shared.lock().source_ended {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(GUARD, ended)
        .await
        .expect("intake ends");
    let health = get(addr, "/healthz", None).await;
    assert!(health.starts_with("HTTP/1.1 503"), "{health}");
    let json: serde_json::Value = serde_json::from_str(body(&health)).expect("json");
    assert_eq!(json["status"], "unhealthy");
    assert_eq!(json["source_failure"], "the trace is corrupt at byte 900");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_cut_off_by_the_header_timeout() {
    let r = start(HttpLimits {
        header_timeout: Duration::from_millis(200),
        ..HttpLimits::default()
    });
    // Half a request line, then nothing: the server must close, not wait forever.
    let answer = raw(r.addr, b"GET /metr").await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused() {
    let r = start(HttpLimits::default());
    let big = "a".repeat(64 * 1024);
    let req = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let answer = raw(r.addr, req.as_bytes()).await;
    assert!(
        !answer.contains("200 OK"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // And the server still answers others.
    assert!(
        get(r.addr, "/metrics", None)
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_bound_are_closed_and_intake_goes_on() {
    let r = start(HttpLimits {
        max_connections: 2,
        ..HttpLimits::default()
    });
    // Two clients hold their connections open without sending a byte.
    let hog1 = TcpStream::connect(r.addr).await.expect("connects");
    let hog2 = TcpStream::connect(r.addr).await.expect("connects");
    // Once the server has accepted both, a third connection is closed
    // without an answer (until then it may still be served).
    let closed = async {
        while !get(r.addr, "/metrics", None).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(GUARD, closed)
        .await
        .expect("a connection beyond the bound is closed");
    // Meanwhile events keep being folded.
    let events: Vec<_> = synthetic::page_storm(5000).collect();
    for chunk in events.chunks(crate::source::BATCH_MAX) {
        r.events.send(chunk.to_vec()).await.expect("sends");
    }
    wait_for_events(&r.shared, 5000).await;
    drop((hog1, hog2));
    let served = async {
        loop {
            let answer = get(r.addr, "/metrics", None).await;
            if answer.starts_with("HTTP/1.1 200") {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let answer = tokio::time::timeout(GUARD, served)
        .await
        .expect("served again");
    assert!(
        body(&answer).contains("daxtrace_events_total{kind=\"busy-page\"}"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("addr");
    let err = bind(addr).expect_err("the port is taken");
    let text = err.to_string();
    assert!(matches!(err, ServeError::Bind { .. }), "{err:?}");
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.contains("another process uses this port"), "{text}");
}
