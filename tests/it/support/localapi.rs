//! A fake tailscaled LocalAPI: the daemon's checks and answers, on both of its transports.
//!
//! [`FakeDaemon::start`] lays out a temp directory like a Mac with both kinds of Tailscale:
//! - `<root>/var/run/tailscaled.socket`: a unix socket (the open-source daemon), no auth;
//! - a listener on `127.0.0.1:<port>` wanting Basic auth with the token, advertised the way the
//!   Standalone app does it: the symlink `<root>/Library/Tailscale/ipnport` → `<port>` and the
//!   file `<root>/Library/Tailscale/sameuserproof-<port>` holding the token and a newline.
//!
//! It answers `status`, `serve-config` (GET with an `Etag` that is the lowercase hex SHA-256 of
//! the exact body, POST honouring `If-Match`), `query-feature` and `watch-ipn-bus` (a stream
//! the test feeds with [`FakeDaemon::push`]). On every request it applies the daemon's checks
//! (`ServeHTTP` in `ipn/localapi/localapi.go`), answers a violation the way the daemon does
//! and records it, so a test can assert [`FakeDaemon::violations`] is empty.
//! [`FakeDaemon::stop`] drops every listener and connection like a crashed daemon (the socket
//! file stays behind); [`FakeDaemon::restart`] comes back on the same socket and port.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serve_doctor::tailscale::localapi::{Endpoint, LocalApi, Roots, Secret};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// The only Host the daemon accepts from us.
pub const HOST: &str = "local-tailscaled.sock";

const FALLBACK_STATUS: &str = r#"{"Version":"1.96.4-t1234","TUN":true,"BackendState":"Running",
"TailscaleIPs":["100.101.102.103"],"Self":{"HostName":"box","DNSName":"box.tail1234.ts.net.",
"TailscaleIPs":["100.101.102.103"],"Online":true,"CapMap":{"https":null}},"Health":[],
"CurrentTailnet":{"Name":"alice@example.com","MagicDNSSuffix":"tail1234.ts.net","MagicDNSEnabled":true},
"CertDomains":["box.tail1234.ts.net"],"Peer":null}"#;

const FALLBACK_SERVE: &str = r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}}}"#;

/// A recorded fixture from `tests/fixtures`, or `fallback` while it does not exist.
pub fn fixture(name: &str, fallback: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).unwrap_or_else(|_| fallback.as_bytes().to_vec())
}

/// JSON without whitespace, the way the daemon sends the serve config.
pub fn compact(json: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(json).expect("fixture is JSON");
    serde_json::to_vec(&value).expect("re-encode")
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub transport: Transport,
    pub method: Method,
    /// Path and query, e.g. `/localapi/v0/status?peers=false`.
    pub uri: String,
    pub if_match: Option<String>,
    /// Every header name, lowercase, to check nothing unexpected was sent.
    pub header_names: Vec<String>,
}

struct Shared {
    status: Vec<u8>,
    serve: Vec<u8>,
    /// Answer POST serve-config with 403 "serve config denied" (a read-only user).
    deny_serve_writes: bool,
    query_feature: (u16, Vec<u8>),
    watchers: Vec<mpsc::UnboundedSender<Bytes>>,
    seen: Vec<Seen>,
    violations: Vec<String>,
}

pub struct FakeDaemon {
    root: TempDir,
    socket: PathBuf,
    port: u16,
    token: String,
    shared: Arc<Mutex<Shared>>,
    listeners: Vec<JoinHandle<()>>,
}

