//! Every rule as a unit test on hand-written evidence: precedence, the traps from the facts
//! sheet, early certainty, and the wording of the checks that carry the evidence.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::probe::{CertInfo, CertProblem, HttpOutcome, TcpOutcome, TlsOutcome};
use crate::tailscale::{
    CertCommand, CliFailure, CliSource, Located, NotFound, ServeConfig, Status,
};

pub(super) fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub(super) const HEALTHY: &str = r#"{"Version":"1.96.4","TUN":true,"BackendState":"Running","TailscaleIPs":["100.101.102.103"],
  "Self":{"DNSName":"box.tail1234.ts.net.","TailscaleIPs":["100.101.102.103","fd7a:115c:a1e0::1"],"Online":true,
          "CapMap":{"https":null,"funnel":null}},
  "Health":[],"CurrentTailnet":{"Name":"me@example.com","MagicDNSSuffix":"tail1234.ts.net","MagicDNSEnabled":true},
  "CertDomains":["box.tail1234.ts.net"]}"#;

const SERVE: &str = r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}}}"#;

pub(super) fn status(patch: impl FnOnce(&mut serde_json::Value)) -> Status {
    let mut v: serde_json::Value = serde_json::from_str(HEALTHY).unwrap();
    patch(&mut v);
    serde_json::from_value(v).unwrap()
}

pub(super) fn serve(json: &str) -> ServeConfig {
    ServeConfig::from_json(json.as_bytes()).unwrap()
}

pub(super) fn cert(days_left: i64) -> CertInfo {
    CertInfo {
        subject: "CN=box.tail1234.ts.net".into(),
        issuer: "CN=E6, O=Let's Encrypt".into(),
        dns_names: vec!["box.tail1234.ts.net".into()],
        not_before: now() - TimeDelta::days(30),
        not_after: now() + TimeDelta::days(days_left),
    }
}

pub(super) fn done<T>(value: T) -> Step<T> {
    Step::Done { value, ms: 3 }
}

/// Evidence of a fully healthy node; tests break one thing at a time.
pub(super) fn healthy() -> Evidence {
    let mut ev = Evidence::new(
        now(),
        Platform::Linux,
        Inputs {
            default_user: "alice".into(),
            ..Inputs::default()
        },
        Ok(Located {
            path: "/usr/bin/tailscale".into(),
            source: CliSource::Path,
        }),
    );
    ev.status = done(Ok(status(|_| {})));
    ev.serve = done(Ok(serve(SERVE)));
    ev.tls = done(TlsOutcome::Established {
        ms: 4,
        version: "TLSv1.3".into(),
        cert: cert(60),
    });
    ev.backend = done(HttpOutcome::Response { status: 200, ms: 1 });
    ev.via_serve = done(HttpOutcome::Response { status: 200, ms: 2 });
    ev
}

pub(super) fn cause(ev: &Evidence) -> Cause {
    assemble(ev, None, "test".into(), 0, true).cause
}

fn certain(ev: &Evidence) -> Option<Cause> {
    rules::decide(ev, &plan(ev))
}

#[test]
fn healthy_is_green_with_url_and_port_from_serve() {
    let d = assemble(&healthy(), None, "test".into(), 0, true);
    assert_eq!((d.cause, d.health), (Cause::Healthy, Health::Green));
    assert_eq!(d.url.as_deref(), Some("https://box.tail1234.ts.net/"));
    assert_eq!(
        (d.backend_port, d.backend_port_source),
        (18080, PortSource::ServeConfig)
    );
    assert!(
        d.checks.iter().all(|c| c.status != CheckStatus::Fail),
        "{:#?}",
        d.checks
    );
    assert!(d.fixes.is_empty());
}

#[test]
fn every_cause_has_its_health_and_a_unique_code() {
    let mut codes: Vec<_> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    codes.dedup();
    assert_eq!(codes.len(), Cause::ALL.len());
    assert_eq!(Cause::ALL.first(), Some(&Cause::TailscaleNotFound));
    assert_eq!(Cause::ALL.last(), Some(&Cause::Healthy));
    assert_eq!(Cause::CertPending.health(), Health::Yellow);
    assert_eq!(Cause::NeedsApproval.health(), Health::Gray);
    assert_eq!(Cause::BackendDown.health(), Health::Red);
}

