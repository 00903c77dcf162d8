//! The rules of a diagnosis from another device, on hand-written evidence: each cause from the
//! evidence that names it, precedence where two could apply, and the targets that parse.

use std::net::{IpAddr, SocketAddr};

use super::model::{Cause, CheckId, CheckStatus, FixId, Health};
use super::remote::{Evidence, cause, parse_target};
use super::remote_advice::assemble;
use super::tests::{cert, done, now};
use crate::probe::{CertProblem, DnsOutcome, HttpOutcome, TcpOutcome, TlsOutcome};
use crate::tailscale::{CliFailure, Status};

/// This node (phone) and its netmap: `server` online, `laptop` offline.
const PHONE: &str = r#"{"Version":"1.102.3","BackendState":"Running",
  "Self":{"DNSName":"phone.tail1.ts.net.","TailscaleIPs":["100.64.0.2"],"Online":true},
  "CurrentTailnet":{"Name":"me@example.com","MagicDNSSuffix":"tail1.ts.net","MagicDNSEnabled":true},
  "Peer":{"nodekey:a":{"DNSName":"server.tail1.ts.net.","TailscaleIPs":["100.64.0.1","fd7a:115c:a1e0::1"],"Online":true},
          "nodekey:b":{"DNSName":"laptop.tail1.ts.net.","TailscaleIPs":["100.64.0.3"],"Online":false}}}"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn resolved(ips: &[&str]) -> DnsOutcome {
    DnsOutcome::Resolved {
        ips: ips.iter().map(|s| ip(s)).collect(),
    }
}

fn magicdns() -> SocketAddr {
    "100.100.100.100:53".parse().unwrap()
}

/// Everything fine for `url`, seen from phone without a proxy.
fn healthy(url: &str) -> Evidence {
    let mut ev = Evidence::new(now(), url, None, magicdns());
    ev.status = done(Ok(Status::from_json(PHONE.as_bytes()).unwrap()));
    ev.magicdns = done(resolved(&["100.64.0.1"]));
    ev.system = done(resolved(&["100.64.0.1"]));
    ev.tls = done(TlsOutcome::Established {
        ms: 20,
        version: "TLSv1.3".into(),
        cert: cert(80),
    });
    ev.request = done(HttpOutcome::Response { status: 200, ms: 5 });
    ev
}

fn with_tls(tls: TlsOutcome) -> Evidence {
    let mut ev = healthy("https://server.tail1.ts.net/");
    ev.tls = done(tls);
    ev.request = super::evidence::Step::NotStarted;
    ev
}

#[test]
fn targets_parse_from_urls_and_names() {
    let t = parse_target("https://Server.tail1.ts.net./app?x=1#frag").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.path.as_str()),
        ("server.tail1.ts.net", 443, "/app?x=1")
    );
    let t = parse_target("server:8443").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.is_bare()),
        ("server", 8443, true)
    );
    let t = parse_target("https://[fd7a:115c:a1e0::1]:443/").unwrap();
    assert!(t.is_ip());
    for bad in [
        "http://server/",
        "https://u@server/",
        "https://server:0/",
        "https://se rver/",
        "",
        "https://[::1/",
    ] {
        assert!(parse_target(bad).is_err(), "{bad}");
    }
}

#[test]
fn healthy_names_the_browser_side_caches_and_the_full_name() {
    let d = assemble(
        &healthy("https://server.tail1.ts.net/"),
        "localapi".into(),
        9,
    );
    assert_eq!(d.cause, Cause::Healthy);
    assert_eq!(d.health, Health::Green);
    assert_eq!(d.fixes[0].id, FixId::ClearBrowserCache);
    assert!(d.fixes[0].title.contains("HSTS"), "{:?}", d.fixes);
    assert!(d.summary.contains("browser"), "{}", d.summary);
    assert_eq!(d.url.as_deref(), Some("https://server.tail1.ts.net/"));
    assert_eq!(d.route, "localapi, from phone.tail1.ts.net");
    assert!(
        d.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{:?}",
        d.checks
    );
    // A bare name is dialed with the node's own name as SNI, and the summary says to use it.
    let ev = healthy("server");
    assert_eq!(ev.server_name().as_deref(), Some("server.tail1.ts.net"));
    assert_eq!(ev.lookup_name().as_deref(), Some("server.tail1.ts.net"));
    assert_eq!(ev.dial().as_deref(), Some("100.64.0.1:443"));
    let d = assemble(&ev, "cli".into(), 1);
    assert_eq!(d.cause, Cause::Healthy);
    assert!(
        d.summary.contains("https://server.tail1.ts.net/"),
        "{}",
        d.summary
    );
}

