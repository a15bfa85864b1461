//! `daxtrace serve`: a Prometheus exporter over the one [`EventStream`].
//!
//! - [`shared`]: the collector behind a briefly held lock, and the intake task;
//! - [`outcomes`]: claims, releases and faults by API and outcome, events per point (counters the collector does not keep);
//! - [`scrape`]: the numbers one scrape shows, with bounded labels;
//! - [`families`] / [`exposition`]: the metric families and their encoding
//!   (prometheus-client), with content negotiation;
//! - [`http`]: the bounded, read-only HTTP server;
//! - [`privileges`]: dropping capabilities after attaching;
//! - [`process`]: the exporter's own CPU and memory;
//! - [`program_families`]: what its eBPF programs cost (runs, run time).
//!
//! The listening socket is bound before anything else starts, so a taken
//! port is an error before any probe is attached (no half-started server).
pub mod exposition;
pub mod families;
mod flush_families;
pub mod http;
mod orphan_families;
pub mod outcomes;
pub mod privileges;
pub mod process;
pub mod program_families;
pub mod scrape;
pub mod shared;

use std::net::{SocketAddr, TcpListener};

use crate::source::EventStream;

pub use http::HttpLimits;
pub use shared::{Mode, Shared};

/// The port `serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9863;

/// Loopback only, unless `--listen` says otherwise.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))
}

/// The exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}{hint}", hint = bind_hint(source))]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("preparing the listening socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("starting the event intake thread: {0}")]
    Thread(#[source] std::io::Error),
}

fn bind_hint(err: &std::io::Error) -> &'static str {
    match err.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another process uses this port: pick another with --listen ADDR:PORT)"
        }
        std::io::ErrorKind::PermissionDenied => " (ports below 1024 need CAP_NET_BIND_SERVICE)",
        std::io::ErrorKind::AddrNotAvailable => " (no local interface has this address)",
        _ => "",
    }
}

/// Binds the listening socket (blocking, outside any runtime).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    let listener = TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(ServeError::Socket)?;
    Ok(listener)
}

/// Starts folding `stream` and serving `listener` on the current runtime;
/// the server stops when `shutdown` completes. Returns the shared state and
/// the server task.
pub fn spawn(
    listener: TcpListener,
    stream: EventStream,
    mode: Mode,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(Shared, tokio::task::JoinHandle<()>), ServeError> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Socket)?;
    let (shared, _intake) = shared::start(stream, mode).map_err(ServeError::Thread)?;
    let server = tokio::spawn(http::serve(listener, shared.clone(), limits, shutdown));
    Ok((shared, server))
}

#[cfg(test)]
mod tests;
