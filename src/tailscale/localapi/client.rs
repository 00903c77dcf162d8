//! LocalAPI requests, each with exactly what tailscaled requires and nothing it refuses.
//!
//! The daemon (docs/TAILSCALE.md#localapi) answers 403 "invalid
//! localapi request" to a Host other than `local-tailscaled.sock` and to any `Origin` or
//! `Referer` (its defence against browsers), and on the macOS TCP routes wants HTTP Basic auth
//! with an empty user and the token as the password (401 "auth required", 403 "bad
//! password"). So every request carries `Host`, the auth header on TCP routes, the request's
//! own headers (`If-Match`), and nothing else: no `Origin`, no `Referer`, no `Tailscale-Cap`
//! (optional; the daemon never reads it).
//!
//! One connection per request: calls are rare (a diagnosis, a change on the bus), and a fresh
//! connection after a daemon restart needs no pool to notice the old one died. Every call is
//! bounded by [`LocalApi::timeout`], except the body of the `watch-ipn-bus` stream, which is
//! meant to stay open.

use crate::errors::error_chain;
use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, ETAG, HOST, HeaderValue, IF_MATCH};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::Endpoint;
use super::notify::Notify;
use crate::tailscale::status::nullable;
use crate::tailscale::{ServeConfig, Status};

/// The Host every request must carry (`apitype.LocalAPIHost`).
pub const LOCALAPI_HOST: &str = "local-tailscaled.sock";

/// Largest response body read into memory. The serve config has no size limit upstream, but a
/// body this large is a broken daemon, not a config.
const MAX_BODY: usize = 32 << 20;
/// Largest single line on the bus. With `NoNetMap` lines are small; a full netmap of a big
/// tailnet can reach megabytes.
const MAX_LINE: usize = 64 << 20;
/// How much of an error body is kept (they are one-line texts upstream).
const MAX_ERROR_TEXT: usize = 500;

/// A LocalAPI client for one endpoint. `Debug` shows the endpoint with the token as `***`.
#[derive(Debug, Clone)]
pub struct LocalApi {
    pub endpoint: Endpoint,
    /// Bound for each call: connect, request, response head and (except on the bus) body.
    pub timeout: Duration,
}

/// How a call failed. Distinct variants because callers branch on them: `Connect` means the
/// daemon is not there, `PreconditionFailed` means "read again and retry", `Denied` means
/// permissions (or a wrong token), not a broken daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LocalApiError {
    /// Nothing accepted the connection: the daemon (or the app) is not running, or the
    /// socket/port is left over from an earlier run.
    #[error("cannot connect to tailscaled at {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    /// Connected, but the exchange broke (the daemon closed the connection mid-request).
    #[error("{path}: the connection to tailscaled failed: {message}")]
    Transport { path: String, message: String },
    /// No complete answer within the timeout.
    #[error("{path}: no answer from tailscaled within {} s", *after_ms as f64 / 1000.0)]
    Timeout { path: String, after_ms: u64 },
    /// 412 on `POST serve-config`: the config changed since its ETag was read.
    #[error("the serve config changed since it was read ({body})")]
    PreconditionFailed { body: String },
    /// 403: "serve config denied", "bad password", "invalid localapi request", a read-only
    /// user asking to write.
    #[error("{path}: tailscaled refused (403): {body}")]
    Denied { path: String, body: String },
    /// Any other status that is not a success, with the daemon's text.
    #[error("{path}: HTTP {status}: {body}")]
    Http {
        path: String,
        status: u16,
        body: String,
    },
    /// The request could not be built (an `If-Match` value that is not header text): ours to fix.
    #[error("{path}: cannot build the request: {message}")]
    InvalidRequest { path: String, message: String },
    /// A success whose body is not the JSON expected.
    #[error("{path}: not the JSON expected ({error}): {first_bytes:?}")]
    BadJson {
        path: String,
        error: String,
        first_bytes: String,
    },
}

impl LocalApiError {
    /// The daemon is not reachable at all (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, LocalApiError::Connect { .. })
    }
}

