//! The HTTP side: `/metrics`, `/healthz` and `/`, read-only, on hyper's
//! HTTP/1 server with bounded connections, header size and time.
//!
//! Bounds (see [`HttpLimits`]): at most `max_connections` connections are
//! served at once (more are accepted and closed at once, so the backlog
//! never fills); request headers must arrive within `header_timeout` and fit
//! `max_header_bytes`; a connection lives at most `connection_timeout`, which
//! also bounds a client that never reads its response. Nothing a client does
//! touches the event intake: a scrape holds the state lock only while
//! copying numbers out (see `state.rs`).
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::exposition::{self, Format};
use super::families::Families;
use super::process;
use super::program_families::ProgramFigures;
use super::scrape::Scrape;
use super::shared::Shared;
use crate::session::probe_report::CORE_FAMILIES;

/// Limits on what clients may take.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub connection_timeout: Duration,
    /// Read buffer of a connection, which bounds the request head (hyper's minimum is 8 KiB).
    pub max_header_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 128,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Serves `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shared: Shared,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn!("accepting a connection: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            log::debug!(
                "closing connection from {peer}: {} connections open",
                limits.max_connections
            );
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            connection(stream, peer, shared, &limits).await;
            drop(permit);
        });
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Shared,
    limits: &HttpLimits,
) {
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(&shared, &req)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(limits.connection_timeout, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => log::debug!("connection from {peer}: {err}"),
        Err(_) => log::debug!(
            "connection from {peer} closed after {:?}",
            limits.connection_timeout
        ),
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

const INDEX: &str = "<html><head><title>daxtrace exporter</title></head><body>\
<h1>daxtrace exporter</h1><ul>\
<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics (OpenMetrics or text 0.0.4)</li>\
<li><a href=\"/healthz\">/healthz</a>: probes attached (503 degraded without claim or release), age of the last event</li>\
</ul></body></html>\n";

/// Answers one request (read-only: no endpoint changes anything).
pub fn respond<B>(shared: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
    let text = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = response(StatusCode::METHOD_NOT_ALLOWED, text, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut r = match req.uri().path() {
        "/metrics" => {
            let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
            metrics(shared, exposition::negotiate(accept))
        }
        "/healthz" => health(shared),
        "/" => response(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        _ => response(StatusCode::NOT_FOUND, text, "not found: see /\n"),
    };
    if req.method() == Method::HEAD {
        *r.body_mut() = Full::new(Bytes::new());
    }
    r
}

fn metrics(shared: &Shared, format: Format) -> Response<Full<Bytes>> {
    let (scrape, programs) = {
        let state = shared.lock();
        (Scrape::take(&state), state.programs.clone())
    };
    // Read outside the lock: a syscall per program.
    let costs = programs.map(|p| p.read()).unwrap_or_default();
    let families = Families {
        scrape,
        process: process::read(),
        programs: ProgramFigures::read(costs),
    };
    match exposition::render(families, format) {
        Ok(body) => response(StatusCode::OK, format.content_type(), body),
        Err(_) => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "encoding the metrics failed\n",
        ),
    }
}

/// `/healthz`: JSON with the probes attached and the age of the last event.
/// 200 "ok" while probes are attached (live) or the replay has not failed;
/// 503 "unhealthy" when a live source has stopped or nothing is attached, or
/// when any source failed; 503 "degraded" when a live capture lacks a core
/// family (claim or release: no claim or release would ever be counted).
fn health(shared: &Shared) -> Response<Full<Bytes>> {
    let state = shared.lock();
    let probes = &state.info.probes;
    let (attached, total) = probes.attached_count();
    let live = state.mode == super::shared::Mode::Live;
    let missing: Vec<&str> = probes
        .families
        .iter()
        .filter(|f| !f.attached() && probes.not_needed(f).is_none())
        .map(|f| f.family.as_str())
        .collect();
    let core_missing = if live {
        probes.missing_of(&CORE_FAMILIES)
    } else {
        Vec::new()
    };
    let failed = state.source_failure.is_some();
    let status = if failed || (live && (state.source_ended || attached == 0)) {
        "unhealthy"
    } else if !core_missing.is_empty() {
        "degraded"
    } else {
        "ok"
    };
    let body = serde_json::json!({
        "status": status,
        "source": if live { "live" } else { "replay" },
        "probes_attached": attached,
        "probes_total": total,
        "families_missing": missing,
        "problems": &probes.problems,
        "degraded_because": core_missing
            .iter()
            .map(|f| format!("probe family {f} not attached"))
            .collect::<Vec<_>>(),
        "events": state.collector.totals().events,
        "last_event_age_seconds": state.last_event_at.map(|t| t.elapsed().as_secs_f64()),
        "source_ended": state.source_ended,
        "source_failure": state.source_failure,
    });
    drop(state);
    let status = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response(status, "application/json", format!("{body}\n"))
}
