//! The TLS step: one handshake with SNI, classified into a [`TlsOutcome`].
//!
//! Trust comes from the operating system's store (through `rustls-platform-verifier`), optionally
//! augmented by extra anchors (`--ca-file`, and the test CA in the integration tests). The
//! platform verifier is wrapped in a recorder so that a *rejected* certificate is still reported:
//! "expired on 2024-05-01, issued by R11 for foo.ts.net" is the evidence a person needs.
//!
//! Crypto is `rustls-graviola`, not ring or aws-lc-rs: those need a C toolchain for the target,
//! which breaks cross-checking for macOS from Linux.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pki_types::pem::PemObject;
use pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName,
    ProtocolVersion, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio::time::Instant as Deadline;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::extensions::GeneralName;

use super::tcp::{connect_until, ms_since};
use super::{CertInfo, CertProblem, TlsOutcome, Via};

/// The trust anchors (system store plus extras) and client settings every handshake uses.
///
/// Build it once and share it (`Arc<Trust>`): loading the system store is not free (it is
/// loaded in the background from the moment the `Trust` exists).
#[derive(Debug)]
pub struct Trust {
    /// Provider, protocol versions, the platform verifier, resumption off. Each handshake clones
    /// it to slot in its own [`Recorder`]; the `Arc` keeps those clones cheap to start from.
    config: Arc<ClientConfig>,
    /// The platform verifier, which each handshake's recorder delegates to.
    verifier: Arc<dyn ServerCertVerifier>,
}

/// Why a [`Trust`] could not be built. Each message names the file, since it is the user's input.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the CA file {}: {error}", path.display())]
    Unreadable { path: PathBuf, error: io::Error },
    #[error("the CA file {} is not valid PEM: {error}", path.display())]
    BadPem {
        path: PathBuf,
        error: pki_types::pem::Error,
    },
    #[error("the CA file {} contains no CERTIFICATE block", path.display())]
    NoCertificates { path: PathBuf },
    /// `index` counts from 1 among the file's CERTIFICATE blocks.
    #[error("certificate {index} in the CA file {} cannot be used as a trust anchor: {reason}", path.display())]
    BadCertificate {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    /// The verifier itself could not be set up, e.g. an extra root given in code was not a
    /// certificate, or the system store is empty and there are no extra roots.
    #[error("cannot set up certificate verification: {0}")]
    Verifier(rustls::Error),
}

impl Trust {
    /// The operating system's trust store only.
    pub fn system() -> Result<Trust, TrustError> {
        Trust::with_extra_roots(Vec::new())
    }

