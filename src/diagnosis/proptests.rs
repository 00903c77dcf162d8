//! Property tests over the rules: any combination of step outcomes, each step in any state
//! (done, still running, never started, cancelled), for the main chain and every other endpoint
//! of the serve config, assembled as a final report. Never a panic, never a `Pending` check, and
//! green only on evidence: for every endpoint of this node a completed handshake and an answer
//! through serve below 500.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use super::*;
use crate::probe::{CertInfo, CertProblem, HttpOutcome, TcpOutcome, TlsOutcome};
use crate::tailscale::{CertCommand, CliFailure, CliSource, Located, NotFound, ServeConfig};

const NAME: &str = "box.tail1234.ts.net";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

/// A step of `T` in any of its states.
fn step<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Step<T>> {
    prop_oneof![
        1 => Just(Step::NotStarted),
        1 => Just(Step::Running),
        1 => Just(Step::Cancelled),
        5 => (value, 0u64..10_000).prop_map(|(value, ms)| Step::Done { value, ms }),
    ]
    .boxed()
}

fn failure() -> impl Strategy<Value = CliFailure> {
    let msg = select(vec!["", "boom", "failed to connect to local tailscaled"]);
    prop_oneof![
        msg.clone()
            .prop_map(|m| CliFailure::DaemonUnreachable { message: m.into() }),
        msg.clone()
            .prop_map(|m| CliFailure::GuiUnavailable { message: m.into() }),
        msg.clone().prop_map(|m| CliFailure::Unparseable {
            first_bytes: m.into(),
            error: "e".into()
        }),
        (proptest::option::of(-1i32..3), msg.clone()).prop_map(|(code, m)| CliFailure::Failed {
            code,
            message: m.into()
        }),
        (0u64..60_000).prop_map(|after_ms| CliFailure::TimedOut { after_ms }),
        msg.prop_map(|m| CliFailure::Spawn { message: m.into() }),
    ]
}

/// A status with a random state, name, certificate domains, TUN, control link and caps.
fn status() -> impl Strategy<Value = crate::tailscale::Status> {
    (
        select(vec![
            "Running",
            "Stopped",
            "Starting",
            "NeedsLogin",
            "NeedsMachineAuth",
            "NoState",
            "InUseOtherUser",
            "Bogus",
        ]),
        select(vec![
            format!("{NAME}."),
            String::new(),
            "old.tail1234.ts.net.".into(),
        ]),
        subsequence(vec![NAME, "old.tail1234.ts.net"], 0..=2),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        subsequence(vec!["https", "funnel"], 0..=2),
        subsequence(
            vec![
                "Fetching TLS certificate via ACME for: box.tail1234.ts.net",
                "failed to connect to local tailscaled",
                "some other warning",
            ],
            0..=3,
        ),
        subsequence(vec!["100.101.102.103", "fd7a:115c:a1e0::1"], 0..=2),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(state, dns, certs, tun, online, magic, caps, health, ips, expired)| {
                let caps: serde_json::Map<_, _> = caps
                    .into_iter()
                    .map(|c| (c.to_string(), serde_json::Value::Null))
                    .collect();
                let v = serde_json::json!({
                    "Version": "1.96.4", "TUN": tun, "BackendState": state, "TailscaleIPs": ips,
                    "Self": {"DNSName": dns, "TailscaleIPs": ips, "Online": online,
                             "CapMap": caps, "Expired": expired},
                    "Health": health,
                    "CurrentTailnet": {"Name": "t", "MagicDNSSuffix": "tail1234.ts.net",
                                       "MagicDNSEnabled": magic},
                    "CertDomains": certs,
                });
                crate::tailscale::Status::from_json(v.to_string().as_bytes())
                    .expect("generated status parses")
            },
        )
}