#[test]
fn cli_missing_is_gray_and_names_the_forced_path() {
    let mut ev = healthy();
    ev.cli = Err(NotFound {
        searched: vec!["/x/tailscale".into()],
        forced: Some("/x/tailscale".into()),
    });
    let d = assemble(&ev, None, "none".into(), 0, true);
    assert_eq!(d.cause, Cause::TailscaleNotFound);
    assert!(d.summary.contains("/x/tailscale"));
}

#[test]
fn daemon_down_and_timeouts_are_daemon_unreachable() {
    let mut ev = healthy();
    ev.status = done(Err(CliFailure::DaemonUnreachable {
        message: "failed to connect to local tailscaled".into(),
    }));
    assert_eq!(cause(&ev), Cause::DaemonUnreachable);
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(
        d.fixes[0].command.as_deref(),
        Some("sudo systemctl start tailscaled")
    );
    ev.platform = Platform::MacOs;
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.fixes[0].command.as_deref(), Some("open -a Tailscale"));
    ev.status = done(Err(CliFailure::TimedOut { after_ms: 5000 }));
    assert_eq!(cause(&ev), Cause::DaemonUnreachable);
}

#[test]
fn a_node_ssh_cannot_reach_says_so_and_offers_no_daemon_start() {
    let mut ev = healthy();
    ev.status = done(Err(CliFailure::NoConnection {
        message: "ssh to root@box:2222 did not answer within 2 s".into(),
    }));
    let d = assemble(
        &ev,
        None,
        "ssh root@box:2222 (not connected)".into(),
        0,
        true,
    );
    assert_eq!(d.cause, Cause::DaemonUnreachable);
    assert_eq!(
        d.summary,
        "The node could not be reached: ssh to root@box:2222 did not answer within 2 s."
    );
    assert_eq!(d.fixes.len(), 1);
    assert_eq!(d.fixes[0].command, None, "{:?}", d.fixes);
}

#[test]
fn garbage_and_gui_wrapper_are_unparseable_never_not_running() {
    let mut ev = healthy();
    ev.status = done(Err(CliFailure::Unparseable {
        first_bytes: "hello".into(),
        error: "x".into(),
    }));
    assert_eq!(cause(&ev), Cause::StatusUnparseable);
    ev.status = done(Err(CliFailure::GuiUnavailable {
        message: "The Tailscale GUI failed to start".into(),
    }));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::StatusUnparseable);
    assert!(d.summary.contains("access problem"), "{}", d.summary);
}

#[test]
fn stopped_with_a_stale_healthy_looking_config_is_stopped() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["BackendState"] = "Stopped".into())));
    assert_eq!(certain(&ev), Some(Cause::Stopped));
    assert_eq!(cause(&ev), Cause::Stopped);
}

#[test]
fn logged_out_with_null_cert_domains_is_needs_login_not_https_disabled() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["BackendState"] = "NeedsLogin".into();
        v["CertDomains"] = serde_json::Value::Null;
        v["Self"]["DNSName"] = "".into();
        v["AuthURL"] = "https://login.tailscale.com/a/abc".into();
    })));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::NeedsLogin);
    assert_eq!(
        d.fixes[0].url.as_deref(),
        Some("https://login.tailscale.com/a/abc")
    );
    assert_eq!(
        d.check(CheckId::HttpsCerts).unwrap().status,
        CheckStatus::Skip
    );
}

#[test]
fn expired_key_is_needs_login_and_approval_is_its_own_cause() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["Self"]["Expired"] = true.into())));
    assert_eq!(cause(&ev), Cause::NeedsLogin);
    ev.status = done(Ok(status(|v| {
        v["BackendState"] = "NeedsMachineAuth".into()
    })));
    assert_eq!(cause(&ev), Cause::NeedsApproval);
}

#[test]
fn https_off_is_certain_from_status_alone() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["CertDomains"] = serde_json::Value::Null)));
    ev.serve = Step::Running;
    ev.tls = Step::NotStarted;
    ev.backend = Step::NotStarted;
    ev.via_serve = Step::NotStarted;
    assert_eq!(certain(&ev), Some(Cause::HttpsDisabled));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.fixes[0].url.as_deref(), Some(rules::ADMIN_DNS_URL));
    assert_eq!(d.fixes[1].id, FixId::RecreateServe);
    assert!(d.fixes.iter().any(|f| f.id == FixId::SshTunnel
        && f.command.as_deref()
            == Some("ssh -N -L 18080:127.0.0.1:18080 alice@box.tail1234.ts.net")));
    assert!(d.fixes.iter().any(|f| f.id == FixId::HttpFallback));
    assert!(
        !d.fixes.iter().any(|f| f.id == FixId::Funnel),
        "Funnel needs the same certificate"
    );
}

