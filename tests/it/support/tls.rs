//! Real network peers for the probe tests, each on `127.0.0.1:0`.
//!
//! - a test CA ([`TestCa`]) and leaf certificates it signs (valid, expiring, expired, wrong name)
//!   or that sign themselves;
//! - [`tls_peer`]: a rustls server presenting a chosen leaf and answering HTTP with a chosen
//!   status (so "through serve" can be 200 or 502);
//! - [`stall_peer`]: reads the ClientHello and never answers (tailscaled waiting for a cert);
//! - [`alert_peer`]: answers the ClientHello with a fatal `internal_error` alert (tailscaled
//!   giving up on a cert);
//! - [`http_backend`], [`mute_backend`]: the app behind serve, healthy or hung;
//! - [`closed_port`]: an address where nothing listens.
//!
//! Every peer is a [`Peer`]: dropping it aborts the accept loop, and with it every connection
//! task (they live in a `JoinSet` owned by that loop).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

const DAY_SECS: i64 = 24 * 60 * 60;

/// The fatal alert tailscaled's Go TLS server sends when its certificate callback fails:
/// record type alert (0x15), TLS 1.2 record version, length 2, level fatal (2), `internal_error`
/// (0x50).
pub const INTERNAL_ERROR_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50];

/// A throwaway certificate authority. Trust it with `Trust::with_extra_roots(vec![ca.der()])` or
/// by writing [`TestCa::pem`] to a `--ca-file`.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

/// A certificate chain and its private key, ready for a server.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Serve Doctor Test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, -30 * DAY_SECS, 3650 * DAY_SECS);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate as PEM, e.g. for a `--ca-file`.
    pub fn pem(&self) -> String {
        self.pem.clone()
    }

    /// The CA certificate as DER, for `Trust::with_extra_roots`.
    pub fn der(&self) -> CertificateDer<'static> {
        self.der.clone()
    }

    /// A leaf for `dns_name` signed by this CA that expires `days_left` days from now (negative:
    /// expired that many days ago). It became valid 30 days before now or before it expired.
    pub fn leaf(&self, dns_name: &str, days_left: i64) -> Leaf {
        let (params, key) = leaf_params(dns_name, days_left);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: private_key(&key),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// A leaf for `dns_name` that signs itself (no CA anyone trusts), valid for 90 days.
pub fn self_signed_leaf(dns_name: &str) -> Leaf {
    let (params, key) = leaf_params(dns_name, 90);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: private_key(&key),
    }
}

fn leaf_params(dns_name: &str, days_left: i64) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(vec![dns_name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, dns_name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let not_after = days_left * DAY_SECS;
    set_validity(&mut params, not_after.min(0) - 30 * DAY_SECS, not_after);
    (params, KeyPair::generate().unwrap())
}

fn private_key(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// Sets the validity period to now plus the given offsets in seconds (negative: in the past).
/// rcgen does not re-export `time`, so the dates go through its `date_time_ymd` and
/// `std::time::Duration` arithmetic instead of naming `OffsetDateTime`.
fn set_validity(params: &mut CertificateParams, not_before_secs: i64, not_after_secs: i64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let since_epoch = |offset: i64| Duration::from_secs(u64::try_from(now + offset).unwrap());
    params.not_before = epoch + since_epoch(not_before_secs);
    params.not_after = epoch + since_epoch(not_after_secs);
}

/// A running test peer; dropping it stops the peer and all its connections.
pub struct Peer {
    addr: SocketAddr,
    task: JoinHandle<()>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
}

impl Peer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections the peer has accepted (each TLS peer's connection is one handshake).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `"127.0.0.1:port"`, the shape the probes take.
    pub fn addr_str(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:0` and runs `handle` on every accepted connection.
async fn spawn_peer<F, Fut>(handle: F) -> Peer
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        // Owned by this task: aborting the task drops the set, which aborts every connection.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        connections.spawn(handle(stream));
                    }
                    Err(_) => return,
                },
                // Reap finished connections so the set does not grow.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Peer {
        addr,
        task,
        accepted,
    }
}

/// A TLS server presenting `leaf` that answers every HTTP request with `status`.
pub async fn tls_peer(leaf: Leaf, status: u16) -> Peer {
    let provider = Arc::new(rustls_graviola::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    spawn_peer(move |tcp| {
        let acceptor = acceptor.clone();
        async move {
            // A client that rejects the certificate aborts the handshake: nothing to serve.
            if let Ok(tls) = acceptor.accept(tcp).await {
                serve_http(TokioIo::new(tls), status).await;
            }
        }
    })
    .await
}

/// An HTTP backend on a unix socket at `path`, answering every request with `status`.
pub async fn unix_backend(path: &std::path::Path, status: u16) -> Peer {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            connections.spawn(serve_http(TokioIo::new(stream), status));
        }
    });
    Peer {
        addr: "127.0.0.1:0".parse().unwrap(),
        task,
        accepted: Arc::default(),
    }
}

/// A plain HTTP backend answering every request with `status`.
pub async fn http_backend(status: u16) -> Peer {
    spawn_peer(move |tcp| serve_http(TokioIo::new(tcp), status)).await
}

/// A plain HTTP backend that answers 200 only to a request carrying `Host: expected_host` and a
/// `serve-doctor/…` User-Agent, and 400 to anything else: it pins the request the probe sends.
pub async fn host_checking_backend(expected_host: &str) -> Peer {
    let expected = Arc::new(expected_host.to_owned());
    spawn_peer(move |tcp| {
        let expected = expected.clone();
        async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
                let ok = header(HOST) == Some(expected.as_str())
                    && header(USER_AGENT).is_some_and(|ua| ua.starts_with("serve-doctor/"))
                    && header(CONNECTION) == Some("close");
                respond(if ok { 200 } else { 400 })
            });
            let io = TokioIo::new(tcp);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        }
    })
    .await
}

async fn respond(status: u16) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"hello from the test peer\n")))
        .unwrap())
}

async fn serve_http<I>(io: I, status: u16)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |_req: Request<Incoming>| respond(status));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Accepts, reads whatever comes (a ClientHello, an HTTP request), and never answers.
async fn read_forever(mut tcp: TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = tcp.read(&mut buf).await {
        if n == 0 {
            // The client gave up; keep nothing open.
            return;
        }
    }
}

/// A TLS "server" that reads the ClientHello and never answers: tailscaled while it waits up to
/// a minute for a certificate.
pub async fn stall_peer() -> Peer {
    spawn_peer(read_forever).await
}

/// A backend that accepts and reads the request but never answers: a hung app.
pub async fn mute_backend() -> Peer {
    spawn_peer(read_forever).await
}

/// Answers the ClientHello with a fatal `internal_error` alert, as tailscaled does when it cannot
/// get a certificate.
pub async fn alert_peer() -> Peer {
    spawn_peer(|mut tcp| async move {
        // Read the whole ClientHello record first: closing with unread data would send an RST,
        // and the client could see "connection reset" instead of the alert.
        let mut header = [0u8; 5];
        if tcp.read_exact(&mut header).await.is_err() {
            return;
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0u8; len];
        if tcp.read_exact(&mut body).await.is_err() {
            return;
        }
        if tcp.write_all(&INTERNAL_ERROR_ALERT).await.is_err() {
            return;
        }
        let _ = tcp.shutdown().await;
        // Drain until the client closes, again so that no RST overtakes the alert.
        read_forever(tcp).await;
    })
    .await
}

/// An address on 127.0.0.1 where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