    /// The system store plus every CERTIFICATE block in a PEM file (other blocks, such as keys,
    /// are skipped).
    pub fn with_extra_pem_file(path: &Path) -> Result<Trust, TrustError> {
        // Read the bytes first so that "cannot open" and "not PEM" are told apart.
        let bytes = std::fs::read(path).map_err(|error| TrustError::Unreadable {
            path: path.to_owned(),
            error,
        })?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TrustError::BadPem {
                path: path.to_owned(),
                error,
            })?;
        if certs.is_empty() {
            return Err(TrustError::NoCertificates {
                path: path.to_owned(),
            });
        }
        // Parse each one here so that the error says which block is bad, and reads the same on
        // every platform (the platform verifiers word this differently, or not at all).
        for (i, der) in certs.iter().enumerate() {
            if let Err(e) = x509_parser::parse_x509_certificate(der) {
                return Err(TrustError::BadCertificate {
                    path: path.to_owned(),
                    index: i + 1,
                    reason: e.to_string(),
                });
            }
        }
        Trust::build(certs).map_err(|e| TrustError::BadCertificate {
            path: path.to_owned(),
            // The verifier does not say which anchor it refused.
            index: 0,
            reason: e.to_string(),
        })
    }

    /// The system store plus the given anchors.
    pub fn with_extra_roots(extra: Vec<CertificateDer<'static>>) -> Result<Trust, TrustError> {
        Trust::build(extra).map_err(TrustError::Verifier)
    }

    /// Accepts any certificate (signatures are still checked): how serve reaches an
    /// `https+insecure://` backend, so the probe sees what serve sees.
    pub fn accept_any() -> Result<Trust, TrustError> {
        let provider = Arc::new(rustls_graviola::default_provider());
        let verifier = Arc::new(AcceptAny(provider.clone()));
        Trust::with_verifier(provider, verifier).map_err(TrustError::Verifier)
    }

    fn build(extra: Vec<CertificateDer<'static>>) -> Result<Trust, rustls::Error> {
        // The extra anchors are the user's input: refuse a bad one now, not at the first
        // handshake.
        let mut check = rustls::RootCertStore::empty();
        for cert in &extra {
            check.add(cert.clone())?;
        }
        let provider = Arc::new(rustls_graviola::default_provider());
        let lazy = Arc::new(LazyPlatform {
            signatures: AcceptAny(provider.clone()),
            extra,
            bundle: OnceLock::new(),
            built: OnceLock::new(),
        });
        // Loading the system store is most of a run's start-up cost: a thread does it while
        // the run reads the status, and the first handshake waits for it only if it is not
        // done yet.
        let warm = lazy.clone();
        let _ = std::thread::Builder::new()
            .name("trust-store".into())
            .spawn(move || {
                if warm.bundle().is_none() {
                    let _ = warm.get();
                }
            });
        Trust::with_verifier(provider, lazy)
    }

    fn with_verifier(
        provider: Arc<rustls::crypto::CryptoProvider>,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> Result<Trust, rustls::Error> {
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        // A resumed session skips certificate verification, so a probe would not see the cert
        // the server serves *now*; and a diagnosis must not depend on an earlier probe.
        config.resumption = Resumption::disabled();
        Ok(Trust {
            config: Arc::new(config),
            verifier,
        })
    }

    /// A connector for one handshake, plus the recorder that will hold the presented cert.
    fn connector(&self) -> (TlsConnector, Arc<Recorder>) {
        let recorder = Arc::new(Recorder {
            inner: self.verifier.clone(),
            end_entity: OnceLock::new(),
        });
        let mut config = ClientConfig::clone(&self.config);
        config
            .dangerous()
            .set_certificate_verifier(recorder.clone());
        (TlsConnector::from(Arc::new(config)), recorder)
    }
}

/// The platform verifier, built on first use. The signature checks need only the provider, so
/// only the certificate check waits for the store.
///
/// Where the system's store is a bundle file plus certificate directories (Linux), the platform
/// verifier reads every file of both, about 5 ms, most of a run's start-up. A certificate that
/// chains to the bundle (and the extra anchors) alone is trusted by the whole store too, so
/// that smaller store answers first (the thread [`Trust::build`] starts loads it); only a
/// certificate it does not accept goes to the platform verifier, whose answer, accept or
/// reject, is the one given.
#[derive(Debug)]
struct LazyPlatform {
    /// The signature checks, which need the provider only (the same as [`AcceptAny`]'s); its
    /// provider is the one the verifier is built with.
    signatures: AcceptAny,
    extra: Vec<CertificateDer<'static>>,
    /// The bundle file's verifier; `None` where there is no bundle, or it holds no anchor.
    bundle: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
    built: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, rustls::Error>>,
}

impl LazyPlatform {
    fn bundle(&self) -> Option<&Arc<WebPkiServerVerifier>> {
        self.bundle
            .get_or_init(|| {
                let file = crate::platform::system_ca_bundle()?;
                let mut roots = rustls::RootCertStore::empty();
                // Checked when the Trust was built.
                for cert in &self.extra {
                    roots.add(cert.clone()).ok()?;
                }
                let certs = CertificateDer::pem_file_iter(file).ok()?;
                let (added, _) = roots.add_parsable_certificates(certs.filter_map(Result::ok));
                if added == 0 {
                    return None;
                }
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    self.signatures.0.clone(),
                )
                .build()
                .ok()
            })
            .as_ref()
    }

    fn get(&self) -> Result<&Arc<rustls_platform_verifier::Verifier>, rustls::Error> {
        self.built
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra.iter().cloned(),
                    self.signatures.0.clone(),
                )
                .map(Arc::new)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyPlatform {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(bundle) = self.bundle()
            && let Ok(verified) = bundle.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )
        {
            return Ok(verified);
        }
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

