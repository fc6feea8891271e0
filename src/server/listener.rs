//! Accepting client connections and driving each one: HTTP/1.1 (with a header read timeout) or
//! h2c, `TCP_NODELAY`, a bounded table of open connections ([`super::connections`]), and the
//! shutdown drain that waits only for requests in flight.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use super::connections::{Connections, Refused, Ticket};

/// How the server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ListenerSettings {
    /// Most connections held open (already fitted to the open-file limit).
    pub max_connections: usize,
    /// A request's headers must arrive within this; an idle keep-alive connection waits this long
    /// for its next request.
    pub header_timeout: Duration,
    /// How long requests in flight may finish after the shutdown signal.
    pub grace: Duration,
}

/// When `accept` keeps failing, how long to wait before the next try.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);
/// Connections closed at once when the process has run out of file descriptors.
const EVICT_ON_EXHAUSTION: usize = 8;
/// After the grace time, how long cut streams get to deliver their in-band error.
pub const CUT_FLUSH: Duration = Duration::from_millis(500);

/// Accepts and serves connections until `shutdown` resolves, then drains: idle connections
/// close at once, requests in flight get up to the grace time. `at_grace_end` runs when the grace
/// time is over with requests still open (streams are told to end); they then get
/// [`CUT_FLUSH`] before the rest is closed.
pub async fn run(
    listener: TcpListener,
    app: Router,
    settings: ListenerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    at_grace_end: impl FnOnce() + Send + 'static,
) -> io::Result<()> {
    let connections = Connections::new(settings.max_connections);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accepting = tokio::spawn(accept_loop(listener, app, settings, connections.clone(), stop_rx));
    tokio::select! {
        ended = &mut accepting => {
            return Err(io::Error::other(format!("the accept loop stopped: {ended:?}")));
        }
        () = shutdown => {}
    }
    // New connections are refused from here on (the listening socket closes with the task).
    accepting.abort();
    tracing::info!(
        "shutting down: {} request(s) in flight may finish for up to {} s",
        connections.busy(),
        settings.grace.as_secs_f64()
    );
    connections.shut_down();
    let _ = stop_tx.send(true);
    if tokio::time::timeout(settings.grace, connections.closed()).await.is_ok() {
        return Ok(());
    }
    tracing::warn!("grace time over; ending {} open request(s)", connections.busy());
    at_grace_end();
    let _ = tokio::time::timeout(CUT_FLUSH, connections.closed()).await;
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    settings: ListenerSettings,
    connections: Arc<Connections>,
    stop: watch::Receiver<bool>,
) {
    let mut exhausted_logged = false;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) if is_per_connection(&err) => continue,
            Err(err) => {
                // Out of descriptors: idle connections give theirs back, real clients keep
                // getting in (the pending ones wait in the listen backlog meanwhile).
                let freed = connections.evict_idle(EVICT_ON_EXHAUSTION);
                if !exhausted_logged {
                    tracing::warn!("cannot accept connections: {err}; closed {freed} idle connection(s)");
                    exhausted_logged = true;
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        exhausted_logged = false;
        let ticket = match connections.admit() {
            Ok(ticket) => ticket,
            Err(Refused::Full) => {
                tracing::debug!(%peer, "connection refused: every connection slot serves a request");
                continue;
            }
            Err(Refused::ShuttingDown) => continue,
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {err}");
        }
        tokio::spawn(serve_connection(tcp, peer, app.clone(), ticket, settings.header_timeout, stop.clone()));
    }
}

/// Errors of one connection that never made it (reset before accept): the listener is fine.
fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    ticket: Ticket,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let close = ticket.close_signal();
    // The protocol is detected from the first bytes, before HTTP/1's header timer runs: a client
    // that never sends one gets the same limit.
    let mut first = [0u8; 1];
    tokio::select! {
        peeked = tokio::time::timeout(header_timeout, tcp.peek(&mut first)) => match peeked {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        },
        () = close.notified() => return,
    }
    let handle = ticket.handle();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(handle.clone());
        app.clone().oneshot(request.map(Body::new))
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%peer, "connection ended: {err}");
            }
            return;
        }
        () = close.notified() => return,
        _ = stop.wait_for(|stopping| *stopping) => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = connection.as_mut() => {}
        () = close.notified() => {}
    }
}
