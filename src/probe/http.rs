//! The HTTP step: one HTTP/1.1 GET, over plain TCP (the backend) or over TLS (through serve).
//!
//! It only waits for the response head: the status is the evidence (200 through serve, 502 when
//! serve's proxy cannot reach the backend), and a body could be endless.

use crate::errors::error_chain;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::Instant as Deadline;

use super::tcp::{connect_until, ms_since};
use super::tls::{TlsSession, Trust, connect_tls};
use super::{HttpOutcome, TcpOutcome, TlsOutcome, Via};
use crate::tailscale::serve::{ProxyTarget, Scheme};

const USER_AGENT_VALUE: &str = concat!("serve-doctor/", env!("CARGO_PKG_VERSION"));

/// Sends `GET path` with `Host: host` to `addr` ("host:port") and reports the response status.
///
/// With `tls = Some((server_name, trust))` the request goes over TLS with that SNI. One `timeout`
/// bounds everything: connect, handshake, request and response head.
pub async fn http_get(
    addr: &str,
    via: &Via,
    host: &str,
    path: &str,
    tls: Option<(&str, &Trust)>,
    timeout: Duration,
) -> HttpOutcome {
    let started = Instant::now();
    let deadline = Deadline::now() + timeout;
    let request = match build_request(host, path) {
        Ok(request) => request,
        Err(detail) => return HttpOutcome::Failed { detail },
    };
    match tls {
        None => match connect_until(addr, via, started, deadline).await {
            (_, Some(tcp)) => exchange(tcp, request, started, deadline).await,
            (tcp, None) => HttpOutcome::Connect { tcp },
        },
        Some((server_name, trust)) => {
            match connect_tls(addr, via, server_name, trust, started, deadline).await {
                Ok(stream) => exchange(stream, request, started, deadline).await,
                Err(TlsOutcome::Connect { tcp }) => HttpOutcome::Connect { tcp },
                Err(TlsOutcome::CertRejected {
                    problem, detail, ..
                }) => HttpOutcome::CertRejected { problem, detail },
                Err(failure) => HttpOutcome::Failed {
                    detail: describe_tls_failure(&failure),
                },
            }
        }
    }
}

/// [`http_get`] over a session whose handshake already completed (`host` and `path` as there).
/// `timeout` bounds the request and the response head.
pub async fn get_over(
    session: TlsSession,
    host: &str,
    path: &str,
    timeout: Duration,
) -> HttpOutcome {
    let started = Instant::now();
    let deadline = Deadline::now() + timeout;
    match build_request(host, path) {
        Ok(request) => exchange(session.stream, request, started, deadline).await,
        Err(detail) => HttpOutcome::Failed { detail },
    }
}

/// The request serve's proxy makes, to `target` as serve dials it: plain HTTP, HTTPS verified for
/// the target's host, HTTPS not verified (`https+insecure`), or HTTP over a unix socket.
/// `insecure` is the trust that accepts any certificate ([`Trust::accept_any`]).
pub async fn backend_get(
    target: &ProxyTarget,
    via: &Via,
    trust: &Trust,
    insecure: &Trust,
    timeout: Duration,
) -> HttpOutcome {
    let path = if target.path.is_empty() {
        "/"
    } else {
        target.path.as_str()
    };
    let addr = target.addr.as_str();
    match target.scheme {
        Scheme::Http => http_get(addr, via, addr, path, None, timeout).await,
        Scheme::Https => {
            http_get(addr, via, addr, path, Some((&target.host, trust)), timeout).await
        }
        Scheme::HttpsInsecure => {
            http_get(
                addr,
                via,
                addr,
                path,
                Some((&target.host, insecure)),
                timeout,
            )
            .await
        }
        // A unix socket is on this machine only; there is no proxying it.
        Scheme::Unix => match via {
            Via::Direct => unix_get(addr, path, timeout).await,
            Via::Socks5(_) => HttpOutcome::Failed {
                detail: format!(
                    "unix:{addr} is on the other machine and cannot be reached from here"
                ),
            },
        },
    }
}

async fn unix_get(socket: &str, path: &str, timeout: Duration) -> HttpOutcome {
    let started = Instant::now();
    let deadline = Deadline::now() + timeout;
    let request = match build_request("localhost", path) {
        Ok(request) => request,
        Err(detail) => return HttpOutcome::Failed { detail },
    };
    match tokio::time::timeout_at(deadline, tokio::net::UnixStream::connect(socket)).await {
        Ok(Ok(stream)) => exchange(stream, request, started, deadline).await,
        Ok(Err(e)) => HttpOutcome::Connect {
            tcp: match e.kind() {
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
                    TcpOutcome::Refused
                }
                _ => TcpOutcome::Unreachable {
                    reason: format!("{socket}: {e}"),
                },
            },
        },
        Err(_elapsed) => HttpOutcome::Connect {
            tcp: TcpOutcome::TimedOut {
                after_ms: ms_since(started),
            },
        },
    }
}

fn build_request(host: &str, path: &str) -> Result<Request<Empty<Bytes>>, String> {
    let path = if path.is_empty() { "/" } else { path };
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(HOST, host)
        .header(USER_AGENT, USER_AGENT_VALUE)
        // One request per probe; and it tells the server not to hold the connection for us.
        .header(CONNECTION, "close")
        .body(Empty::new())
        .map_err(|e| format!("cannot build a request for host {host:?} and path {path:?}: {e}"))
}

/// Runs the request over an established stream and waits for the response head only.
async fn exchange<S>(
    io: S,
    request: Request<Empty<Bytes>>,
    started: Instant,
    deadline: Deadline,
) -> HttpOutcome
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let no_response = || HttpOutcome::NoResponse {
        after_ms: ms_since(started),
    };
    let handshake = hyper::client::conn::http1::handshake(TokioIo::new(io));
    let (mut sender, connection) = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            return HttpOutcome::Failed {
                detail: error_chain(&e),
            };
        }
        Err(_elapsed) => return no_response(),
    };
    // The connection future does the actual I/O and must be polled while we wait. The guard
    // aborts it when this function returns (or is cancelled), so an unread body never keeps
    // a socket or a task alive.
    let _connection = AbortOnDrop(tokio::spawn(connection));

    match tokio::time::timeout_at(deadline, sender.send_request(request)).await {
        Ok(Ok(response)) => HttpOutcome::Response {
            status: response.status().as_u16(),
            ms: ms_since(started),
        },
        Ok(Err(e)) => HttpOutcome::Failed {
            detail: format!("no HTTP response: {}", error_chain(&e)),
        },
        Err(_elapsed) => no_response(),
    }
}

/// Aborts the spawned connection task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A TLS failure, said in one line for [`HttpOutcome::Failed`]. The TLS probe reports the same
/// failure in full; this only has to be recognisable.
fn describe_tls_failure(outcome: &TlsOutcome) -> String {
    match outcome {
        TlsOutcome::Stalled { after_ms } => {
            format!("TLS handshake stalled: no answer within {after_ms} ms")
        }
        TlsOutcome::Alert { description, .. } => {
            format!("TLS alert from the server: {description}")
        }
        TlsOutcome::CertRejected { detail, .. } => format!("certificate rejected: {detail}"),
        TlsOutcome::Failed { detail } => detail.clone(),
        TlsOutcome::Connect { tcp } => format!("cannot connect: {tcp:?}"),
        TlsOutcome::Established { .. } => "TLS handshake completed".to_owned(),
    }
}