/// Trusts every certificate; the handshake signatures are still verified with the provider's
/// algorithms, so the peer must hold the key of the certificate it shows.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Delegates every decision to the platform verifier and keeps the end-entity certificate, so
/// that a rejected handshake can still say what was presented.
#[derive(Debug)]
struct Recorder {
    inner: Arc<dyn ServerCertVerifier>,
    /// Set once per handshake (one recorder per handshake, see [`Trust::connector`]).
    end_entity: OnceLock<CertificateDer<'static>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Only the first presentation matters; a second call would be the same handshake's cert.
        let _ = self.end_entity.set(end_entity.clone().into_owned());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// Connects to `addr` ("host:port") and does one TLS handshake with SNI `server_name`, all within
/// `timeout`. Never fails: every way it can go wrong is an outcome.
pub async fn tls_handshake(
    addr: &str,
    via: &Via,
    server_name: &str,
    trust: &Trust,
    timeout: Duration,
) -> TlsOutcome {
    tls_session(addr, via, server_name, trust, timeout).await.0
}

/// A connection whose handshake just completed, kept for one request (see
/// [`super::http::get_over`]): the request through serve then costs no second handshake, on
/// either side, and goes over the very connection whose certificate was checked, as a
/// browser's first request does.
pub struct TlsSession {
    /// Boxed: a rustls connection is over a kilobyte, and sessions travel in small messages.
    pub(crate) stream: Box<TlsStream<TcpStream>>,
    /// The `host:port` dialed and the SNI sent: a request may only use a session made for it.
    key: TlsSessionKey,
}

/// Which connection a [`TlsSession`] is: the address dialed and the server name sent.
pub type TlsSessionKey = (String, String);

impl TlsSession {
    pub fn key(&self) -> &TlsSessionKey {
        &self.key
    }
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("key", &self.key)
            .finish()
    }
}

/// [`tls_handshake`], keeping the connection when the handshake is established (the session is
/// `Some` exactly then).
pub async fn tls_session(
    addr: &str,
    via: &Via,
    server_name: &str,
    trust: &Trust,
    timeout: Duration,
) -> (TlsOutcome, Option<TlsSession>) {
    let (outcome, stream) = handshake_until(
        addr,
        via,
        server_name,
        trust,
        Instant::now(),
        Deadline::now() + timeout,
    )
    .await;
    let key = (addr.to_owned(), server_name.to_owned());
    (
        outcome,
        stream.map(|stream| TlsSession {
            stream: Box::new(stream),
            key,
        }),
    )
}

/// The handshake for callers that go on to use the stream (HTTPS): the established stream, or
/// the outcome that says why there is none. `started` and `deadline` belong to the caller's
/// whole probe.
pub(crate) async fn connect_tls(
    addr: &str,
    via: &Via,
    server_name: &str,
    trust: &Trust,
    started: Instant,
    deadline: Deadline,
) -> Result<TlsStream<TcpStream>, TlsOutcome> {
    match handshake_until(addr, via, server_name, trust, started, deadline).await {
        (_, Some(stream)) => Ok(stream),
        (outcome, None) => Err(outcome),
    }
}