#[test]
fn the_handshake_tells_no_certificate_from_a_stuck_issuance() {
    let alert = with_tls(TlsOutcome::Alert {
        description: "internal_error".into(),
        ms: 12,
    });
    let d = assemble(&alert, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerNoCert);
    assert!(
        d.summary.contains("can get no certificate"),
        "{}",
        d.summary
    );
    assert_eq!(d.fixes[0].id, FixId::OpenAdminDns);
    assert_eq!(d.fixes[1].id, FixId::DiagnoseThere);
    let stall = with_tls(TlsOutcome::Stalled { after_ms: 5000 });
    let d = assemble(&stall, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerCertStuck);
    assert!(
        d.summary.contains("stuck on the serving node"),
        "{}",
        d.summary
    );
    let tls = d.check(CheckId::TlsHandshake).unwrap();
    assert_eq!(tls.status, CheckStatus::Fail);
    assert!(tls.detail.contains("stalled"), "{}", tls.detail);
    assert_eq!(
        d.check(CheckId::ServeProxy).unwrap().status,
        CheckStatus::Skip
    );
}

#[test]
fn certificates_for_another_name_and_other_handshake_failures() {
    let wrong = with_tls(TlsOutcome::CertRejected {
        problem: CertProblem::WrongName,
        detail: "not valid for server.tail1.ts.net".into(),
        cert: Some(cert(80)),
    });
    let d = assemble(&wrong, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerCertInvalid);
    assert!(d.summary.contains("box.tail1234.ts.net"), "{}", d.summary);
    let other = with_tls(TlsOutcome::Alert {
        description: "handshake_failure".into(),
        ms: 1,
    });
    assert_eq!(cause(&other), Cause::PeerServeFailing);
    let not_tls = with_tls(TlsOutcome::Failed {
        detail: "closed".into(),
    });
    assert_eq!(cause(&not_tls), Cause::PeerServeFailing);
}

#[test]
fn what_serve_answers_names_its_backend_or_itself() {
    let mut ev = healthy("https://server.tail1.ts.net/");
    ev.request = done(HttpOutcome::Response { status: 502, ms: 3 });
    let d = assemble(&ev, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerBackendDown);
    assert!(
        d.fixes
            .iter()
            .any(|f| f.id == FixId::StartBackend && f.title.starts_with("On server.tail1.ts.net"))
    );
    ev.request = done(HttpOutcome::Response { status: 503, ms: 3 });
    assert_eq!(cause(&ev), Cause::PeerServeFailing);
    ev.request = done(HttpOutcome::NoResponse { after_ms: 5000 });
    assert_eq!(cause(&ev), Cause::PeerServeFailing);
    ev.request = done(HttpOutcome::Response { status: 404, ms: 3 });
    assert_eq!(cause(&ev), Cause::Healthy);
}

#[test]
fn unreachable_refused_and_offline_peers() {
    let timeout = with_tls(TlsOutcome::Connect {
        tcp: TcpOutcome::TimedOut { after_ms: 5000 },
    });
    let d = assemble(&timeout, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerUnreachable);
    assert!(d.summary.contains("cannot be reached"), "{}", d.summary);
    let refused = with_tls(TlsOutcome::Connect {
        tcp: TcpOutcome::Refused,
    });
    let d = assemble(&refused, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerUnreachable);
    assert!(d.summary.contains("refuses"), "{}", d.summary);
    // Offline in the netmap: said without a dial (the engine does not start one).
    let mut ev = healthy("https://laptop.tail1.ts.net/");
    ev.magicdns = done(resolved(&["100.64.0.3"]));
    ev.system = done(resolved(&["100.64.0.3"]));
    assert!(!ev.dialable());
    ev.tls = super::evidence::Step::NotStarted;
    ev.request = super::evidence::Step::NotStarted;
    let d = assemble(&ev, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerOffline);
    assert_eq!(
        d.check(CheckId::Listener).unwrap().detail,
        "the node is offline"
    );
}

