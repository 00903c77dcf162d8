//! What the daemon says since 1.100 (the `tls-cert-pending` code, another OS user holding it)
//! and fixes that keep the user's target: diagnoses on hand-written evidence.

use super::tests::{done, healthy, serve, status};
use super::*;
use crate::probe::TlsOutcome;
use crate::tailscale::CliFailure;

fn diagnose(ev: &Evidence) -> Diagnosis {
    assemble(ev, None, "t".into(), 0, true)
}

#[test]
fn tls_cert_pending_is_read_by_its_code_where_the_health_is_structured_and_by_text_otherwise() {
    let stalled = |health: &str, codes: Option<Vec<&str>>| {
        let mut ev = healthy();
        let mut s = status(|v| v["Health"] = serde_json::json!([health]));
        s.health_codes = codes.map(|c| c.into_iter().map(str::to_string).collect());
        ev.status = done(Ok(s));
        ev.tls = done(TlsOutcome::Stalled { after_ms: 5000 });
        ev.via_serve = Step::NotStarted;
        diagnose(&ev).cause
    };
    // A text this build does not know, but the code says it.
    assert_eq!(
        stalled(
            "Obtention du certificat TLS",
            Some(vec!["tls-cert-pending"])
        ),
        Cause::CertPending
    );
    // The CLI route: the text is all there is.
    assert_eq!(
        stalled(
            "Fetching TLS certificate via ACME for: box.tail1234.ts.net",
            None
        ),
        Cause::CertPending
    );
    // Neither: the stall is issuance failing.
    assert_eq!(
        stalled(
            "Some other warning",
            Some(vec!["dns-read-os-config-failed"])
        ),
        Cause::CertIssuanceFailing
    );
}

#[test]
fn in_use_by_another_os_user_names_that_user_and_does_not_say_tailscale_up() {
    let mut ev = healthy();
    ev.status = done(Err(CliFailure::Failed {
        code: Some(1),
        message: "Tailscale already in use by alice, pid 4242".into(),
    }));
    let d = diagnose(&ev);
    assert_eq!(d.cause, Cause::StatusUnparseable);
    assert!(
        d.summary
            .contains("in use by another user of this computer (alice)"),
        "{}",
        d.summary
    );
    assert_eq!(d.fixes.len(), 1);
    assert!(d.fixes[0].title.starts_with("Run Serve Doctor as alice"));
    assert!(d.fixes[0].command.is_none(), "{:?}", d.fixes);

    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["BackendState"] = "InUseOtherUser".into())));
    let d = diagnose(&ev);
    assert_eq!(d.cause, Cause::Stopped);
    assert!(
        d.summary.contains("in use by another user"),
        "{}",
        d.summary
    );
    assert!(
        d.fixes
            .iter()
            .all(|f| !f.command.as_deref().unwrap_or("").contains(" up")),
        "{:?}",
        d.fixes
    );
}

#[test]
fn printed_fixes_keep_the_target_and_avoid_a_port_a_tcp_forward_holds() {
    // A LAN backend: the tunnel aims at it, not at 127.0.0.1.
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["CertDomains"] = serde_json::Value::Null)));
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://192.168.1.20:8080"}}}}}"#,
    )));
    let d = diagnose(&ev);
    assert_eq!(d.cause, Cause::HttpsDisabled);
    let tunnel = d.fixes.iter().find(|f| f.id == FixId::SshTunnel).unwrap();
    assert_eq!(
        tunnel.command.as_deref(),
        Some("ssh -N -L 8080:192.168.1.20:8080 alice@box.tail1234.ts.net")
    );

    // Plain HTTP to an HTTPS backend with a path: the HTTPS command names the same target.
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"80":{"HTTP":true}},"Web":{"box.tail1234.ts.net:80":{"Handlers":{"/":{"Proxy":"https+insecure://127.0.0.1:8443/app"}}}}}"#,
    )));
    let d = diagnose(&ev);
    assert_eq!(d.cause, Cause::ServePlainHttp);
    assert_eq!(
        d.fixes[0].command.as_deref(),
        Some("/usr/bin/tailscale serve --bg --https=443 https+insecure://127.0.0.1:8443/app")
    );

    // Only a TCP forward on 443: `serve --bg PORT` would be refused there.
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"TCPForward":"127.0.0.1:22"}}}"#,
    )));
    let d = diagnose(&ev);
    assert_eq!(d.cause, Cause::ServeNotConfigured);
    assert_eq!(
        d.fixes[0].command.as_deref(),
        Some("/usr/bin/tailscale serve --bg --https=8443 18080")
    );
    assert!(d.fixes[0].title.contains("forwards TCP to 127.0.0.1:22"));
}