#[test]
fn consent_url_replaces_the_admin_page() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["CertDomains"] = serde_json::json!([]))));
    let d = assemble(
        &ev,
        Some("https://login.tailscale.com/f/serve?node=n1".into()),
        "t".into(),
        0,
        true,
    );
    assert_eq!(
        d.fixes[0].url.as_deref(),
        Some("https://login.tailscale.com/f/serve?node=n1")
    );
}

#[test]
fn magicdns_off_wins_over_https_off() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["CertDomains"] = serde_json::Value::Null;
        v["CurrentTailnet"]["MagicDNSEnabled"] = false.into();
    })));
    assert_eq!(certain(&ev), Some(Cause::MagicdnsDisabled));
}

#[test]
fn serve_config_shapes() {
    let mut ev = healthy();
    for (json, want) in [
        ("{}", Cause::ServeNotConfigured),
        ("null", Cause::ServeNotConfigured),
        (
            r#"{"Services":{"svc:web":{"TCP":{"443":{"HTTPS":true}}}}}"#,
            Cause::ServeNotConfigured,
        ),
        (
            r#"{"TCP":{"2222":{"TCPForward":"127.0.0.1:22"}}}"#,
            Cause::ServeNotConfigured,
        ),
        (
            r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"oldbox.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}}}"#,
            Cause::ServeNameMismatch,
        ),
        (
            r#"{"TCP":{"80":{"HTTP":true}},"Web":{"box.tail1234.ts.net:80":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}}}"#,
            Cause::ServePlainHttp,
        ),
    ] {
        ev.serve = done(Ok(serve(json)));
        assert_eq!(cause(&ev), want, "{json}");
    }
}

#[test]
fn foreground_only_handler_and_port_mismatch_are_warnings() {
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"Foreground":{"s1":{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}}}"#,
    )));
    ev.inputs.port_flag = Some(18080);
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::Healthy);
    let c = d.check(CheckId::ServeConfig).unwrap();
    assert_eq!(c.status, CheckStatus::Warn);
    assert!(
        c.detail.contains("foreground") && c.detail.contains("3000") && c.detail.contains("18080"),
        "{}",
        c.detail
    );
    assert_eq!(
        (d.backend_port, d.backend_port_source),
        (18080, PortSource::Flag)
    );
}

#[test]
fn tls_outcomes_map_to_causes() {
    let mut ev = healthy();
    ev.via_serve = Step::NotStarted;
    for (tls, want) in [
        (
            TlsOutcome::Connect {
                tcp: TcpOutcome::Refused,
            },
            Cause::ListenerUnreachable,
        ),
        (
            TlsOutcome::Failed {
                detail: "closed".into(),
            },
            Cause::ListenerUnreachable,
        ),
        (
            TlsOutcome::Stalled { after_ms: 5000 },
            Cause::CertIssuanceFailing,
        ),
        (
            TlsOutcome::Alert {
                description: "internal_error".into(),
                ms: 9,
            },
            Cause::CertIssuanceFailing,
        ),
        (
            TlsOutcome::CertRejected {
                problem: CertProblem::Expired,
                detail: "x".into(),
                cert: Some(cert(-1)),
            },
            Cause::CertInvalid,
        ),
        (
            TlsOutcome::CertRejected {
                problem: CertProblem::WrongName,
                detail: "x".into(),
                cert: None,
            },
            Cause::CertInvalid,
        ),
        (
            TlsOutcome::Established {
                ms: 1,
                version: "TLSv1.3".into(),
                cert: cert(5),
            },
            Cause::CertExpiring,
        ),
    ] {
        ev.tls = done(tls.clone());
        assert_eq!(cause(&ev), want, "{tls:?}");
    }
}

#[test]
fn cert_pending_only_while_the_handshake_has_not_completed() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["Health"] =
            serde_json::json!(["Fetching TLS certificate via ACME for: box.tail1234.ts.net"])
    })));
    assert_eq!(cause(&ev), Cause::Healthy);
    ev.tls = done(TlsOutcome::Stalled { after_ms: 5000 });
    ev.via_serve = Step::NotStarted;
    assert_eq!(cause(&ev), Cause::CertPending);
    ev.tls = Step::Running;
    assert_eq!(certain(&ev), None);
}

