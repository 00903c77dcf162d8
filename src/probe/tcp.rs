//! The TCP step: resolve `host:port` and connect, within one timeout.
//!
//! Both the TLS and the HTTP probes start here, so that "nothing listens", "no route" and "it
//! hangs" are told apart the same way everywhere.

use std::io;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::time::Instant as Deadline;

use super::{TcpOutcome, Via};

/// Resolves `addr` ("host:port"; the host may be an IP, `[::1]` or a name such as `localhost`)
/// and connects, all within `timeout`.
///
/// The stream is `Some` exactly when the outcome is [`TcpOutcome::Connected`]; callers that only
/// want the evidence can drop it.
pub async fn tcp_connect(
    addr: &str,
    via: &Via,
    timeout: Duration,
) -> (TcpOutcome, Option<TcpStream>) {
    connect_until(addr, via, Instant::now(), Deadline::now() + timeout).await
}

/// [`tcp_connect`] against a deadline shared with later steps (TLS, HTTP), so that one timeout
/// bounds the whole probe. `started` is when the whole probe began: all `ms` are measured from it.
pub(crate) async fn connect_until(
    addr: &str,
    via: &Via,
    started: Instant,
    deadline: Deadline,
) -> (TcpOutcome, Option<TcpStream>) {
    let connect = async {
        match via {
            Via::Direct => resolve_and_connect(addr).await,
            Via::Socks5(proxy) => through_socks5(proxy, addr).await,
        }
    };
    match tokio::time::timeout_at(deadline, connect).await {
        Ok(Ok(stream)) => (
            TcpOutcome::Connected {
                ms: ms_since(started),
            },
            Some(stream),
        ),
        Ok(Err(outcome)) => (outcome, None),
        Err(_elapsed) => (
            TcpOutcome::TimedOut {
                after_ms: ms_since(started),
            },
            None,
        ),
    }
}

/// Tries every resolved address in order, like `TcpStream::connect`, but keeps enough of the
/// failures to classify them.
async fn resolve_and_connect(addr: &str) -> Result<TcpStream, TcpOutcome> {
    let addrs = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| TcpOutcome::Unreachable {
            reason: format!("cannot resolve {addr}: {e}"),
        })?;

    let mut refused = false;
    let mut last_error: Option<io::Error> = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(stream) => {
                // Each probe writes a short request and waits for the answer; with Nagle on,
                // the request after the TLS Finished sat out a delayed ACK (~40 ms per request
                // through serve on the real daemon). Failing to set it only costs time.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => {
                refused |= e.kind() == io::ErrorKind::ConnectionRefused;
                last_error = Some(e);
            }
        }
    }
    // A refusal from any address means the host answered and nothing listens on that port: that
    // is the more telling fact (`localhost` gives both ::1 and 127.0.0.1, and one of them may
    // just have no route).
    if refused {
        return Err(TcpOutcome::Refused);
    }
    Err(TcpOutcome::Unreachable {
        reason: match last_error {
            Some(e) => e.to_string(),
            None => format!("{addr} resolved to no address"),
        },
    })
}

/// Connects to the proxy, then asks it for `addr`; the proxy's refusal is `Refused` like a
/// direct one, so the evidence reads the same from either vantage point.
async fn through_socks5(proxy: &str, addr: &str) -> Result<TcpStream, TcpOutcome> {
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| TcpOutcome::Unreachable {
            reason: format!("{addr:?} is not host:port"),
        })?;
    let mut stream = resolve_and_connect(proxy)
        .await
        .map_err(|o| TcpOutcome::Unreachable {
            reason: format!("the SOCKS5 proxy {proxy} cannot be reached ({o:?})"),
        })?;
    match super::socks::connect(&mut stream, host, port).await {
        Ok(()) => Ok(stream),
        Err(text) if super::socks::is_refused(&text) => Err(TcpOutcome::Refused),
        Err(text) => Err(TcpOutcome::Unreachable {
            reason: format!("{addr} through the SOCKS5 proxy {proxy}: {text}"),
        }),
    }
}

pub(crate) fn ms_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
