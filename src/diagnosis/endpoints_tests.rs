//! The endpoint list of real-world configs and each endpoint's verdict, on hand-written evidence.

use super::*;
use crate::diagnosis::tests::{cause, done, healthy, serve, status};
use crate::diagnosis::{Cause, assemble, plan};
use crate::probe::{HttpOutcome, TcpOutcome};

/// Two HTTPS ports, a mount with its own path handler, a TCP forward, Funnel on 443, an entry
/// keyed to an old name, a placeholder, a Service, and a Funnel entry with nothing behind it.
const MANY: &str = r#"{
  "TCP": {"443": {"HTTPS": true}, "8443": {"HTTPS": true}, "2222": {"TCPForward": "127.0.0.1:22"},
          "5432": {"TCPForward": "127.0.0.1:5432", "TerminateTLS": "box.tail1234.ts.net"}},
  "Web": {
    "box.tail1234.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}, "/docs/": {"Path": "/srv/docs"}}},
    "box.tail1234.ts.net:8443": {"Handlers": {"/": {"Proxy": "https+insecure://127.0.0.1:9443"}}},
    "old.tail1234.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}},
    "${TS_CERT_DOMAIN}:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}}}
  },
  "AllowFunnel": {"box.tail1234.ts.net:443": true, "box.tail1234.ts.net:10000": true},
  "Services": {"svc:db": {}}
}"#;

fn many() -> Evidence {
    let mut ev = healthy();
    ev.serve = done(Ok(serve(MANY)));
    ev
}

fn report<'a>(d: &'a crate::diagnosis::Diagnosis, url: &str) -> &'a Report {
    d.endpoints
        .iter()
        .find(|e| e.url == url)
        .unwrap_or_else(|| panic!("no {url} in {:#?}", d.endpoints))
}

#[test]
fn every_entry_of_a_real_world_config_is_listed_with_its_kind_and_host() {
    let p = plan(&many());
    let urls: Vec<(&str, Kind, bool)> = p
        .endpoints
        .iter()
        .map(|e| (e.url.as_str(), e.kind, e.primary))
        .collect();
    assert_eq!(
        urls,
        vec![
            ("https://${TS_CERT_DOMAIN}/", Kind::Web, false),
            ("https://box.tail1234.ts.net/", Kind::Web, true),
            ("https://box.tail1234.ts.net/docs/", Kind::Web, false),
            ("https://box.tail1234.ts.net:8443/", Kind::Web, false),
            ("https://old.tail1234.ts.net/", Kind::Web, false),
            ("tcp://box.tail1234.ts.net:2222", Kind::Tcp, false),
            ("tls://box.tail1234.ts.net:5432", Kind::Tcp, false),
            (
                "funnel://box.tail1234.ts.net:10000",
                Kind::FunnelEntry,
                false
            ),
            ("svc:db", Kind::Service, false),
        ]
    );
    let by = |u: &str| p.endpoints.iter().find(|e| e.url == u).unwrap();
    assert!(by("https://box.tail1234.ts.net/").public);
    assert!(!by("https://box.tail1234.ts.net:8443/").public);
    assert_eq!(
        by("https://old.tail1234.ts.net/").host,
        Host::OtherNode("old.tail1234.ts.net".into())
    );
    assert!(matches!(
        by("https://${TS_CERT_DOMAIN}/").host,
        Host::Placeholder(_)
    ));
    assert_eq!(
        by("https://box.tail1234.ts.net:8443/")
            .target
            .as_ref()
            .map(|t| t.describe()),
        Some("https+insecure://127.0.0.1:9443".into())
    );
}

#[test]
fn other_endpoints_wait_for_their_probes_and_green_needs_all_of_them() {
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true},"8443":{"HTTPS":true}},"Web":{
            "box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"},"/api/":{"Proxy":"http://127.0.0.1:3000"}}},
            "box.tail1234.ts.net:8443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18081"}}}}}"#,
    )));
    // The main handshake worked; the others have not been probed yet: not certain, not green.
    assert_eq!(crate::diagnosis::rules::decide(&ev, &plan(&ev)), None);
    let ok = || HttpOutcome::Response { status: 200, ms: 1 };
    let tls_ok = ev.tls.clone();
    let api = ev
        .endpoint_steps
        .entry("https://box.tail1234.ts.net/api/".into())
        .or_default();
    api.request = done(ok());
    api.backend = done(ok());
    let alt = ev
        .endpoint_steps
        .entry("https://box.tail1234.ts.net:8443/".into())
        .or_default();
    alt.tls = tls_ok;
    alt.backend = done(ok());
    // Its own handshake worked and its request is still to start (the engine starts it after
    // this step): not certain yet, whatever else has finished.
    assert_eq!(crate::diagnosis::rules::decide(&ev, &plan(&ev)), None);
    ev.endpoint_steps
        .get_mut("https://box.tail1234.ts.net:8443/")
        .unwrap()
        .request = done(ok());
    assert_eq!(cause(&ev), Cause::Healthy);

    // /api/ answers 502 through serve and its backend refuses: red, naming that endpoint.
    let api = ev
        .endpoint_steps
        .get_mut("https://box.tail1234.ts.net/api/")
        .unwrap();
    api.request = done(HttpOutcome::Response { status: 502, ms: 1 });
    api.backend = done(HttpOutcome::Connect {
        tcp: TcpOutcome::Refused,
    });
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::EndpointFailing);
    assert!(
        d.summary.contains("https://box.tail1234.ts.net/api/"),
        "{}",
        d.summary
    );
    assert_eq!(
        report(&d, "https://box.tail1234.ts.net/api/").status,
        CheckStatus::Fail
    );
    assert_eq!(d.fixes[0].id, crate::diagnosis::FixId::StartBackend);
    assert!(d.fixes[0].title.contains("127.0.0.1:3000"), "{:?}", d.fixes);

    // Accepted and never answered is never green either.
    let api = ev
        .endpoint_steps
        .get_mut("https://box.tail1234.ts.net/api/")
        .unwrap();
    api.request = done(HttpOutcome::NoResponse { after_ms: 5000 });
    api.backend = done(ok());
    assert_eq!(cause(&ev), Cause::EndpointFailing);
}