#[test]
fn unrelated_health_warnings_are_evidence_not_the_cause() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["Health"] = serde_json::json!(["Tailscale failed to set the DNS configuration"])
    })));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::Healthy);
    assert_eq!(
        d.check(CheckId::HealthWarnings).unwrap().status,
        CheckStatus::Warn
    );
}

#[test]
fn backend_outcomes() {
    let mut ev = healthy();
    ev.backend = done(HttpOutcome::Connect {
        tcp: TcpOutcome::Refused,
    });
    assert_eq!(cause(&ev), Cause::BackendDown);
    ev.backend = done(HttpOutcome::NoResponse { after_ms: 5000 });
    assert_eq!(cause(&ev), Cause::BackendNotResponding);
    // A 502 through serve while this machine reaches the backend directly: serve reaches
    // another place. Never green.
    ev.backend = done(HttpOutcome::Response { status: 200, ms: 1 });
    ev.via_serve = done(HttpOutcome::Response { status: 502, ms: 1 });
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!((d.cause, d.health), (Cause::ServeProxyFailing, Health::Red));
    assert_eq!(
        d.check(CheckId::ServeProxy).unwrap().status,
        CheckStatus::Fail
    );
}

#[test]
fn backend_down_is_not_certain_while_tls_runs() {
    let mut ev = healthy();
    ev.tls = Step::Running;
    ev.via_serve = Step::NotStarted;
    ev.backend = done(HttpOutcome::Connect {
        tcp: TcpOutcome::Refused,
    });
    assert_eq!(
        certain(&ev),
        None,
        "a cert problem would outrank the backend"
    );
    ev.tls = done(TlsOutcome::Established {
        ms: 1,
        version: "TLSv1.3".into(),
        cert: cert(60),
    });
    assert_eq!(certain(&ev), Some(Cause::BackendDown));
}

#[test]
fn control_unreachable_is_yellow_after_everything_else() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["Self"]["Online"] = false.into())));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(
        (d.cause, d.health),
        (Cause::ControlUnreachable, Health::Yellow)
    );
}

#[test]
fn userspace_networking_skips_the_listener_with_a_reason() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["TUN"] = false.into())));
    ev.tls = Step::NotStarted;
    ev.via_serve = Step::NotStarted;
    let d = assemble(&ev, None, "t".into(), 0, true);
    // No handshake, no request through serve: not green (seen on the real bench, where this
    // was reported healthy).
    assert_eq!((d.cause, d.health), (Cause::NotVerified, Health::Gray));
    assert!(d.summary.contains("could not run"), "{}", d.summary);
    let c = d.check(CheckId::Listener).unwrap();
    assert_eq!(c.status, CheckStatus::Skip);
    assert!(c.detail.contains("userspace"), "{}", c.detail);
    // --connect overrides: the dial address is then known.
    ev.inputs.connect = Some("127.0.0.1:8443".into());
    assert_eq!(plan(&ev).dial, Ok("127.0.0.1:8443".into()));
}

#[test]
fn deep_cert_failure_is_the_witness_when_no_handshake_ran() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["TUN"] = false.into())));
    ev.tls = Step::NotStarted;
    ev.via_serve = Step::NotStarted;
    ev.inputs.deep = true;
    ev.cert_cmd = done(CertCommand::TimedOut { after_ms: 5000 });
    assert_eq!(cause(&ev), Cause::CertIssuanceFailing);
}

#[test]
fn ipv6_only_node_is_bracketed() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["Self"]["TailscaleIPs"] = serde_json::json!(["fd7a:115c:a1e0::1"])
    })));
    assert_eq!(plan(&ev).dial, Ok("[fd7a:115c:a1e0::1]:443".into()));
}

#[test]
fn provisional_diagnosis_shows_pending_checks() {
    let mut ev = healthy();
    ev.tls = Step::Running;
    ev.backend = Step::Running;
    ev.via_serve = Step::NotStarted;
    let d = assemble(&ev, None, "t".into(), 0, false);
    assert!(!d.complete);
    assert_eq!(
        d.check(CheckId::TlsHandshake).unwrap().status,
        CheckStatus::Pending
    );
    assert_eq!(
        d.check(CheckId::Backend).unwrap().status,
        CheckStatus::Pending
    );
}

/// Regression: with the backend answered first, the handshake's success must not end the run
/// before the request through serve has even started.
#[test]
fn healthy_waits_for_the_request_through_serve_to_start() {
    let mut ev = healthy();
    ev.via_serve = Step::NotStarted;
    assert_eq!(certain(&ev), None);
    ev.via_serve = Step::Running;
    assert_eq!(certain(&ev), None);
    ev.via_serve = done(HttpOutcome::Response { status: 200, ms: 1 });
    assert_eq!(certain(&ev), Some(Cause::Healthy));
}