impl FakeDaemon {
    /// Starts both listeners and writes the Standalone app's files.
    pub async fn start() -> FakeDaemon {
        let root = tempfile::tempdir().expect("temp dir");
        let socket = root.path().join("var/run/tailscaled.socket");
        std::fs::create_dir_all(socket.parent().expect("socket has a parent"))
            .expect("mkdir var/run");
        let tcp = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = tcp.local_addr().expect("local addr").port();
        let token = make_token();
        write_standalone_files(
            &root.path().join("Library/Tailscale"),
            &port.to_string(),
            &format!("{token}\n"),
        );

        let shared = Arc::new(Mutex::new(Shared {
            status: fixture("status-healthy.json", FALLBACK_STATUS),
            serve: compact(&fixture("serve-healthy.json", FALLBACK_SERVE)),
            deny_serve_writes: false,
            query_feature: (200, br#"{"Complete":true}"#.to_vec()),
            watchers: Vec::new(),
            seen: Vec::new(),
            violations: Vec::new(),
        }));
        let mut fake = FakeDaemon {
            root,
            socket,
            port,
            token,
            shared,
            listeners: Vec::new(),
        };
        fake.listen(Some(tcp)).await;
        fake
    }

    async fn listen(&mut self, tcp: Option<TcpListener>) {
        let tcp = match tcp {
            Some(l) => l,
            None => TcpListener::bind(("127.0.0.1", self.port))
                .await
                .expect("rebind the same port"),
        };
        // A crashed daemon leaves its socket file behind; a new one removes it before binding.
        let _ = std::fs::remove_file(&self.socket);
        let unix = UnixListener::bind(&self.socket).expect("bind the unix socket");
        let (shared, token) = (self.shared.clone(), self.token.clone());
        self.listeners.push(tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    continue;
                };
                conns.spawn(serve_connection(
                    stream,
                    Transport::Tcp,
                    shared.clone(),
                    Some(token.clone()),
                ));
                while conns.try_join_next().is_some() {}
            }
        }));
        let shared = self.shared.clone();
        self.listeners.push(tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = unix.accept().await else {
                    continue;
                };
                conns.spawn(serve_connection(
                    stream,
                    Transport::Unix,
                    shared.clone(),
                    None,
                ));
                while conns.try_join_next().is_some() {}
            }
        }));
    }

    /// Stops like a crashed daemon: listeners and every connection (watch streams included)
    /// are gone when this returns; the socket file and the Standalone files stay.
    pub async fn stop(&mut self) {
        for task in self.listeners.drain(..) {
            task.abort();
            // Waiting makes sure the listeners are closed, so `restart` can bind again.
            let _ = task.await;
        }
        self.lock().watchers.clear();
    }

    /// Comes back on the same socket path and TCP port, keeping the recorded state.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.listen(None).await;
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicking test thread poisons the lock; the data is still fine to read.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stand-in for `/`: `Roots::macos(root)` finds the files and the socket here.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The macOS locations under [`FakeDaemon::root`], with the App Store step off.
    pub fn macos_roots(&self) -> Roots {
        Roots {
            lsof: None,
            ..Roots::macos(self.root())
        }
    }

    pub fn unix_client(&self, timeout: Duration) -> LocalApi {
        LocalApi::new(Endpoint::Unix(self.socket.clone()), timeout)
    }

    pub fn tcp_client(&self, timeout: Duration) -> LocalApi {
        LocalApi::new(
            Endpoint::Tcp {
                port: self.port,
                token: Secret::new(self.token.clone()),
            },
            timeout,
        )
    }

    pub fn set_status(&self, json: &[u8]) {
        self.lock().status = json.to_vec();
    }

    /// Sets the exact serve-config body (its ETag follows).
    pub fn set_serve_config(&self, json: &[u8]) {
        self.lock().serve = json.to_vec();
    }

    pub fn serve_config(&self) -> Vec<u8> {
        self.lock().serve.clone()
    }

    /// The ETag the daemon would send for the current config.
    pub fn etag(&self) -> String {
        sha256_hex(&self.lock().serve)
    }

    pub fn deny_serve_writes(&self, deny: bool) {
        self.lock().deny_serve_writes = deny;
    }

    pub fn set_query_feature(&self, status: u16, body: &[u8]) {
        self.lock().query_feature = (status, body.to_vec());
    }

    /// Sends one Notify line (a newline is added) to every open watcher; returns how many got it.
    pub fn push(&self, line: &str) -> usize {
        let chunk = Bytes::from(format!("{line}\n"));
        let mut shared = self.lock();
        shared.watchers.retain(|w| w.send(chunk.clone()).is_ok());
        shared.watchers.len()
    }

    /// Sends raw bytes as one chunk (a line split across chunks, two lines in one).
    pub fn push_raw(&self, bytes: &[u8]) -> usize {
        let chunk = Bytes::copy_from_slice(bytes);
        let mut shared = self.lock();
        shared.watchers.retain(|w| w.send(chunk.clone()).is_ok());
        shared.watchers.len()
    }

    /// Open watch streams.
    pub fn watchers(&self) -> usize {
        let mut shared = self.lock();
        shared.watchers.retain(|w| !w.is_closed());
        shared.watchers.len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Requests the real daemon would have refused, one line each.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        for task in &self.listeners {
            task.abort();
        }
    }
}

