//! `diagnose` names the right cause for each scenario the bench makes real, over the LocalAPI and
//! over the real CLI, and never changes the daemon's serve config or prefs.

use std::time::Instant;

use crate::harness::{ROUTES, Route, SERVER, SERVER_NAME, bench, brief, check};

#[test]
fn healthy_with_a_certificate_really_issued_by_pebble() {
    let Some(b) = bench() else { return };
    for route in ROUTES {
        let (code, v) = b.diagnose(route, &[]);
        assert_eq!(v["cause"], "healthy", "{route:?}: {}", brief(&v));
        assert_eq!(code, 0);
        let tls = check(&v, "tls_handshake");
        assert!(
            tls["detail"].as_str().unwrap().contains("Pebble"),
            "{route:?}: {tls}"
        );
        assert_eq!(check(&v, "serve_proxy")["status"], "pass", "{}", brief(&v));
    }
}

#[test]
fn https_certificates_off_fails_the_handshake_at_once() {
    let Some(b) = bench() else { return };
    b.admin("certs?on=0");
    b.wait("CertDomains to empty", 20, || {
        b.status(SERVER)["CertDomains"].is_null()
    });
    for route in ROUTES {
        let (code, v) = b.diagnose(route, &["--full"]);
        assert_eq!(v["cause"], "https_disabled", "{route:?}: {}", brief(&v));
        assert_eq!(code, 2);
    }
}