#[test]
fn printed_fixes_keep_the_proxy_target_unless_a_port_was_chosen() {
    // A LAN backend over https: `--port 3000` would rewire it to http://127.0.0.1:3000.
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| v["CertDomains"] = serde_json::json!(null))));
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"https+insecure://192.168.1.5:3000"}}}}}"#,
    )));
    let commands = |ev: &Evidence| -> Vec<String> {
        assemble(ev, None, "t".into(), 0, true)
            .fixes
            .iter()
            .filter_map(|f| f.command.clone())
            .filter(|c| c.starts_with("serve-doctor fix"))
            .collect()
    };
    assert_eq!(
        commands(&ev),
        [
            "serve-doctor fix recreate",
            "serve-doctor fix http-fallback"
        ]
    );
    // The user's own --port is kept as asked.
    ev.inputs.port_flag = Some(4000);
    assert_eq!(
        commands(&ev),
        [
            "serve-doctor fix recreate --port 4000",
            "serve-doctor fix http-fallback --port 4000"
        ]
    );
}

#[test]
fn printed_commands_quote_names_and_paths_as_one_shell_word() {
    let mut ev = healthy();
    ev.tls = done(TlsOutcome::Alert {
        description: "internal_error".into(),
        ms: 3,
    });
    // A CLI somewhere a shell would split or expand.
    let hostile = "/Applications/My Tools/$(id)/tailscale";
    ev.cli = Ok(Located {
        path: hostile.into(),
        source: CliSource::Flag,
    });
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::CertIssuanceFailing);
    let cert = d
        .fixes
        .iter()
        .find(|f| f.id == FixId::RenewCert)
        .and_then(|f| f.command.clone())
        .unwrap();
    let words = shlex::split(&cert).unwrap();
    assert_eq!(words, [hostile, "cert", "box.tail1234.ts.net"], "{cert}");
}

#[test]
fn control_offline_explains_a_failing_handshake() {
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["Self"]["Online"] = false.into();
        v["Health"] =
            serde_json::json!(["Fetching TLS certificate via ACME for: box.tail1234.ts.net"]);
    })));
    ev.tls = done(TlsOutcome::Stalled { after_ms: 5000 });
    ev.via_serve = Step::NotStarted;
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!((d.cause, d.health), (Cause::CertNeedsControl, Health::Red));
    assert!(d.summary.contains("not the ACME server"), "{}", d.summary);
    // Online again: the same stall is the pending certificate it says it is fetching.
    ev.status = done(Ok(status(|v| {
        v["Health"] =
            serde_json::json!(["Fetching TLS certificate via ACME for: box.tail1234.ts.net"]);
    })));
    assert_eq!(
        assemble(&ev, None, "t".into(), 0, true).cause,
        Cause::CertPending
    );
}

#[test]
fn an_unreadable_serve_config_is_its_own_verdict_and_no_backend_is_made_up() {
    let mut ev = healthy();
    ev.serve = done(Err(CliFailure::Unparseable {
        first_bytes: "<html>".into(),
        error: "expected value".into(),
    }));
    ev.tls = Step::NotStarted;
    ev.backend = Step::NotStarted;
    ev.via_serve = Step::NotStarted;
    let p = plan(&ev);
    assert!(p.backend_target.is_none(), "{:?}", p.backend_addr);
    assert_eq!(certain(&ev), Some(Cause::ServeConfigUnreadable));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert!(d.summary.contains("<html>"), "{}", d.summary);
    assert_eq!(d.health, Health::Gray);
}

#[test]
fn a_probe_that_never_reported_back_is_an_error_and_never_green() {
    let mut ev = healthy();
    // The request through serve was started and its task died (a panic): still Running at the end.
    ev.via_serve = Step::Running;
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::NotVerified);
    let c = d.check(CheckId::ServeProxy).unwrap();
    assert_eq!(c.status, CheckStatus::Error, "{c:?}");
    assert!(d.checks.iter().all(|c| c.status != CheckStatus::Pending));
}

/// A finished healthy diagnosis, for the renderings' tests.
pub(crate) fn healthy_diagnosis() -> Diagnosis {
    assemble(&healthy(), None, "test".into(), 12, true)
}
