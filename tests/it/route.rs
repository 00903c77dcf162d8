//! Which route a diagnosis takes to tailscaled, and that every report names it: the LocalAPI
//! (`--socket`, against the fake daemon), the CLI (`--tailscale`), and the CLI found on `PATH`
//! when no daemon socket answers.

use serde_json::json;

use crate::support::fake::{Scenario, check, diagnose_json, fixture, serve_doctor};
use crate::support::localapi::FakeDaemon;
use crate::support::tls::{TestCa, http_backend, tls_peer};

#[tokio::test(flavor = "multi_thread")]
async fn localapi_route_is_healthy_and_named_and_spawns_no_cli() {
    let ca = TestCa::new();
    let backend = http_backend(200).await;
    let peer = tls_peer(ca.leaf("box.tail1234.ts.net", 60), 200).await;
    let daemon = FakeDaemon::start().await;
    daemon.set_status(fixture("status-healthy").as_bytes());
    let serve = fixture("serve-healthy").replace("18080", &backend.addr().port().to_string());
    daemon.set_serve_config(serve.as_bytes());
    let sc = Scenario::new();
    let ca_file = sc.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let out = serve_doctor(
        &sc,
        &[
            "diagnose",
            "--json",
            "--socket",
            daemon.socket().to_str().unwrap(),
            "--connect",
            &peer.addr_str(),
            "--ca-file",
            ca_file.to_str().unwrap(),
        ],
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cause"], "healthy", "{v:#}");
    assert!(
        v["route"]
            .as_str()
            .unwrap()
            .starts_with("localapi unix socket"),
        "{}",
        v["route"]
    );
    assert!(
        check(&v, "tailscale_cli")["detail"]
            .as_str()
            .unwrap()
            .contains("LocalAPI")
    );
    assert!(daemon.violations().is_empty(), "{:?}", daemon.violations());
    assert!(
        sc.argv_log().is_empty(),
        "the CLI must not run on the LocalAPI route"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn localapi_https_off_offers_the_consent_url_from_query_feature() {
    let daemon = FakeDaemon::start().await;
    daemon.set_status(fixture("status-https-off").as_bytes());
    daemon.set_serve_config(fixture("serve-healthy").as_bytes());
    let url = "https://login.tailscale.com/f/serve?node=nT1234ABCD11CNTRL";
    daemon.set_query_feature(
        200,
        json!({"Text": "Serve is not enabled on your tailnet.", "URL": url, "ShouldWait": false})
            .to_string()
            .as_bytes(),
    );
    let sc = Scenario::new();
    let (code, v) = diagnose_json_socket(&sc, &daemon).await;
    assert_eq!(
        (code, v["cause"].as_str().unwrap()),
        (2, "https_disabled"),
        "{v:#}"
    );
    assert_eq!(v["consent_url"], url);
    assert_eq!(v["fixes"][0]["url"], url);
    assert!(daemon.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn forced_socket_with_no_daemon_is_daemon_unreachable_not_a_cli_fallback() {
    let mut daemon = FakeDaemon::start().await;
    daemon.stop().await;
    let sc = Scenario::new();
    let (code, v) = diagnose_json_socket(&sc, &daemon).await;
    assert_eq!(
        (code, v["cause"].as_str().unwrap()),
        (3, "daemon_unreachable"),
        "{v:#}"
    );
    assert!(sc.argv_log().is_empty());
}

async fn diagnose_json_socket(sc: &Scenario, daemon: &FakeDaemon) -> (i32, serde_json::Value) {
    let closed = crate::support::tls::closed_port().await.to_string();
    let out = serve_doctor(
        sc,
        &[
            "diagnose",
            "--json",
            "--socket",
            daemon.socket().to_str().unwrap(),
            "--connect",
            &closed,
        ],
    )
    .await;
    let v = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap(), v)
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_route_is_named_with_how_the_cli_was_found() {
    let sc = Scenario::new();
    sc.status("https-off").serve("healthy", 18080);
    let (_, v) = diagnose_json(&sc, &[]).await;
    assert_eq!(
        v["route"],
        format!("cli {} (from --tailscale)", sc.cli().display())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gui_wrapper_message_never_reads_as_not_running_or_https_off() {
    let sc = Scenario::new();
    sc.status("https-off")
        .serve("healthy", 18080)
        .behavior(json!({"gui_error": true, "platform": "macos"}));
    let (code, v) = diagnose_json(&sc, &[]).await;
    assert_eq!(code, 3);
    assert_eq!(v["cause"], "status_unparseable");
    assert!(v["summary"].as_str().unwrap().contains("access problem"));
}
