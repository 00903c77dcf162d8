//! The probes against real peers on 127.0.0.1: every outcome the diagnosis relies on.
//!
//! Timeouts that are *meant* to expire are short (300 ms); the tests assert the classification,
//! never tight timings.

use std::io::Write;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serve_doctor::probe::{
    CertProblem, HttpOutcome, TcpOutcome, TlsOutcome, Trust, Via, http_get, tcp_connect,
    tls_handshake,
};

use crate::support::tls::{
    TestCa, alert_peer, closed_port, host_checking_backend, http_backend, mute_backend,
    self_signed_leaf, stall_peer, tls_peer,
};

const NAME: &str = "laptop.example-tailnet.ts.net";
/// For steps that should finish: generous, so a loaded CI machine does not flake.
const PATIENT: Duration = Duration::from_secs(10);
/// For steps that are meant to time out.
const SHORT: Duration = Duration::from_millis(300);

fn trust(ca: &TestCa) -> Trust {
    Trust::with_extra_roots(vec![ca.der()]).unwrap()
}

// ---- TCP ----

#[tokio::test]
async fn tcp_connects_to_a_listener() {
    let peer = http_backend(200).await;
    let (outcome, stream) = tcp_connect(&peer.addr_str(), &Via::Direct, PATIENT).await;
    assert!(
        matches!(outcome, TcpOutcome::Connected { .. }),
        "{outcome:?}"
    );
    assert!(stream.is_some());
}

#[tokio::test]
async fn tcp_to_a_closed_port_is_refused() {
    let addr = closed_port().await;
    let (outcome, stream) = tcp_connect(&addr.to_string(), &Via::Direct, PATIENT).await;
    assert_eq!(outcome, TcpOutcome::Refused);
    assert!(stream.is_none());
}