/// The stream is `Some` exactly when the outcome is [`TlsOutcome::Established`].
async fn handshake_until(
    addr: &str,
    via: &Via,
    server_name: &str,
    trust: &Trust,
    started: Instant,
    deadline: Deadline,
) -> (TlsOutcome, Option<TlsStream<TcpStream>>) {
    let name = match ServerName::try_from(server_name.to_owned()) {
        Ok(name) => name,
        Err(e) => {
            let detail = format!("{server_name:?} cannot be used as a TLS server name: {e}");
            return (TlsOutcome::Failed { detail }, None);
        }
    };
    let tcp = match connect_until(addr, via, started, deadline).await {
        (_, Some(tcp)) => tcp,
        (tcp, None) => return (TlsOutcome::Connect { tcp }, None),
    };
    let (connector, recorder) = trust.connector();
    let presented = || recorder.end_entity.get().map(cert_info);

    match tokio::time::timeout_at(deadline, connector.connect(name, tcp)).await {
        Err(_elapsed) => (
            TlsOutcome::Stalled {
                after_ms: ms_since(started),
            },
            None,
        ),
        Ok(Err(e)) => (classify(&e, presented(), ms_since(started)), None),
        Ok(Ok(stream)) => {
            let (_, conn) = stream.get_ref();
            let version = version_name(conn.protocol_version());
            // The recorder always runs on a full handshake (resumption is off); the peer's chain
            // is only a fallback.
            let cert = presented().or_else(|| conn.peer_certificates()?.first().map(cert_info));
            match cert {
                Some(Ok(cert)) => (
                    TlsOutcome::Established {
                        ms: ms_since(started),
                        version,
                        cert,
                    },
                    Some(stream),
                ),
                Some(Err(e)) => {
                    let detail =
                        format!("handshake completed but the certificate is unreadable: {e}");
                    (TlsOutcome::Failed { detail }, None)
                }
                None => {
                    let detail = "handshake completed without a server certificate".to_owned();
                    (TlsOutcome::Failed { detail }, None)
                }
            }
        }
    }
}

/// Turns a failed handshake into evidence. `presented` is the parsed certificate, if the
/// handshake got that far.
fn classify(e: &io::Error, presented: Option<Result<CertInfo, String>>, ms: u64) -> TlsOutcome {
    // tokio-rustls wraps rustls' own error in the io::Error.
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        let detail = match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "the server closed the connection during the TLS handshake".to_owned()
            }
            _ => format!("TLS handshake failed: {e}"),
        };
        return TlsOutcome::Failed { detail };
    };
    match tls {
        rustls::Error::AlertReceived(alert) => TlsOutcome::Alert {
            description: alert_name(*alert),
            ms,
        },
        rustls::Error::InvalidCertificate(ce) => {
            let cert = presented.and_then(Result::ok);
            let problem = refine_by_dates(cert_problem(ce), cert.as_ref());
            TlsOutcome::CertRejected {
                problem,
                detail: tls.to_string(),
                cert,
            }
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            TlsOutcome::Failed {
                detail: format!("the server did not answer with valid TLS: {tls}"),
            }
        }
        other => TlsOutcome::Failed {
            detail: format!("TLS handshake failed: {other}"),
        },
    }
}

fn cert_problem(e: &CertificateError) -> CertProblem {
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => CertProblem::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertProblem::NotYetValid
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertProblem::WrongName
        }
        CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
        CertificateError::Revoked => CertProblem::Revoked,
        _ => CertProblem::Other,
    }
}

/// The macOS and Windows verifiers report validity-period failures as `Other` with a platform
/// message; the presented certificate's dates still say what happened.
fn refine_by_dates(problem: CertProblem, cert: Option<&CertInfo>) -> CertProblem {
    match cert {
        Some(c) if problem == CertProblem::Other => {
            let now = Utc::now();
            if now > c.not_after {
                CertProblem::Expired
            } else if now < c.not_before {
                CertProblem::NotYetValid
            } else {
                problem
            }
        }
        _ => problem,
    }
}

/// The alert's name as the TLS RFCs and OpenSSL-based tools spell it (`internal_error`), so that
/// it can be matched against what curl printed.
fn alert_name(alert: AlertDescription) -> String {
    match alert.as_str() {
        Some(name) => snake_case(name),
        None => format!("unknown_alert_{}", u8::from(alert)),
    }
}