#[test]
fn stale_names_placeholders_and_funnel_problems_are_explained_not_probed() {
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true}},"Web":{
            "box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}},
            "old.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}}}"#,
    )));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::EndpointDegraded, "{d:#?}");
    let old = report(&d, "https://old.tail1234.ts.net/");
    assert!(old.summary.contains("not this node"), "{}", old.summary);
    assert!(old.checks.is_empty(), "not probed: {:?}", old.checks);
    assert_eq!(
        d.fixes[0].command.as_deref(),
        Some("serve-doctor fix recreate --keep-others")
    );

    // Funnel on, but the node lacks the attribute: the public URL reaches nothing.
    let mut ev = healthy();
    ev.status = done(Ok(status(|v| {
        v["Self"]["CapMap"] = serde_json::json!({"https": null});
    })));
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}},
            "AllowFunnel":{"box.tail1234.ts.net:443":true}}"#,
    )));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::EndpointDegraded);
    let main = report(&d, "https://box.tail1234.ts.net/");
    assert!(main.public && main.primary);
    assert!(
        main.summary.contains("\"funnel\" node attribute"),
        "{}",
        main.summary
    );

    // With the attribute and the port, on the version with the known outage.
    ev.status = done(Ok(status(|v| {
        v["Version"] = "1.102.1-t0abc".into();
        v["Self"]["CapMap"] = serde_json::json!({"https": null, "funnel": null,
            "https://tailscale.com/cap/funnel-ports?ports=443,8443": null});
    })));
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::EndpointDegraded);
    assert!(
        report(&d, "https://box.tail1234.ts.net/")
            .summary
            .contains("403")
    );
    ev.status = done(Ok(status(|v| {
        v["Version"] = "1.102.3".into();
        v["Self"]["CapMap"] = serde_json::json!({"https": null, "funnel": null,
            "https://tailscale.com/cap/funnel-ports?ports=443,8443": null});
    })));
    assert_eq!(cause(&ev), Cause::Healthy);
}

#[test]
fn tcp_forwards_and_services_get_the_checks_that_apply() {
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true},"2222":{"TCPForward":"22"}},
            "Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}},
            "Services":{"svc:db":{}}}"#,
    )));
    let p = plan(&ev);
    let fwd = p.endpoints.iter().find(|e| e.kind == Kind::Tcp).unwrap();
    assert_eq!(fwd.forward.as_deref(), Some("127.0.0.1:22"));
    let st = ev.endpoint_steps.entry(fwd.url.clone()).or_default();
    st.listener = done(TcpOutcome::Connected { ms: 1 });
    st.forward = done(TcpOutcome::Refused);
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::EndpointFailing);
    let r = report(&d, "tcp://box.tail1234.ts.net:2222");
    assert!(r.summary.contains("127.0.0.1:22 refused"), "{}", r.summary);
    assert_eq!(report(&d, "svc:db").status, CheckStatus::Skip);

    let st = ev.endpoint_steps.get_mut(&fwd.url).unwrap();
    st.forward = done(TcpOutcome::Connected { ms: 1 });
    assert_eq!(cause(&ev), Cause::Healthy);
}

#[test]
fn an_errored_probe_is_never_a_pass() {
    let mut ev = healthy();
    ev.serve = done(Ok(serve(
        r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{
            "/":{"Proxy":"http://127.0.0.1:18080"},"/x/":{"Text":"hi"}}}}}"#,
    )));
    let st = ev
        .endpoint_steps
        .entry("https://box.tail1234.ts.net/x/".into())
        .or_default();
    st.request = done(HttpOutcome::Failed {
        detail: "not HTTP".into(),
    });
    let d = assemble(&ev, None, "t".into(), 0, true);
    assert_eq!(d.cause, Cause::NotVerified);
    assert_eq!(
        report(&d, "https://box.tail1234.ts.net/x/").status,
        CheckStatus::Error
    );
}