/// The answer of `POST query-feature`: whether the feature is on, and if not, what to tell the
/// user and where they can turn it on. Each field is omitted upstream when zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct QueryFeature {
    #[serde(default, rename = "Complete")]
    pub complete: bool,
    #[serde(default, rename = "Text", deserialize_with = "nullable")]
    pub text: String,
    #[serde(default, rename = "URL", deserialize_with = "nullable")]
    pub url: String,
    /// The CLI would now wait for enablement; we never do (the bus announces it).
    #[serde(default, rename = "ShouldWait")]
    pub should_wait: bool,
}

/// An open `watch-ipn-bus` stream. Dropping it closes the connection.
pub struct IpnBus {
    body: Incoming,
    /// Bytes received but not yet split into lines.
    buf: Vec<u8>,
    /// Where the search for the next newline resumes, so a long line is scanned once.
    scanned: usize,
    ended: bool,
    path: String,
    // Kept so the connection is not told "no more requests" while the body streams; the
    // guard stops the connection task when the stream is dropped.
    _sender: SendRequest<Full<Bytes>>,
    _connection: AbortOnDrop,
}

impl std::fmt::Debug for IpnBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpnBus")
            .field("path", &self.path)
            .field("ended", &self.ended)
            .finish()
    }
}

impl IpnBus {
    /// The next message.
    ///
    /// - `Some(Ok(notify))`: one line of the stream.
    /// - `Some(Err(BadJson))`: a line that is not a Notify; the stream goes on.
    /// - `Some(Err(Transport))`: the stream broke (the daemon died); `None` follows.
    /// - `None`: the stream ended (the daemon closed it or exited): reconnect with backoff.
    ///
    /// Cancel-safe: dropping the future between messages loses nothing, so it can sit in a
    /// `tokio::select!` next to a timer.
    pub async fn next(&mut self) -> Option<Result<Notify, LocalApiError>> {
        loop {
            if let Some(line) = self.take_line() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(self.parse(&line));
            }
            if self.ended {
                // A last line without its newline still counts.
                let rest = std::mem::take(&mut self.buf);
                self.scanned = 0;
                if rest.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                return Some(self.parse(&rest));
            }
            if self.buf.len() > MAX_LINE {
                self.ended = true;
                self.buf.clear();
                self.scanned = 0;
                return Some(Err(LocalApiError::Transport {
                    path: self.path.clone(),
                    message: format!("a line longer than {MAX_LINE} bytes"),
                }));
            }
            match self.body.frame().await {
                None => self.ended = true,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => {
                    self.ended = true;
                    // A torn last line is not worth parsing.
                    self.buf.clear();
                    self.scanned = 0;
                    return Some(Err(LocalApiError::Transport {
                        path: self.path.clone(),
                        message: error_chain(&e),
                    }));
                }
            }
        }
    }

    fn take_line(&mut self) -> Option<Vec<u8>> {
        // Bytes already scanned hold no newline; `min` keeps the slice in bounds regardless.
        let from = self.scanned.min(self.buf.len());
        match self.buf[from..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = from + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                self.scanned = 0;
                Some(line)
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    fn parse(&self, line: &[u8]) -> Result<Notify, LocalApiError> {
        Notify::from_json(line).map_err(|e| bad_json(&self.path, line, &e))
    }
}

impl LocalApi {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> LocalApi {
        LocalApi { endpoint, timeout }
    }

    /// `GET /localapi/v0/status?peers=false`: the same Status as `tailscale status --json
    /// --peers=false`.
    pub async fn status(&self) -> Result<Status, LocalApiError> {
        self.status_at("/localapi/v0/status?peers=false").await
    }

    /// `GET /localapi/v0/status`: with the peers of this node's netmap.
    pub async fn status_with_peers(&self) -> Result<Status, LocalApiError> {
        self.status_at("/localapi/v0/status").await
    }

    async fn status_at(&self, path: &str) -> Result<Status, LocalApiError> {
        let body = self.call(Method::GET, path, Bytes::new(), None).await?.1;
        Status::from_json(&body).map_err(|e| bad_json(path, &body, &e))
    }

    /// `GET /localapi/v0/serve-config`: the config, its exact JSON text (for backups and for
    /// writing back) and its ETag (for `If-Match`). `null` (never configured) is an empty config.
    pub async fn serve_config(
        &self,
    ) -> Result<(ServeConfig, String, Option<String>), LocalApiError> {
        let path = "/localapi/v0/serve-config";
        let (headers, body) = self.call(Method::GET, path, Bytes::new(), None).await?;
        let config = ServeConfig::from_json(&body).map_err(|e| bad_json(path, &body, &e))?;
        // serde_json accepted it, so it is UTF-8.
        let raw = String::from_utf8_lossy(&body).into_owned();
        // HeaderMap names are case-insensitive, so "Etag" (Go's spelling) is found.
        let etag = headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        Ok((config, raw, etag))
    }

    /// `POST /localapi/v0/query-feature?feature=…`: whether `feature` ("serve", "funnel") is
    /// enabled and, if not, the consent URL. Never waits for the user.
    pub async fn query_feature(&self, feature: &str) -> Result<QueryFeature, LocalApiError> {
        let path = format!(
            "/localapi/v0/query-feature?feature={}",
            query_escape(feature)
        );
        let body = self.call(Method::POST, &path, Bytes::new(), None).await?.1;
        serde_json::from_slice(&body).map_err(|e| bad_json(&path, &body, &e))
    }

    /// `POST /localapi/v0/serve-config`: replaces the whole serve config with `raw_json`.
    ///
    /// With `if_match` (the ETag from [`LocalApi::serve_config`]) the daemon replaces it only
    /// if nobody changed it since: otherwise [`LocalApiError::PreconditionFailed`]. Without it
    /// (or with an empty one) the write is unconditional.
    pub async fn set_serve_config(
        &self,
        raw_json: &[u8],
        if_match: Option<&str>,
    ) -> Result<(), LocalApiError> {
        let path = "/localapi/v0/serve-config";
        let if_match = if_match.filter(|e| !e.is_empty());
        self.call(
            Method::POST,
            path,
            Bytes::copy_from_slice(raw_json),
            if_match,
        )
        .await?;
        Ok(())
    }

    /// The health warnings by code: the first message of a bus watch with the initial state and
    /// health (there is no other way to read them structured), within `bound`. `None` when the
    /// daemon did not send them in time.
    pub async fn health_codes(&self, bound: Duration) -> Option<Vec<String>> {
        use super::notify::mask;
        let m = mask::INITIAL_STATE
            | mask::NO_PRIVATE_KEYS
            | mask::INITIAL_HEALTH_STATE
            | mask::NO_NET_MAP;
        let read = async {
            let mut bus = self.watch_ipn_bus(m).await.ok()?;
            loop {
                match bus.next().await? {
                    Ok(n) => {
                        if let Some(codes) = n.warning_codes() {
                            return Some(codes);
                        }
                    }
                    Err(_) => continue,
                }
            }
        };
        tokio::time::timeout(bound, read).await.ok().flatten()
    }

    /// `GET /localapi/v0/watch-ipn-bus?mask=N`: subscribes to the bus. Connecting and the
    /// response head are bounded by the timeout; the stream itself stays open until the daemon
    /// closes it or the [`IpnBus`] is dropped. The daemon sends the head once the watcher is
    /// registered, so a `status` read after this returns cannot miss a change.
    pub async fn watch_ipn_bus(&self, mask: u64) -> Result<IpnBus, LocalApiError> {
        let path = format!("/localapi/v0/watch-ipn-bus?mask={mask}");
        let deadline = Instant::now() + self.timeout;
        let request = self.request(Method::GET, &path, Bytes::new(), None)?;
        let (mut sender, connection) = self.connect(&path, deadline).await?;
        let response = timeout_at(deadline, sender.send_request(request))
            .await
            .map_err(|_| self.timed_out(&path))?
            .map_err(|e| transport(&path, &e))?;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            let text = timeout_at(deadline, read_body(&path, body))
                .await
                .unwrap_or_else(|_| Ok(Bytes::new()))
                .unwrap_or_default();
            return Err(status_error(&path, parts.status, &text));
        }
        Ok(IpnBus {
            body,
            buf: Vec::new(),
            scanned: 0,
            ended: false,
            path,
            _sender: sender,
            _connection: connection,
        })
    }

    /// One bounded request: connect, send, read the whole body; non-success is an error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        if_match: Option<&str>,
    ) -> Result<(HeaderMap, Bytes), LocalApiError> {
        let deadline = Instant::now() + self.timeout;
        let request = self.request(method, path, body, if_match)?;
        let (mut sender, _connection) = self.connect(path, deadline).await?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| transport(path, &e))?;
            let (parts, body) = response.into_parts();
            let bytes = read_body(path, body).await?;
            Ok::<_, LocalApiError>((parts, bytes))
        };
        let (parts, bytes) = timeout_at(deadline, exchange)
            .await
            .map_err(|_| self.timed_out(path))??;
        if !parts.status.is_success() {
            return Err(status_error(path, parts.status, &bytes));
        }
        Ok((parts.headers, bytes))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        if_match: Option<&str>,
    ) -> Result<Request<Full<Bytes>>, LocalApiError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, LOCALAPI_HOST);
        if let Endpoint::Tcp { token, .. } = &self.endpoint {
            builder = builder.header(AUTHORIZATION, basic_auth(token.expose()));
        }
        if let Some(etag) = if_match {
            builder = builder.header(IF_MATCH, etag);
        }
        // The builder only fails on an invalid URI or header value: the path is ours, and an
        // ETag is the daemon's hex text, so this means the caller passed something odd.
        builder
            .body(Full::new(body))
            .map_err(|e| LocalApiError::InvalidRequest {
                path: path.to_string(),
                message: e.to_string(),
            })
    }

    /// Opens a fresh HTTP/1 connection to the endpoint before `deadline`.
    async fn connect(
        &self,
        path: &str,
        deadline: Instant,
    ) -> Result<(SendRequest<Full<Bytes>>, AbortOnDrop), LocalApiError> {
        let unreachable = |e: std::io::Error| LocalApiError::Connect {
            endpoint: self.endpoint.to_string(),
            message: e.to_string(),
        };
        let opened = timeout_at(deadline, async {
            match &self.endpoint {
                Endpoint::Unix(socket) => {
                    handshake(
                        path,
                        UnixStream::connect(socket).await.map_err(unreachable)?,
                    )
                    .await
                }
                // 127.0.0.1, not "localhost": what the CLI dials (docs/TAILSCALE.md#localapi).
                Endpoint::Tcp { port, .. } => {
                    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, *port))
                        .await
                        .map_err(unreachable)?;
                    handshake(path, stream).await
                }
            }
        })
        .await;
        opened.map_err(|_| self.timed_out(path))?
    }

    fn timed_out(&self, path: &str) -> LocalApiError {
        LocalApiError::Timeout {
            path: path.to_string(),
            after_ms: self.timeout.as_millis() as u64,
        }
    }
}

