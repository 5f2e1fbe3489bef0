//! Accepting and serving connections (HTTP/1.1 and h2c) so that no client can hold the
//! server's connections or descriptors: a request's header must arrive within the
//! header timeout, a connection without a request in progress is closed after the idle
//! timeout, and when descriptors run out the accept loop logs, backs off and carries on
//! instead of stopping. (`axum::serve` has none of these timeouts.)

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// How long a client may take; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// From the first byte of a request (or the connection's start) to its last header.
    pub header_read: Duration,
    /// A connection with no request in progress for this long is closed.
    pub idle: Duration,
    /// From a request's header to the last byte of its body.
    pub body_read: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            body_read: Duration::from_secs(60),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets
/// every connection finish its request in progress and returns once all are closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: ConnectionTimeouts,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(());
    let mut backoff = MIN_BACKOFF;
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, remote)) => {
                backoff = MIN_BACKOFF;
                tokio::spawn(serve_connection(
                    stream,
                    remote,
                    router.clone(),
                    timeouts,
                    stopping.clone(),
                ));
            }
            // The peer gave up before we accepted: nothing to do.
            Err(error) if is_peer_error(&error) => {}
            // Out of descriptors (or another resource): keep serving the connections we
            // have, and accept again once some close.
            Err(error) => {
                if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(%error, backoff_ms = backoff.as_millis(), "cannot accept connections; retrying");
                    last_warning = Some(Instant::now());
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    drop(listener);
    drop(stopping);
    // Tell every connection to finish, then wait until all have dropped their receiver.
    let _ = stop.send(());
    stop.closed().await;
}

const MIN_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

fn is_peer_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Whether a connection has a request in progress, and since when it has had none.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when the last request ended.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
        self.started.elapsed().saturating_sub(since)
    }
}

/// A request in progress; it ends when dropped (answered, or abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.started.elapsed().as_millis() as u64;
        self.0.idle_since_ms.store(now, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    timeouts: ConnectionTimeouts,
    mut stopping: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity {
        started: Instant::now(),
        in_flight: AtomicUsize::new(0),
        idle_since_ms: AtomicU64::new(0),
    });
    let service = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let in_flight = activity.begin();
            request.extensions_mut().insert(ConnectInfo(remote));
            let response = router.clone().oneshot(request.map(axum::body::Body::new));
            async move {
                let response = response.await;
                drop(in_flight);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let check_every = (timeouts.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    // Once asked to close, a connection finishes its answer in progress, but a client
    // that never reads it does not hold the connection past another idle timeout.
    let mut closing_deadline: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %remote, "connection ended with an error");
                }
                break;
            }
            _ = stopping.changed(), if closing_deadline.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing_deadline = Some(tokio::time::Instant::now() + timeouts.idle);
            }
            () = tokio::time::sleep(check_every), if closing_deadline.is_none() => {
                if activity.idle_for() >= timeouts.idle {
                    tracing::debug!(%remote, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    closing_deadline = Some(tokio::time::Instant::now() + timeouts.idle);
                }
            }
            () = tokio::time::sleep_until(closing_deadline.unwrap_or_else(tokio::time::Instant::now)),
                if closing_deadline.is_some() => {
                tracing::debug!(%remote, "dropping a connection that did not close in time");
                break;
            }
        }
    }
}
