//! The HTTP edge: our own accept loop (hyper's HTTP/1.1 on tokio, in place
//! of `axum::serve`), so that no connection can hold the service hostage.
//!
//! Each connection is in one phase at a time, and the phase decides how long
//! it may stay there:
//!
//! | phase | from | closed after |
//! |---|---|---|
//! | head | the connection's start, or the first byte after an idle spell | `header_timeout` without a whole request head |
//! | idle | the end of an answer on a kept-alive connection | `idle_timeout` without a first byte |
//! | handling | the head is read; the handler runs (its body has `body_timeout`, in `body.rs`) | never by the edge |
//! | answering | the handler answered; the answer is being written | `idle_timeout` without the client taking a byte |
//!
//! At most `max_connections` connections are open: past that the loop stops
//! accepting, so new connections wait in the kernel's listen backlog (1,024
//! on tokio's `TcpListener::bind`) until one closes, and the kernel refuses
//! them when that is full too.
//!
//! On shutdown the listener is closed at once (new connections are
//! refused), connections with no request in hand are closed, and the others
//! finish their request (keep-alive off) until `shutdown_timeout`; what is
//! still running then is dropped.

use crate::Config;
use axum::Router;
use axum::body::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Serves `router` on `listener` until `shutdown` completes, then drains the
/// connections as the module docs say. Returns the deadline by which
/// whatever is still running should be let go.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Instant {
    let limits = Limits::of(config);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Once every 10 seconds at most: under attack this would
                // otherwise be a line per connection closed.
                if warned_full.is_none_or(|at| at.elapsed().as_secs() >= 10) {
                    tracing::warn!(
                        target: "csip::edge",
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait in the listen backlog"
                    );
                    warned_full = Some(Instant::now());
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            stopping.clone(),
            permit,
        ));
    }
    drop(listener);
    let deadline = Instant::now() + limits.shutdown_timeout;
    let _ = stop.send(true);
    while connections.try_join_next().is_some() {}
    if !connections.is_empty() {
        tracing::info!(
            target: "csip::edge",
            connections = connections.len(),
            "shutting down: no new connections; requests in progress may finish within {:?}",
            limits.shutdown_timeout
        );
    }
    let drained = tokio::time::timeout_at(deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            target: "csip::edge",
            connections = connections.len(),
            "shutdown deadline reached: the requests still running are dropped"
        );
        connections.shutdown().await;
    }
    deadline
}

/// What the edge enforces, from [`Config`].
#[derive(Clone, Copy, Debug)]
struct Limits {
    header_timeout: std::time::Duration,
    idle_timeout: std::time::Duration,
    max_connections: usize,
    shutdown_timeout: std::time::Duration,
}

impl Limits {
    fn of(config: &Config) -> Limits {
        Limits {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            shutdown_timeout: config.shutdown_timeout,
        }
    }
}

/// An accept that failed: a connection given up before it was accepted
/// costs nothing; anything else (out of file descriptors) is logged and
/// retried after a pause instead of spinning.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(target: "csip::edge", error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

/// Where a connection is; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Head,
    Idle,
    Handling,
    Answering,
}

/// A connection's phase and since when, shared by its socket, its service
/// and its watchdog.
#[derive(Debug)]
struct Watch {
    phase: Mutex<(Phase, Instant)>,
    changed: Notify,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            phase: Mutex::new((Phase::Head, Instant::now())),
            changed: Notify::new(),
        }
    }

    fn get(&self) -> (Phase, Instant) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = (phase, Instant::now());
        self.changed.notify_one();
    }

    /// Bytes came in: an idle connection starts a request head.
    fn read_some(&self) {
        let mut state = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 == Phase::Idle {
            *state = (Phase::Head, Instant::now());
            self.changed.notify_one();
        }
    }

    /// Bytes went out: an answer being written made progress. (The
    /// watchdog finds the later deadline when the earlier one fires.)
    fn wrote_some(&self) {
        let mut state = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 == Phase::Answering {
            state.1 = Instant::now();
        }
    }

    /// The phase, and when the connection is to be closed if it stays in it.
    fn deadline(&self, limits: Limits) -> (Phase, Option<Instant>) {
        let (phase, since) = self.get();
        let wait = match phase {
            Phase::Head => Some(limits.header_timeout),
            Phase::Idle | Phase::Answering => Some(limits.idle_timeout),
            Phase::Handling => None,
        };
        (phase, wait.map(|w| since + w))
    }
}

/// Serves one connection under its watchdog.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        stream,
        watch: watch.clone(),
    });
    let service_watch = watch.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let watch = service_watch.clone();
        let mut router = router.clone();
        watch.enter(Phase::Handling);
        async move {
            let response = match tower_service::Service::call(&mut router, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            watch.enter(Phase::Answering);
            Ok::<_, Infallible>(response.map(|body| Tracked { body, watch }))
        }
    });
    // hyper's own header timeout would also cut an idle kept-alive
    // connection at the header timeout: the watchdog below does both.
    let conn = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stop = *stopping.borrow();
    if stop {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let (phase, deadline) = watch.deadline(limits);
        // At shutdown a head still coming is let go (hyper would wait for
        // it). An idle connection hyper closes itself on `graceful_shutdown`,
        // once the last answer is flushed: closing it here could cut that
        // answer's tail.
        if stop && phase == Phase::Head {
            tracing::debug!(target: "csip::edge", %peer, "closed at shutdown: no request in progress");
            return;
        }
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(target: "csip::edge", %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = expired => {
                if let (phase, Some(at)) = watch.deadline(limits)
                    && at <= Instant::now()
                {
                    let why = match phase {
                        Phase::Head => "no whole request head within the header timeout",
                        Phase::Idle => "idle past the idle timeout",
                        _ => "the answer was not read within the idle timeout",
                    };
                    tracing::debug!(target: "csip::edge", %peer, "closed: {why}");
                    return;
                }
            }
            () = watch.changed.notified() => {}
            _ = stopping.changed(), if !stop => {
                stop = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The socket, telling the watch when bytes move.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read_some();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote_some();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote_some();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// An answer's body; when hyper is done with it, the connection is idle.
struct Tracked {
    body: axum::body::Body,
    watch: Arc<Watch>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.watch.enter(Phase::Idle);
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