/// Writes `<dir>/ipnport` → `port_text` and `<dir>/sameuserproof-<port_text>` = `contents`,
/// mode 0640 like the app's (we own it, so we can still read it).
pub fn write_standalone_files(dir: &Path, port_text: &str, contents: &str) {
    std::fs::create_dir_all(dir).expect("mkdir Library/Tailscale");
    let link = dir.join("ipnport");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(port_text, &link).expect("ipnport symlink");
    let proof = dir.join(format!("sameuserproof-{port_text}"));
    std::fs::write(&proof, contents).expect("write sameuserproof");
    std::fs::set_permissions(&proof, std::fs::Permissions::from_mode(0o640)).expect("chmod 0640");
}

/// 20 hex characters, like the daemon's 10 random bytes.
fn make_token() -> String {
    let mut hex = String::new();
    while hex.len() < 20 {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(hex.len());
        hex.push_str(&format!("{:016x}", h.finish()));
    }
    hex.truncate(20);
    hex
}

type Answer = Response<BoxBody<Bytes, Infallible>>;

async fn serve_connection<S>(
    io: S,
    transport: Transport,
    shared: Arc<Mutex<Shared>>,
    token: Option<String>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = service_fn(move |req| {
        let (shared, token) = (shared.clone(), token.clone());
        async move { Ok::<_, Infallible>(handle(req, transport, &shared, token.as_deref()).await) }
    });
    // Go writes canonical header names ("Etag"); title case is the closest hyper gets.
    let _ = hyper::server::conn::http1::Builder::new()
        .title_case_headers(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn text(status: u16, body: &str) -> Answer {
    // Go's http.Error: the text, a newline, text/plain.
    Response::builder()
        .status(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Full::new(Bytes::from(format!("{body}\n"))).boxed())
        .expect("response")
}

fn json(body: Vec<u8>) -> Answer {
    Response::builder()
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

async fn handle(
    req: Request<Incoming>,
    transport: Transport,
    shared: &Mutex<Shared>,
    token: Option<&str>,
) -> Answer {
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers = req.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    lock(shared).seen.push(Seen {
        transport,
        method: req.method().clone(),
        uri: uri.clone(),
        if_match: header("if-match"),
        header_names: headers.keys().map(|k| k.as_str().to_string()).collect(),
    });
    let violation = |what: String| {
        lock(shared)
            .violations
            .push(format!("{transport:?} {uri}: {what}"))
    };

    // The daemon's first check: its defence against browsers.
    let host = header("host");
    if header("origin").is_some() || header("referer").is_some() || host.as_deref() != Some(HOST) {
        violation(format!(
            "host {host:?}, origin {:?}, referer {:?}",
            header("origin"),
            header("referer")
        ));
        return text(403, "invalid localapi request");
    }
    if let Some(token) = token {
        match header("authorization").as_deref().and_then(basic_password) {
            None => {
                violation("no Basic auth".into());
                return text(401, "auth required");
            }
            Some(pass) if pass != token => {
                violation("wrong password".into());
                return text(403, "bad password");
            }
            Some(_) => {}
        }
    }

    let (path, query) = uri.split_once('?').unwrap_or((uri.as_str(), ""));
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let method = req.method().clone();
    match (path, method) {
        ("/localapi/v0/status", Method::GET) => json(lock(shared).status.clone()),
        ("/localapi/v0/serve-config", Method::GET) => {
            let body = lock(shared).serve.clone();
            let mut answer = json(body.clone());
            answer.headers_mut().insert(
                "etag",
                sha256_hex(&body).parse().expect("hex is a header value"),
            );
            answer
        }
        ("/localapi/v0/serve-config", Method::POST) => {
            let if_match = header("if-match").unwrap_or_default();
            let Ok(body) = req.into_body().collect().await.map(|c| c.to_bytes()) else {
                return text(400, "body read error");
            };
            let mut shared = lock(shared);
            if shared.deny_serve_writes {
                return text(403, "serve config denied");
            }
            // Compared byte for byte; empty means unconditional.
            if !if_match.is_empty() && if_match != sha256_hex(&shared.serve) {
                return text(412, "etag mismatch");
            }
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&body) {
                return Response::builder()
                    .status(500)
                    .header("Content-Type", "application/json")
                    .body(
                        Full::new(Bytes::from(format!(
                            "{{\"error\":\"decoding config: {e}\"}}\n"
                        )))
                        .boxed(),
                    )
                    .expect("response");
            }
            shared.serve = body.to_vec();
            Response::new(Full::new(Bytes::new()).boxed())
        }
        ("/localapi/v0/query-feature", Method::POST) => match param("feature") {
            None => text(500, "missing feature"),
            Some(_) => {
                let (status, body) = lock(shared).query_feature.clone();
                let mut answer = json(body);
                *answer.status_mut() = StatusCode::from_u16(status).expect("status code");
                answer
            }
        },
        ("/localapi/v0/query-feature", _) => text(405, "want POST"),
        ("/localapi/v0/watch-ipn-bus", Method::GET) => {
            if param("mask").is_some_and(|m| m.parse::<u64>().is_err()) {
                return text(400, "bad mask");
            }
            let mask = param("mask")
                .and_then(|m| m.parse::<u64>().ok())
                .unwrap_or(0);
            let (tx, rx) = mpsc::unbounded_channel();
            // With NotifyInitialState (2) the real daemon's first line carries Version,
            // SessionID and State (a number), plus Health with NotifyInitialHealthState (128),
            // as the real-tailnet bench showed; 128 alone sends no first line.
            if mask & 2 != 0 {
                let _ = tx.send(Bytes::from(initial_notify(&lock(shared).status, mask)));
            }
            // Registered before the head goes out: the client may rely on that.
            lock(shared).watchers.push(tx);
            Response::builder()
                .header("Content-Type", "application/json")
                .body(BusBody(rx).boxed())
                .expect("response")
        }
        _ => text(404, "404 page not found"),
    }
}

/// The first line of a watch with the initial bits, from the current status.
fn initial_notify(status: &[u8], mask: u64) -> String {
    let st: serde_json::Value = serde_json::from_slice(status).unwrap_or_default();
    let state = match st["BackendState"].as_str().unwrap_or("") {
        "InUseOtherUser" => 1,
        "NeedsLogin" => 2,
        "NeedsMachineAuth" => 3,
        "Stopped" => 4,
        "Starting" => 5,
        "Running" => 6,
        _ => 0,
    };
    let mut n = serde_json::json!({
        "Version": st["Version"],
        "SessionID": "fake-session",
        "ErrMessage": null, "LoginFinished": null, "State": state, "Prefs": null,
        "NetMap": null, "Engine": null, "BrowseToURL": null, "DriveShares": null,
    });
    if mask & 128 != 0 {
        n["Health"] = serde_json::json!({"Warnings": null});
    }
    format!("{n}\n")
}

/// The watch stream: each pushed line becomes one chunk; it ends when the sender is dropped.
struct BusBody(mpsc::UnboundedReceiver<Bytes>);

impl Body for BusBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|b| Ok(Frame::data(b))))
    }
}

/// The password of `Basic base64(user:password)`, like Go's `Request.BasicAuth`.
fn basic_password(header: &str) -> Option<String> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (_user, password) = decoded.split_once(':')?;
    Some(password.to_string())
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = text.trim_end_matches('=');
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// Lowercase hex SHA-256 (FIPS 180-4), as `generateServeConfigETag` computes it. Written out
/// because the crate has no SHA-256 dependency and the fake should compute the real ETag.
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *slot = slot.wrapping_add(v);
        }
    }
    h.iter().map(|v| format!("{v:08x}")).collect()
}