#[test]
fn a_name_not_in_the_netmap_is_not_a_node_of_this_tailnet() {
    let mut ev = healthy("https://nas.tail1.ts.net/");
    ev.magicdns = done(DnsOutcome::NotFound {
        detail: "NXDOMAIN".into(),
    });
    ev.system = done(DnsOutcome::NotFound {
        detail: "no".into(),
    });
    ev.tls = super::evidence::Step::NotStarted;
    ev.request = super::evidence::Step::NotStarted;
    let d = assemble(&ev, "x".into(), 0);
    assert_eq!(d.cause, Cause::PeerNotFound);
    assert!(
        d.summary.contains("not visible to this node by ACLs"),
        "{}",
        d.summary
    );
    // A name only a resolver maps to a node's address is that node.
    let mut ev = healthy("https://web.example.com/");
    ev.system = done(resolved(&["100.64.0.1"]));
    assert_eq!(ev.peer().map(|p| p.name()), Some("server.tail1.ts.net"));
    assert_eq!(ev.server_name().as_deref(), Some("web.example.com"));
}

#[test]
fn dns_on_this_device_is_judged_against_magicdns_and_the_netmap() {
    // MagicDNS knows it, the system resolver does not: this device does not use MagicDNS.
    let mut ev = healthy("https://server.tail1.ts.net/");
    ev.system = done(DnsOutcome::NotFound {
        detail: "Name or service not known".into(),
    });
    let d = assemble(&ev, "x".into(), 0);
    assert_eq!(d.cause, Cause::DeviceDns);
    assert!(d.summary.contains("does not use MagicDNS"), "{}", d.summary);
    assert_eq!(
        d.check(CheckId::SystemDns).unwrap().status,
        CheckStatus::Fail
    );
    assert_eq!(
        d.check(CheckId::TlsHandshake).unwrap().status,
        CheckStatus::Pass
    );
    // The system resolver gives another address: an override.
    ev.system = done(resolved(&["203.0.113.7"]));
    let d = assemble(&ev, "x".into(), 0);
    assert_eq!(d.cause, Cause::DeviceDns);
    assert!(d.summary.contains("203.0.113.7"), "{}", d.summary);
    // Neither resolves: the name does not resolve here.
    ev.system = done(DnsOutcome::NotFound {
        detail: "no".into(),
    });
    ev.magicdns = done(DnsOutcome::NoAnswer {
        reason: "timeout".into(),
    });
    assert_eq!(cause(&ev), Cause::NameUnresolved);
    // It precedes what the serving node says: a browser here would not get that far.
    ev.tls = done(TlsOutcome::Stalled { after_ms: 3000 });
    assert_eq!(cause(&ev), Cause::NameUnresolved);
    // Through --socks5 the proxy resolves: the system resolver is shown, not judged.
    ev.socks5 = Some("127.0.0.1:1055".into());
    assert_eq!(cause(&ev), Cause::PeerCertStuck);
    let d = assemble(&ev, "x".into(), 0);
    let line = d.check(CheckId::SystemDns).unwrap();
    assert_eq!(line.status, CheckStatus::Warn);
    assert!(line.detail.contains("SOCKS5 proxy"), "{}", line.detail);
}

#[test]
fn this_devices_own_tailscale_comes_first() {
    let mut ev = healthy("https://server.tail1.ts.net/");
    ev.status = done(Err(CliFailure::DaemonUnreachable {
        message: "failed to connect".into(),
    }));
    assert_eq!(cause(&ev), Cause::DaemonUnreachable);
    let mut st = Status::from_json(PHONE.as_bytes()).unwrap();
    st.backend_state = crate::tailscale::BackendState::Stopped;
    ev.status = done(Ok(st));
    let d = assemble(&ev, "x".into(), 0);
    assert_eq!(d.cause, Cause::Stopped);
    assert_eq!(d.check(CheckId::Peer).unwrap().status, CheckStatus::Skip);
    let mut ev = Evidence::new(now(), "https://server/", None, magicdns());
    ev.no_tailscale = true;
    assert_eq!(cause(&ev), Cause::TailscaleNotFound);
    let bad = Evidence::new(now(), "ftp://server/", None, magicdns());
    let d = assemble(&bad, "none".into(), 0);
    assert_eq!(d.cause, Cause::NameUnresolved);
    assert!(d.summary.contains("only https://"), "{}", d.summary);
}

#[test]
fn nothing_finished_is_never_green() {
    let mut ev = healthy("https://server.tail1.ts.net/");
    ev.tls = super::evidence::Step::NotStarted;
    ev.request = super::evidence::Step::NotStarted;
    assert_eq!(cause(&ev), Cause::NotVerified);
}
