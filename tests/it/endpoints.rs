//! Every endpoint of a serve config, end to end: the real binary, the fake CLI, and real TLS,
//! HTTP and TCP peers on loopback standing in for each port serve listens on and each backend.

use serde_json::{Value, json};

use crate::support::fake::{Scenario, assert_no_fake_left, diagnose_json};
use crate::support::tls::{Peer, TestCa, closed_port, http_backend, tls_peer};

const NAME: &str = "box.tail1234.ts.net";

/// A node whose serve config has `/` and `/api/` on the main port (reached with --connect), a
/// second HTTPS port and a TCP forward; every port is a real peer on loopback.
struct Node {
    sc: Scenario,
    args: Vec<String>,
    _peers: Vec<Peer>,
}

async fn node(api_backend: u16, alt_serve_status: u16, forward_to: u16) -> Node {
    let ca = TestCa::new();
    let main = tls_peer(ca.leaf(NAME, 60), 200).await;
    let alt = tls_peer(ca.leaf(NAME, 60), alt_serve_status).await;
    let backend = http_backend(200).await;
    let listener = http_backend(200).await;
    let sc = Scenario::new();
    sc.status("healthy");
    let (alt_port, tcp_port) = (alt.addr().port(), listener.addr().port());
    let config = json!({
        "TCP": {"443": {"HTTPS": true}, alt_port.to_string(): {"HTTPS": true},
                tcp_port.to_string(): {"TCPForward": format!("127.0.0.1:{forward_to}")}},
        "Web": {
            format!("{NAME}:443"): {"Handlers": {
                "/": {"Proxy": format!("http://{}", backend.addr())},
                "/api/": {"Proxy": format!("http://127.0.0.1:{api_backend}")}}},
            format!("{NAME}:{alt_port}"): {"Handlers": {"/": {"Proxy": format!("http://{}", backend.addr())}}}
        }
    });
    sc.write("serve.json", &config.to_string());
    let ca_file = sc.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let args = vec![
        "--connect".to_string(),
        main.addr_str(),
        "--ca-file".into(),
        ca_file.display().to_string(),
        "--timeout".into(),
        "2".into(),
    ];
    Node {
        sc,
        args,
        _peers: vec![main, alt, backend, listener],
    }
}

impl Node {
    async fn run(&self, extra: &[&str]) -> (i32, Value) {
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        let r = diagnose_json(&self.sc, &args).await;
        assert_no_fake_left(&self.sc).await;
        self.sc.assert_read_only();
        r
    }
}

fn endpoint<'a>(v: &'a Value, prefix: &str) -> &'a Value {
    v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no endpoint {prefix} in {v:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn green_only_when_every_endpoint_answered_and_each_has_its_verdict() {
    let api = http_backend(200).await;
    let fwd = http_backend(200).await;
    let n = node(api.addr().port(), 200, fwd.addr().port()).await;
    let (code, v) = n.run(&[]).await;
    assert_eq!((code, v["cause"].as_str()), (0, Some("healthy")), "{v:#}");
    let eps = v["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 4, "{v:#}");
    for e in eps {
        assert_eq!(e["status"], "pass", "{e:#}");
    }
    let api = endpoint(&v, &format!("https://{NAME}/api/"));
    let names: Vec<&str> = api["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tls_handshake", "request", "backend"], "{api:#}");
    assert_eq!(endpoint(&v, &format!("https://{NAME}/"))["primary"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_mount_a_5xx_port_and_a_dead_forward_are_each_named() {
    let dead = closed_port().await.port();
    // /api/'s backend is down; the second port answers 503 through serve; the forward's target
    // refuses.
    let n = node(dead, 503, dead).await;
    let (code, v) = n.run(&["--full"]).await;
    assert_eq!(
        (code, v["cause"].as_str()),
        (2, Some("endpoint_failing")),
        "{v:#}"
    );
    assert_eq!(v["health"], "red");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("The main endpoint works")
    );
    let api = endpoint(&v, &format!("https://{NAME}/api/"));
    assert_eq!(api["status"], "fail");
    let alt = endpoint(&v, &format!("https://{NAME}:"));
    assert_eq!(alt["status"], "fail");
    assert!(
        alt["summary"].as_str().unwrap().contains("HTTP 503"),
        "{alt:#}"
    );
    let tcp = endpoint(&v, "tcp://");
    assert_eq!(tcp["status"], "fail");
    assert!(
        tcp["summary"].as_str().unwrap().contains("refused"),
        "{tcp:#}"
    );
    assert_eq!(v["fixes"][0]["id"], "start_backend");
}