#[tokio::test]
async fn tcp_resolves_localhost() {
    let peer = http_backend(200).await;
    let addr = format!("localhost:{}", peer.addr().port());
    let (outcome, _) = tcp_connect(&addr, &Via::Direct, PATIENT).await;
    assert!(
        matches!(outcome, TcpOutcome::Connected { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn tcp_to_an_address_that_does_not_resolve_is_unreachable() {
    // No port: fails in resolution without touching the network.
    let (outcome, _) = tcp_connect("no-port-here", &Via::Direct, PATIENT).await;
    assert!(
        matches!(&outcome, TcpOutcome::Unreachable { reason } if reason.contains("no-port-here")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn dropped_peer_stops_listening() {
    let peer = http_backend(200).await;
    let addr = peer.addr_str();
    drop(peer);
    // The abort lands when the runtime next polls the task; give it a moment.
    let mut outcome = TcpOutcome::Connected { ms: 0 };
    for _ in 0..50 {
        outcome = tcp_connect(&addr, &Via::Direct, PATIENT).await.0;
        if outcome == TcpOutcome::Refused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(outcome, TcpOutcome::Refused);
}

// ---- TLS ----

#[tokio::test]
async fn valid_cert_is_established_with_issuer_and_expiry() {
    let ca = TestCa::new();
    let peer = tls_peer(ca.leaf(NAME, 60), 200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    let TlsOutcome::Established { version, cert, .. } = outcome else {
        panic!("expected Established, got {outcome:?}");
    };
    assert_eq!(version, "TLSv1.3");
    assert!(
        cert.issuer.contains("Serve Doctor Test CA"),
        "{}",
        cert.issuer
    );
    assert!(cert.subject.contains(NAME), "{}", cert.subject);
    assert_eq!(cert.dns_names, vec![NAME.to_owned()]);
    let left = cert.not_after - Utc::now();
    assert!(
        left > TimeDelta::days(59) && left <= TimeDelta::days(60),
        "{left:?}"
    );
    assert!(cert.not_before < Utc::now());
}

#[tokio::test]
async fn expiring_cert_is_established_and_says_when() {
    let ca = TestCa::new();
    let peer = tls_peer(ca.leaf(NAME, 5), 200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    let TlsOutcome::Established { cert, .. } = outcome else {
        panic!("expected Established, got {outcome:?}");
    };
    let left = cert.not_after - Utc::now();
    assert!(
        left > TimeDelta::zero() && left <= TimeDelta::days(5),
        "{left:?}"
    );
}

#[tokio::test]
async fn ca_from_a_pem_file_is_trusted() {
    let ca = TestCa::new();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(ca.pem().as_bytes()).unwrap();
    let trust = Trust::with_extra_pem_file(file.path()).unwrap();
    let peer = tls_peer(ca.leaf(NAME, 60), 200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust, PATIENT).await;
    assert!(
        matches!(outcome, TlsOutcome::Established { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn wrong_name_is_rejected_with_the_presented_cert() {
    let ca = TestCa::new();
    let peer = tls_peer(ca.leaf("old-name.example-tailnet.ts.net", 60), 200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    let TlsOutcome::CertRejected {
        problem,
        detail,
        cert,
    } = outcome
    else {
        panic!("expected CertRejected, got {outcome:?}");
    };
    assert_eq!(problem, CertProblem::WrongName, "{detail}");
    let cert = cert.expect("the rejected cert is still reported");
    assert_eq!(
        cert.dns_names,
        vec!["old-name.example-tailnet.ts.net".to_owned()]
    );
}

#[tokio::test]
async fn expired_cert_is_rejected_as_expired() {
    let ca = TestCa::new();
    let peer = tls_peer(ca.leaf(NAME, -2), 200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    let TlsOutcome::CertRejected {
        problem,
        detail,
        cert,
    } = outcome
    else {
        panic!("expected CertRejected, got {outcome:?}");
    };
    assert_eq!(problem, CertProblem::Expired, "{detail}");
    let cert = cert.expect("the rejected cert is still reported");
    assert!(cert.not_after < Utc::now());
    assert!(
        cert.issuer.contains("Serve Doctor Test CA"),
        "{}",
        cert.issuer
    );
}

#[tokio::test]
async fn self_signed_cert_is_unknown_issuer() {
    let ca = TestCa::new();
    let peer = tls_peer(self_signed_leaf(NAME), 200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    let TlsOutcome::CertRejected {
        problem,
        detail,
        cert,
    } = outcome
    else {
        panic!("expected CertRejected, got {outcome:?}");
    };
    assert_eq!(problem, CertProblem::UnknownIssuer, "{detail}");
    assert_eq!(cert.map(|c| c.dns_names), Some(vec![NAME.to_owned()]));
}

#[tokio::test]
async fn silent_server_is_a_stalled_handshake() {
    let ca = TestCa::new();
    let peer = stall_peer().await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), SHORT).await;
    assert!(
        matches!(outcome, TlsOutcome::Stalled { after_ms } if after_ms >= 250),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn internal_error_alert_is_reported_by_name() {
    let ca = TestCa::new();
    let peer = alert_peer().await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    assert!(
        matches!(&outcome, TlsOutcome::Alert { description, .. } if description == "internal_error"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn tls_to_a_closed_port_is_a_refused_connect() {
    let ca = TestCa::new();
    let addr = closed_port().await;
    let outcome = tls_handshake(&addr.to_string(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    assert_eq!(
        outcome,
        TlsOutcome::Connect {
            tcp: TcpOutcome::Refused
        }
    );
}

#[tokio::test]
async fn tls_to_a_plain_http_server_fails() {
    let ca = TestCa::new();
    let peer = http_backend(200).await;
    let outcome = tls_handshake(&peer.addr_str(), &Via::Direct, NAME, &trust(&ca), PATIENT).await;
    assert!(matches!(outcome, TlsOutcome::Failed { .. }), "{outcome:?}");
}

#[tokio::test]
async fn invalid_server_name_fails_without_connecting() {
    let ca = TestCa::new();
    let addr = closed_port().await;
    let outcome = tls_handshake(
        &addr.to_string(),
        &Via::Direct,
        "not a name",
        &trust(&ca),
        PATIENT,
    )
    .await;
    assert!(matches!(outcome, TlsOutcome::Failed { .. }), "{outcome:?}");
}

// ---- HTTP ----

#[tokio::test]
async fn healthy_backend_answers_200() {
    let peer = http_backend(200).await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        "127.0.0.1",
        "/",
        None,
        PATIENT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::Response { status: 200, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn request_carries_host_user_agent_and_connection_close() {
    let peer = host_checking_backend("app.internal").await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        "app.internal",
        "/",
        None,
        PATIENT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::Response { status: 200, .. }),
        "{outcome:?}"
    );
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        "other.internal",
        "/",
        None,
        PATIENT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::Response { status: 400, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn failing_backend_status_is_reported() {
    let peer = http_backend(502).await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        "127.0.0.1",
        "/",
        None,
        PATIENT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::Response { status: 502, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn mute_backend_is_no_response() {
    let peer = mute_backend().await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        "127.0.0.1",
        "/",
        None,
        SHORT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::NoResponse { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn backend_down_is_a_refused_connect() {
    let addr = closed_port().await;
    let outcome = http_get(
        &addr.to_string(),
        &Via::Direct,
        "127.0.0.1",
        "/",
        None,
        PATIENT,
    )
    .await;
    assert_eq!(
        outcome,
        HttpOutcome::Connect {
            tcp: TcpOutcome::Refused
        }
    );
}

#[tokio::test]
async fn https_through_serve_answers_200() {
    let ca = TestCa::new();
    let trust = trust(&ca);
    let peer = tls_peer(ca.leaf(NAME, 60), 200).await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        NAME,
        "/",
        Some((NAME, &trust)),
        PATIENT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::Response { status: 200, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn https_through_serve_with_backend_down_is_502() {
    let ca = TestCa::new();
    let trust = trust(&ca);
    let peer = tls_peer(ca.leaf(NAME, 60), 502).await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        NAME,
        "/",
        Some((NAME, &trust)),
        PATIENT,
    )
    .await;
    assert!(
        matches!(outcome, HttpOutcome::Response { status: 502, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn https_with_a_tls_alert_is_failed() {
    let ca = TestCa::new();
    let trust = trust(&ca);
    let peer = alert_peer().await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        NAME,
        "/",
        Some((NAME, &trust)),
        PATIENT,
    )
    .await;
    assert!(
        matches!(&outcome, HttpOutcome::Failed { detail } if detail.contains("internal_error")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn https_to_a_closed_port_is_a_refused_connect() {
    let ca = TestCa::new();
    let trust = trust(&ca);
    let addr = closed_port().await;
    let outcome = http_get(
        &addr.to_string(),
        &Via::Direct,
        NAME,
        "/",
        Some((NAME, &trust)),
        PATIENT,
    )
    .await;
    assert_eq!(
        outcome,
        HttpOutcome::Connect {
            tcp: TcpOutcome::Refused
        }
    );
}

#[tokio::test]
async fn https_with_a_stalled_handshake_is_failed_within_the_timeout() {
    let ca = TestCa::new();
    let trust = trust(&ca);
    let peer = stall_peer().await;
    let outcome = http_get(
        &peer.addr_str(),
        &Via::Direct,
        NAME,
        "/",
        Some((NAME, &trust)),
        SHORT,
    )
    .await;
    assert!(
        matches!(&outcome, HttpOutcome::Failed { detail } if detail.contains("stalled")),
        "{outcome:?}"
    );
}