/// Several endpoints of this node: mounts, another HTTPS port, a TLS-terminated and a plain
/// forward. `extra` is spliced into `Web` and the top level (another node's entry, Funnel).
fn multi_config(extra_web: &str, extra: &str) -> String {
    format!(
        r#"{{"TCP":{{"443":{{"HTTPS":true}},"8443":{{"HTTPS":true}},"5432":{{"TCPForward":"127.0.0.1:5432"}},
                "6443":{{"TCPForward":"127.0.0.1:6000","TerminateTLS":"{NAME}"}}}},
               "Web":{{"{NAME}:443":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:3000"}},"/api/":{{"Proxy":"http://127.0.0.1:4000"}},
                                                   "/t":{{"Text":"hi"}}}}}},
                       {extra_web}
                       "{NAME}:8443":{{"Handlers":{{"/":{{"Proxy":"https+insecure://127.0.0.1:9443"}}}}}}}}
               {extra}}}"#
    )
}

/// A status with everything in order.
fn healthy_status() -> crate::tailscale::Status {
    let json = format!(
        r#"{{"BackendState":"Running","TUN":true,"TailscaleIPs":["100.101.102.103"],
            "Self":{{"DNSName":"{NAME}.","Online":true}},"CertDomains":["{NAME}"]}}"#
    );
    crate::tailscale::Status::from_json(json.as_bytes()).expect("status parses")
}

fn established() -> TlsOutcome {
    TlsOutcome::Established {
        ms: 3,
        version: "TLSv1.3".into(),
        cert: CertInfo {
            subject: format!("CN={NAME}"),
            issuer: "CN=E6".into(),
            dns_names: vec![NAME.into()],
            not_before: now() - TimeDelta::days(1),
            not_after: now() + TimeDelta::days(60),
        },
    }
}

fn ok<T>(value: T) -> Step<T> {
    Step::Done { value, ms: 1 }
}