async fn handshake<S>(
    path: &str,
    io: S,
) -> Result<(SendRequest<Full<Bytes>>, AbortOnDrop), LocalApiError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| transport(path, &e))?;
    // The connection future does the I/O and must be polled while we wait for the answer; the
    // guard stops it when the call returns or is cancelled, so nothing outlives the call.
    Ok((
        sender,
        AbortOnDrop(tokio::spawn(async move {
            // Its error also reaches the pending request, which reports it.
            let _ = connection.await;
        })),
    ))
}

async fn read_body(path: &str, body: Incoming) -> Result<Bytes, LocalApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(LocalApiError::Transport {
            path: path.to_string(),
            message: error_chain(e.as_ref()),
        }),
    }
}

/// Maps a non-success status to its error, keeping the daemon's one-line text.
fn status_error(path: &str, status: StatusCode, body: &[u8]) -> LocalApiError {
    let text: String = String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(MAX_ERROR_TEXT)
        .collect();
    match status {
        StatusCode::PRECONDITION_FAILED => LocalApiError::PreconditionFailed { body: text },
        StatusCode::FORBIDDEN => LocalApiError::Denied {
            path: path.to_string(),
            body: text,
        },
        _ => LocalApiError::Http {
            path: path.to_string(),
            status: status.as_u16(),
            body: text,
        },
    }
}

