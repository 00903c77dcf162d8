//! Network evidence, no verdicts.
//!
//! This room dials things and writes down what happened: a DNS question, a TCP connect, a TLS
//! handshake with the certificate that came back, one HTTP request. It never decides what an
//! outcome *means* for the user; that is `diagnosis`'s job. Every function here is bounded by the
//! timeout it is given and reports a stall as data (`Stalled`, `NoResponse`) instead of an error,
//! because a stall is often the most telling evidence of all (tailscaled holds a handshake for up
//! to 60 s while it fails to get a certificate).

pub mod dns;
pub mod http;
mod socks;
pub mod tcp;
pub mod tls;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use dns::DnsOutcome;
pub use http::{backend_get, get_over, http_get};
pub use tcp::tcp_connect;
pub use tls::{TlsSession, TlsSessionKey, Trust, TrustError, tls_handshake, tls_session};

/// How a probe reaches its address: directly, or through a SOCKS5 proxy ("host:port" of the
/// proxy) that resolves and dials on its side — tailscaled's own proxy into the tailnet on a
/// userspace node, or `ssh -D` to a remote node's loopback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Via {
    #[default]
    Direct,
    Socks5(String),
}

/// What a plain TCP connect found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TcpOutcome {
    Connected {
        ms: u64,
    },
    /// RST: nothing listens on that port.
    Refused,
    /// No route, host down, name did not resolve, …
    Unreachable {
        reason: String,
    },
    TimedOut {
        after_ms: u64,
    },
}

/// The leaf certificate a server presented, as far as a person cares about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names from the subjectAltName extension.
    pub dns_names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Why the certificate was not accepted; maps 1:1 from rustls' `CertificateError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertProblem {
    Expired,
    NotYetValid,
    WrongName,
    UnknownIssuer,
    Revoked,
    Other,
}

/// What a TLS handshake (TCP connect first) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsOutcome {
    /// The TCP step already failed (never `Connected`).
    Connect { tcp: TcpOutcome },
    /// Handshake completed and the certificate verified.
    Established {
        ms: u64,
        version: String,
        cert: CertInfo,
    },
    /// Connected, sent the ClientHello, and nothing decisive came back within the timeout.
    Stalled { after_ms: u64 },
    /// The server sent a fatal alert, e.g. `internal_error`.
    Alert { description: String, ms: u64 },
    /// The certificate was presented but rejected.
    CertRejected {
        problem: CertProblem,
        detail: String,
        cert: Option<CertInfo>,
    },
    /// The peer closed the connection or spoke something that is not TLS.
    Failed { detail: String },
}

/// What one HTTP/1.1 request found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HttpOutcome {
    Response {
        status: u16,
        ms: u64,
    },
    /// The TCP (or TLS) connection could not be set up.
    Connect {
        tcp: TcpOutcome,
    },
    /// Connected (and TLS done when asked), the request went out, no response head in time.
    NoResponse {
        after_ms: u64,
    },
    /// TLS to the peer failed on its certificate (an `https://` backend serve would refuse too).
    CertRejected {
        problem: CertProblem,
        detail: String,
    },
    /// TLS failed or the peer answered something that is not HTTP.
    Failed {
        detail: String,
    },
}