/// A small set of serve configs: none, the usual one, other ports, names, schemes and handlers.
fn serve() -> impl Strategy<Value = ServeConfig> {
    let web = |host: &str, port: u16, h: &str| {
        format!(
            r#"{{"TCP":{{"{port}":{{"HTTPS":true}}}},"Web":{{"{host}:{port}":{{"Handlers":{{"/":{h}}}}}}}}}"#
        )
    };
    let proxy = |t: &str| format!(r#"{{"Proxy":"{t}"}}"#);
    select(vec![
        "".to_string(),
        "{}".into(),
        "null".into(),
        web(NAME, 443, &proxy("http://127.0.0.1:18080")),
        web(NAME, 8443, &proxy("http://127.0.0.1:3000")),
        web(NAME, 443, &proxy("https+insecure://127.0.0.1:8443")),
        web(NAME, 443, &proxy("https://localhost:8443")),
        web(NAME, 443, &proxy("unix:/run/app.sock")),
        web(NAME, 443, &proxy("http://192.168.1.20:80")),
        web(NAME, 443, r#"{"Text":"failed to connect to local tailscaled"}"#),
        web(NAME, 443, r#"{"Path":"/srv/www"}"#),
        web("old.tail1234.ts.net", 443, &proxy("http://127.0.0.1:18080")),
        format!(r#"{{"TCP":{{"80":{{"HTTP":true}}}},"Web":{{"{NAME}:80":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:3000"}}}}}}}}}}"#),
        r#"{"TCP":{"22":{"TCPForward":"127.0.0.1:22"}}}"#.into(),
        multi_config("", ""),
        multi_config(
            r#""old.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}},"#,
            &format!(r#","AllowFunnel":{{"{NAME}:8443":true}}"#),
        ),
        r#"{"Services":{"svc:web":{"TCP":{"443":{"HTTPS":true}}}}}"#.into(),
        format!(
            r#"{{"TCP":{{"443":{{"HTTPS":true}}}},"Web":{{"{NAME}:443":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:3000"}}}}}}}},"AllowFunnel":{{"{NAME}:443":true}}}}"#
        ),
    ])
    .prop_map(|json| ServeConfig::from_json(json.as_bytes()).expect("generated config parses"))
}

fn cert() -> impl Strategy<Value = CertInfo> {
    (
        -30i64..120,
        subsequence(vec![NAME, "old.tail1234.ts.net"], 0..=2),
    )
        .prop_map(|(days_left, names)| CertInfo {
            subject: format!("CN={NAME}"),
            issuer: "CN=E6, O=Let's Encrypt".into(),
            dns_names: names.into_iter().map(String::from).collect(),
            not_before: now() - TimeDelta::days(30),
            not_after: now() + TimeDelta::days(days_left),
        })
}

fn tcp() -> impl Strategy<Value = TcpOutcome> {
    prop_oneof![
        (0u64..100).prop_map(|ms| TcpOutcome::Connected { ms }),
        Just(TcpOutcome::Refused),
        Just(TcpOutcome::Unreachable {
            reason: "no route".into()
        }),
        (0u64..10_000).prop_map(|after_ms| TcpOutcome::TimedOut { after_ms }),
    ]
}

fn tls() -> impl Strategy<Value = TlsOutcome> {
    let problem = select(vec![
        CertProblem::Expired,
        CertProblem::NotYetValid,
        CertProblem::WrongName,
        CertProblem::UnknownIssuer,
        CertProblem::Revoked,
        CertProblem::Other,
    ]);
    prop_oneof![
        3 => (0u64..100, cert()).prop_map(|(ms, cert)| TlsOutcome::Established {
            ms,
            version: "TLSv1.3".into(),
            cert
        }),
        1 => tcp().prop_map(|tcp| TlsOutcome::Connect { tcp }),
        1 => (0u64..60_000).prop_map(|after_ms| TlsOutcome::Stalled { after_ms }),
        1 => select(vec!["internal_error", "handshake_failure", "unrecognized_name"])
            .prop_map(|d| TlsOutcome::Alert { description: d.into(), ms: 3 }),
        1 => (problem, proptest::option::of(cert())).prop_map(|(problem, cert)| {
            TlsOutcome::CertRejected { problem, detail: "x".into(), cert }
        }),
        1 => Just(TlsOutcome::Failed { detail: "eof".into() }),
    ]
}

fn http() -> impl Strategy<Value = HttpOutcome> {
    prop_oneof![
        3 => (
            prop_oneof![select(vec![200u16, 204, 301, 401, 404, 500, 502, 503, 504]), any::<u16>()],
            0u64..100
        )
            .prop_map(|(status, ms)| HttpOutcome::Response { status, ms }),
        1 => tcp().prop_map(|tcp| HttpOutcome::Connect { tcp }),
        1 => (0u64..10_000).prop_map(|after_ms| HttpOutcome::NoResponse { after_ms }),
        1 => Just(HttpOutcome::CertRejected { problem: CertProblem::UnknownIssuer, detail: "x".into() }),
        1 => Just(HttpOutcome::Failed { detail: "not HTTP".into() }),
    ]
}

/// The probes of one endpoint other than the primary.
fn endpoint_steps() -> impl Strategy<Value = endpoints::Steps> {
    (
        step(tcp()),
        step(tls()),
        step(http()),
        step(http()),
        step(tcp()),
    )
        .prop_map(
            |(listener, tls, request, backend, forward)| endpoints::Steps {
                listener,
                tls,
                request,
                backend,
                forward,
            },
        )
}

fn cert_cmd() -> impl Strategy<Value = CertCommand> {
    prop_oneof![
        Just(CertCommand::Succeeded {
            message: "ok".into(),
            ms: 1
        }),
        Just(CertCommand::Failed {
            message: "429 rateLimited".into(),
            ms: 1
        }),
        (0u64..60_000).prop_map(|after_ms| CertCommand::TimedOut { after_ms }),
    ]
}

prop_compose! {
    /// Random evidence and the probes to give the endpoints other than the primary.
    fn evidence_parts()(
        platform in select(vec![Platform::Linux, Platform::MacOs, Platform::Other]),
        found in any::<bool>(),
        api in any::<bool>(),
        connect in proptest::option::of(Just("127.0.0.1:8443".to_string())),
        port_flag in proptest::option::of(1u16..),
        config_port in proptest::option::of(1u16..),
        deep in any::<bool>(),
        status in step(prop_oneof![4 => status().prop_map(Ok), 1 => failure().prop_map(Err)]),
        serve in step(prop_oneof![4 => serve().prop_map(Ok), 1 => failure().prop_map(Err)]),
        tls in step(tls()),
        backend in step(http()),
        via_serve in step(http()),
        cert_cmd in step(cert_cmd()),
        others in proptest::collection::vec(endpoint_steps(), 8),
    ) -> (Evidence, Vec<endpoints::Steps>) {
        let cli = if found {
            Ok(Located { path: "/usr/bin/tailscale".into(), source: CliSource::Path })
        } else {
            Err(NotFound { searched: vec![], forced: None })
        };
        let inputs = Inputs {
            port_flag,
            config_port,
            connect,
            deep,
            default_user: "alice".into(),
            ..Inputs::default()
        };
        let mut ev = Evidence::new(now(), platform, inputs, cli);
        ev.api = api.then(|| "/run/tailscale/tailscaled.sock".into());
        ev.status = status;
        ev.serve = serve;
        ev.tls = tls;
        ev.backend = backend;
        ev.via_serve = via_serve;
        ev.cert_cmd = cert_cmd;
        (ev, others)
    }
}

/// Every endpoint but the primary gets probes of its own.
fn with_endpoints(mut ev: Evidence, others: Vec<endpoints::Steps>) -> Evidence {
    let p = plan(&ev);
    for (ep, steps) in p.endpoints.iter().filter(|e| !e.primary).zip(others) {
        ev.endpoint_steps.insert(ep.url.clone(), steps);
    }
    ev
}

/// Anything at all: most of it is far from green.
fn evidence() -> impl Strategy<Value = Evidence> {
    evidence_parts().prop_map(|(ev, others)| with_endpoints(ev, others))
}

/// Probes that all worked, for most endpoints; random ones for the rest.
fn mostly_working() -> impl Strategy<Value = Vec<endpoints::Steps>> {
    let working = endpoints::Steps {
        listener: ok(TcpOutcome::Connected { ms: 1 }),
        tls: ok(established()),
        request: ok(HttpOutcome::Response { status: 200, ms: 1 }),
        backend: ok(HttpOutcome::Response { status: 200, ms: 1 }),
        forward: ok(TcpOutcome::Connected { ms: 1 }),
    };
    proptest::collection::vec(prop_oneof![6 => Just(working), 1 => endpoint_steps()], 8)
}

/// The main chain healthy over a config of many endpoints, most of them working: where a rule
/// that forgets an endpoint would say green.
fn main_chain_healthy() -> impl Strategy<Value = Evidence> {
    (evidence_parts(), mostly_working()).prop_map(|((mut ev, _), others)| {
        ev.inputs.connect = None;
        make_healthy(&mut ev, &multi_config("", ""));
        with_endpoints(ev, others)
    })
}

/// The main chain of `ev` healthy (CLI found, status, handshake, backend and request through
/// serve), with `serve` as the serve config.
fn make_healthy(ev: &mut Evidence, serve: &str) {
    ev.cli = Ok(Located {
        path: "/usr/bin/tailscale".into(),
        source: CliSource::Path,
    });
    ev.status = ok(Ok(healthy_status()));
    let cfg = ServeConfig::from_json(serve.as_bytes());
    ev.serve = ok(Ok(cfg.expect("serve config parses")));
    ev.tls = ok(established());
    ev.backend = ok(HttpOutcome::Response { status: 200, ms: 1 });
    ev.via_serve = ok(HttpOutcome::Response { status: 200, ms: 2 });
}

proptest! {
    #![proptest_config(crate::tailscale::proptests::config())]

    #[test]
    fn a_final_report_is_green_only_on_evidence_and_never_pending(
        ev in prop_oneof![evidence(), main_chain_healthy()]
    ) {
        // Provisional reports must not panic either.
        let _ = assemble(&ev, None, "t".into(), 0, false);
        let d = assemble(&ev, None, "t".into(), 0, true);
        if d.health == Health::Green {
            prop_assert!(
                matches!(ev.tls, Step::Done { value: TlsOutcome::Established { .. }, .. }),
                "green without a handshake: {:?}", ev.tls
            );
            prop_assert!(
                matches!(ev.via_serve, Step::Done { value: HttpOutcome::Response { status, .. }, .. } if status < 500),
                "green without an answer through serve: {:?}", ev.via_serve
            );
        }
        for c in &d.checks {
            prop_assert_ne!(c.status, CheckStatus::Pending, "{:?} pending in a final report", c.id);
        }
        for r in &d.endpoints {
            prop_assert_ne!(r.status, CheckStatus::Pending, "{} pending in a final report", r.url);
            for l in &r.checks {
                prop_assert_ne!(l.status, CheckStatus::Pending, "{} {} pending", r.url, l.name);
            }
        }
        // Green: every endpoint of this node was proven the same way.
        if d.health == Health::Green {
            let p = plan(&ev);
            let none = endpoints::Steps::default();
            for ep in p.endpoints.iter().filter(|e| e.ours()) {
                let own = ev.endpoint_steps.get(&ep.url).unwrap_or(&none);
                let s = endpoints::steps(&ev, &p, ep, own);
                if ep.tls {
                    prop_assert!(
                        matches!(s.tls, Step::Done { value: TlsOutcome::Established { .. }, .. }),
                        "green without a handshake on {}: {:?}", ep.url, s.tls
                    );
                }
                if ep.kind == endpoints::Kind::Web {
                    prop_assert!(
                        matches!(s.request, Step::Done { value: HttpOutcome::Response { status, .. }, .. } if *status < 500),
                        "green without an answer through serve on {}: {:?}", ep.url, s.request
                    );
                }
            }
        }
    }
}

/// Evidence where nothing ran, except the steps `f` sets.
fn bare(f: impl FnOnce(&mut Evidence)) -> Evidence {
    let mut ev = Evidence::new(
        now(),
        Platform::Linux,
        Inputs::default(),
        Err(NotFound {
            searched: vec![],
            forced: None,
        }),
    );
    f(&mut ev);
    ev
}

/// Shrunk by the property: a probe that never came back (`tailscale cert` here) left its check
/// "pending" in the final report.
#[test]
fn a_step_still_running_in_a_final_report_is_an_error_not_pending() {
    let ev = bare(|ev| ev.cert_cmd = Step::Running);
    let d = assemble(&ev, None, "t".into(), 0, true);
    let c = d.checks.iter().find(|c| c.id == CheckId::CertCommand);
    let c = c.expect("a cert_command check");
    assert_eq!(c.status, CheckStatus::Error, "{c:?}");
    assert!(c.detail.starts_with("did not finish"), "{}", c.detail);
    // A provisional report still says it is under way.
    let d = assemble(&ev, None, "t".into(), 0, false);
    let c = d.checks.iter().find(|c| c.id == CheckId::CertCommand);
    assert_eq!(c.map(|c| c.status), Some(CheckStatus::Pending));
}

/// Shrunk by the property: over the LocalAPI, with the handshake still out when the run ended,
/// every cause was "not known" and the fallback said healthy.
#[test]
fn a_handshake_that_never_finished_is_not_verified_not_green() {
    let ev = bare(|ev| {
        ev.api = Some("/run/tailscale/tailscaled.sock".into());
        ev.tls = Step::Running;
    });
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!((d.cause, d.health), (Cause::NotVerified, Health::Gray));
}

/// The same for the request through serve on an otherwise healthy node: its probe panicked,
/// the step stayed running, and the report was green without an answer from serve.
#[test]
fn a_request_through_serve_that_never_finished_is_not_green() {
    let serve = format!(
        r#"{{"TCP":{{"443":{{"HTTPS":true}}}},"Web":{{"{NAME}:443":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:18080"}}}}}}}}}}"#
    );
    let ev = bare(|ev| {
        make_healthy(ev, &serve);
        ev.via_serve = Step::Running;
    });
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!((d.cause, d.health), (Cause::NotVerified, Health::Gray));
    let via = d.checks.iter().find(|c| c.id == CheckId::ServeProxy);
    assert_eq!(via.map(|c| c.status), Some(CheckStatus::Error));
    // Once serve answers, it is healthy: the rule only refuses green without the answer.
    let mut ev = ev;
    ev.via_serve = Step::Done {
        value: HttpOutcome::Response { status: 200, ms: 2 },
        ms: 2,
    };
    assert_eq!(
        assemble(&ev, None, "t".into(), 0, true).health,
        Health::Green
    );
}

/// Shrunk by the property over every endpoint: another HTTPS port whose request answered but
/// whose own handshake never completed (cancelled) was "works", and the report green.
#[test]
fn an_endpoint_is_not_green_without_its_own_handshake() {
    let serve = format!(
        r#"{{"TCP":{{"443":{{"HTTPS":true}},"8443":{{"HTTPS":true}}}},
            "Web":{{"{NAME}:443":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:3000"}}}}}},
                   "{NAME}:8443":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:4000"}}}}}}}}}}"#
    );
    let mut ev = bare(|ev| make_healthy(ev, &serve));
    let other = format!("https://{NAME}:8443/");
    let mut steps = endpoints::Steps {
        tls: Step::Cancelled,
        request: ok(HttpOutcome::Response { status: 200, ms: 1 }),
        backend: ok(HttpOutcome::Response { status: 200, ms: 1 }),
        ..endpoints::Steps::default()
    };
    ev.endpoint_steps.insert(other.clone(), steps.clone());
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_ne!(d.health, Health::Green, "{:?}", d.cause);
    let r = d.endpoints.iter().find(|r| r.url == other);
    assert_ne!(r.map(|r| r.status), Some(CheckStatus::Pass));
    // With the handshake seen, it works and the report is green.
    steps.tls = ok(established());
    ev.endpoint_steps.insert(other, steps);
    assert_eq!(
        assemble(&ev, None, "t".into(), 0, true).health,
        Health::Green
    );
}

proptest! {
    #![proptest_config(crate::tailscale::proptests::config())]

    /// Whatever parses as a serve config is read by the rules without a panic: the main
    /// endpoint's finding and every endpoint of the list, for any node name in it.
    #[test]
    fn any_serve_config_is_read_without_a_panic(
        path in proptest::sample::select(vec![
            &["TCP"][..], &["TCP", "443"], &["Web"], &["Web", "box.ts.net:443"],
            &["Web", "box.ts.net:443", "Handlers"], &["AllowFunnel"], &["Services"], &["Foreground"],
        ]),
        v in crate::tailscale::proptests::json(),
    ) {
        let text = crate::tailscale::proptests::with_field(path, v).to_string();
        if let Ok(c) = crate::tailscale::ServeConfig::from_json(text.as_bytes()) {
            for m in c.mounts() {
                let _ = crate::diagnosis::analyze_serve(&c, &m.host);
                let _ = crate::diagnosis::entries::list(&c, &m.host, Some((&m.host, m.port, &m.path)));
            }
            let _ = crate::diagnosis::entries::list(&c, "box.ts.net", None);
        }
    }
}