/// `InternalError` → `internal_error`, `UnknownCA` → `unknown_ca`,
/// `UnknownPSKIdentity` → `unknown_psk_identity`.
fn snake_case(camel: &str) -> String {
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev_lower = chars[i - 1].is_ascii_lowercase();
            let acronym_ends = chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || acronym_ends {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn version_name(v: Option<ProtocolVersion>) -> String {
    match v {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    }
}

/// What a person cares about in a certificate. The DER comes from the server, so any parse
/// failure is an error string, never a panic.
pub(crate) fn cert_info(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(name) => Some((*name).to_owned()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("bad subjectAltName: {e}")),
    };
    let time = |t: &x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| format!("validity date out of range: {t}"))
    };
    let validity = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        not_before: time(&validity.not_before)?,
        not_after: time(&validity.not_after)?,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn alert_names_are_snake_case() {
        assert_eq!(
            alert_name(AlertDescription::InternalError),
            "internal_error"
        );
        assert_eq!(
            alert_name(AlertDescription::HandshakeFailure),
            "handshake_failure"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::UnknownPSKIdentity),
            "unknown_psk_identity"
        );
        assert_eq!(
            alert_name(AlertDescription::UnrecognisedName),
            "unrecognised_name"
        );
        assert_eq!(
            alert_name(AlertDescription::from(0xee)),
            "unknown_alert_238"
        );
    }

    #[test]
    fn certificate_errors_map_one_to_one() {
        assert_eq!(
            cert_problem(&CertificateError::Expired),
            CertProblem::Expired
        );
        assert_eq!(
            cert_problem(&CertificateError::NotValidYet),
            CertProblem::NotYetValid
        );
        assert_eq!(
            cert_problem(&CertificateError::NotValidForName),
            CertProblem::WrongName
        );
        assert_eq!(
            cert_problem(&CertificateError::UnknownIssuer),
            CertProblem::UnknownIssuer
        );
        assert_eq!(
            cert_problem(&CertificateError::Revoked),
            CertProblem::Revoked
        );
        assert_eq!(
            cert_problem(&CertificateError::BadSignature),
            CertProblem::Other
        );
    }

    fn file_with(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents).unwrap();
        f
    }

    #[test]
    fn missing_ca_file_is_unreadable_and_named() {
        let path = Path::new("/nonexistent/serve-doctor/ca.pem");
        let err = Trust::with_extra_pem_file(path).unwrap_err();
        assert!(
            matches!(&err, TrustError::Unreadable { error, .. } if error.kind() == io::ErrorKind::NotFound)
        );
        assert!(
            err.to_string().contains("/nonexistent/serve-doctor/ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn empty_ca_file_has_no_certificates() {
        let f = file_with(b"");
        let err = Trust::with_extra_pem_file(f.path()).unwrap_err();
        assert!(matches!(err, TrustError::NoCertificates { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&f.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn text_without_pem_blocks_has_no_certificates() {
        let f = file_with(b"this is not a certificate\n");
        let err = Trust::with_extra_pem_file(f.path()).unwrap_err();
        assert!(matches!(err, TrustError::NoCertificates { .. }), "{err:?}");
    }

    #[test]
    fn a_key_alone_has_no_certificates() {
        let f = file_with(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        let err = Trust::with_extra_pem_file(f.path()).unwrap_err();
        assert!(matches!(err, TrustError::NoCertificates { .. }), "{err:?}");
    }

    #[test]
    fn bad_base64_is_bad_pem() {
        let f = file_with(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        let err = Trust::with_extra_pem_file(f.path()).unwrap_err();
        assert!(matches!(err, TrustError::BadPem { .. }), "{err:?}");
    }

    #[test]
    fn unterminated_block_is_bad_pem() {
        let f = file_with(b"-----BEGIN CERTIFICATE-----\nAAAA\n");
        let err = Trust::with_extra_pem_file(f.path()).unwrap_err();
        assert!(matches!(err, TrustError::BadPem { .. }), "{err:?}");
    }

    #[test]
    fn garbage_certificate_is_bad_certificate() {
        // Valid base64, but the bytes are not DER.
        let f = file_with(
            b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        let err = Trust::with_extra_pem_file(f.path()).unwrap_err();
        assert!(
            matches!(err, TrustError::BadCertificate { index: 1, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&f.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn garbage_root_in_code_is_a_verifier_error() {
        let err = Trust::with_extra_roots(vec![CertificateDer::from(vec![1, 2, 3])]).unwrap_err();
        assert!(matches!(err, TrustError::Verifier(_)), "{err:?}");
    }
}