fn bad_json(path: &str, body: &[u8], e: &serde_json::Error) -> LocalApiError {
    LocalApiError::BadJson {
        path: path.to_string(),
        error: e.to_string(),
        first_bytes: String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(120)
            .collect(),
    }
}

fn transport(path: &str, e: &hyper::Error) -> LocalApiError {
    LocalApiError::Transport {
        path: path.to_string(),
        message: error_chain(e),
    }
}

/// `Basic base64(":" + token)`, marked sensitive so hyper never prints it.
fn basic_auth(token: &str) -> HeaderValue {
    let mut credentials = String::with_capacity(token.len() + 1);
    credentials.push(':');
    credentials.push_str(token);
    let encoded = format!("Basic {}", base64(credentials.as_bytes()));
    // Base64 text is always a valid header value.
    let mut value =
        HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// Standard base64 with padding (RFC 4648 §4). A dozen lines instead of a dependency, for the
/// one header that needs it.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Aborts the spawned connection task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tailscale::localapi::Secret;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn basic_auth_has_an_empty_user_and_is_sensitive() {
        let v = basic_auth("2ae2ec9e0aa2005784f1");
        // base64(":2ae2ec9e0aa2005784f1")
        assert_eq!(v.to_str().unwrap(), "Basic OjJhZTJlYzllMGFhMjAwNTc4NGYx");
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains("OjJh"));
    }

    #[test]
    fn requests_carry_host_and_auth_only_on_tcp() {
        let tcp = LocalApi::new(
            Endpoint::Tcp {
                port: 1,
                token: Secret::new("tok"),
            },
            Duration::from_secs(1),
        );
        let r = tcp
            .request(
                Method::GET,
                "/localapi/v0/status?peers=false",
                Bytes::new(),
                None,
            )
            .unwrap();
        assert_eq!(r.headers()[HOST], LOCALAPI_HOST);
        assert!(r.headers().contains_key(AUTHORIZATION));
        assert!(!r.headers().contains_key("origin") && !r.headers().contains_key("referer"));
        let unix = LocalApi::new(Endpoint::Unix("/x".into()), Duration::from_secs(1));
        let r = unix
            .request(Method::POST, "/p", Bytes::new(), Some("abc"))
            .unwrap();
        assert_eq!(r.headers().len(), 2, "{:?}", r.headers());
        assert_eq!(r.headers()[IF_MATCH], "abc");
    }

    #[test]
    fn status_codes_map_to_their_errors() {
        let e = status_error("/p", StatusCode::PRECONDITION_FAILED, b"etag mismatch\n");
        assert_eq!(
            e,
            LocalApiError::PreconditionFailed {
                body: "etag mismatch".into()
            }
        );
        assert!(matches!(
            status_error("/p", StatusCode::FORBIDDEN, b"x"),
            LocalApiError::Denied { .. }
        ));
        assert!(matches!(
            status_error("/p", StatusCode::SERVICE_UNAVAILABLE, b"no netmap\n"),
            LocalApiError::Http { status: 503, ref body, .. } if body == "no netmap"
        ));
    }

    #[test]
    fn feature_names_are_escaped() {
        assert_eq!(query_escape("serve"), "serve");
        assert_eq!(query_escape("a b&c=d"), "a%20b%26c%3Dd");
    }
}
