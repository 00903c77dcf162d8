//! `serve-doctor diagnose URL` end to end: the fake CLI's status with peers, real TLS peers on
//! 127.0.0.1 standing in for the serving node, and a small DNS server on 127.0.0.1 standing in
//! for MagicDNS at 100.100.100.100.

use serde_json::{Value, json};
use tokio::net::UdpSocket;

use crate::support::fake::{Scenario, assert_no_fake_left, check, serve_doctor};
use crate::support::tls::{TestCa, alert_peer, stall_peer, tls_peer};

/// A DNS server that answers every A question with 127.0.0.1 (no AAAA), or NXDOMAIN for all.
async fn dns_server(nxdomain: bool) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let q = &buf[..n];
            let qtype = u16::from_be_bytes([q[n - 4], q[n - 3]]);
            let mut r = q.to_vec();
            r[2] = 0x81;
            r[3] = if nxdomain { 0x83 } else { 0x80 };
            if !nxdomain && qtype == 1 {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
            }
            let _ = socket.send_to(&r, from).await;
        }
    });
    addr
}

/// This node (phone) with the peers `peers` ({name: online}), each at 127.0.0.1.
fn status(peers: &[(&str, bool)]) -> String {
    let peer: serde_json::Map<String, Value> = peers
        .iter()
        .enumerate()
        .map(|(i, (name, online))| {
            let v = json!({"DNSName": format!("{name}."), "TailscaleIPs": ["127.0.0.1"], "Online": online});
            (format!("nodekey:{i}"), v)
        })
        .collect();
    json!({"Version": "1.102.3", "BackendState": "Running",
        "Self": {"DNSName": "phone.tail1.ts.net.", "TailscaleIPs": ["100.64.0.2"], "Online": true},
        "CurrentTailnet": {"Name": "me@example.com", "MagicDNSSuffix": "tail1.ts.net", "MagicDNSEnabled": true},
        "Peer": peer})
    .to_string()
}

/// `diagnose --json URL` from the fake phone, MagicDNS at `dns`.
async fn run(sc: &Scenario, ca: &TestCa, dns: &str, url: &str, timeout: &str) -> (i32, Value) {
    let ca_file = sc.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let cli = sc.cli();
    let args = [
        "diagnose",
        "--json",
        "--tailscale",
        cli.to_str().unwrap(),
        "--ca-file",
        ca_file.to_str().unwrap(),
        "--timeout",
        timeout,
        url,
    ];
    let home = sc.path().join("home");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_serve-doctor"))
        .args(args)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("SERVE_DOCTOR_MAGICDNS", dns)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert_no_fake_left(sc).await;
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn scenario(peers: &[(&str, bool)]) -> Scenario {
    let sc = Scenario::new();
    sc.write("status.json", &status(peers));
    sc
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_through_a_peer_whose_name_this_device_resolves() {
    // "localhost" is the one name this machine's resolver surely has: it stands in for a peer
    // whose name both resolvers give the same address for.
    let ca = TestCa::new();
    let peer = tls_peer(ca.leaf("localhost", 60), 200).await;
    let sc = scenario(&[("localhost", true)]);
    let dns = dns_server(false).await;
    let url = format!("https://localhost:{}/", peer.addr().port());
    let (code, v) = run(&sc, &ca, &dns, &url, "3").await;
    assert_eq!(v["cause"], "healthy", "{v:#}");
    assert_eq!(code, 0);
    for id in [
        "daemon",
        "logged_in",
        "peer",
        "magicdns_lookup",
        "system_dns",
        "listener",
        "tls_handshake",
        "serve_proxy",
    ] {
        assert_eq!(check(&v, id)["status"], "pass", "{id}: {v:#}");
    }
    assert!(
        check(&v, "magicdns_lookup")["detail"]
            .as_str()
            .unwrap()
            .contains(&dns)
    );
    assert_eq!(v["backend_port_source"], "unseen");
    assert_eq!(v["fixes"][0]["id"], "clear_browser_cache");
    // The request goes over the verified connection: one handshake, here and on the node.
    assert_eq!(peer.accepted(), 1);
    // Only reads: the status with peers.
    for argv in sc.argv_log() {
        assert_eq!(argv, ["status", "--json"], "{argv:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_only_magicdns_resolves_is_this_devices_dns_problem() {
    let ca = TestCa::new();
    let peer = tls_peer(ca.leaf("server.tail1.ts.net", 60), 200).await;
    let sc = scenario(&[("server.tail1.ts.net", true)]);
    let url = format!("https://server.tail1.ts.net:{}/", peer.addr().port());
    let (code, v) = run(&sc, &ca, &dns_server(false).await, &url, "3").await;
    assert_eq!(v["cause"], "device_dns", "{v:#}");
    assert_eq!(code, 2);
    assert_eq!(check(&v, "system_dns")["status"], "fail");
    // The node itself is fine, and the checks say so.
    assert_eq!(check(&v, "serve_proxy")["status"], "pass", "{v:#}");
    let (_, v) = run(&sc, &ca, &dns_server(true).await, &url, "3").await;
    assert_eq!(v["cause"], "name_unresolved", "{v:#}");
    assert!(
        check(&v, "magicdns_lookup")["detail"]
            .as_str()
            .unwrap()
            .contains("NXDOMAIN")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_serving_node_answers_names_its_cause() {
    let ca = TestCa::new();
    let sc = scenario(&[("localhost", true)]);
    let dns = dns_server(false).await;
    let cases = [
        (alert_peer().await, "1", "peer_no_cert"),
        (stall_peer().await, "1", "peer_cert_stuck"),
        (
            tls_peer(ca.leaf("localhost", 60), 502).await,
            "3",
            "peer_backend_down",
        ),
        (
            tls_peer(ca.leaf("other.tail1.ts.net", 60), 200).await,
            "3",
            "peer_cert_invalid",
        ),
    ];
    for (peer, timeout, cause) in &cases {
        let url = format!("https://localhost:{}/", peer.addr().port());
        let (code, v) = run(&sc, &ca, &dns, &url, timeout).await;
        assert_eq!(v["cause"], *cause, "{v:#}");
        assert_eq!(code, 2);
    }
    // A name MagicDNS does not know either (the server above answers every name).
    let nx = dns_server(true).await;
    let (_, v) = run(&sc, &ca, &nx, "https://nas.tail1.ts.net/", "3").await;
    assert_eq!(v["cause"], "peer_not_found", "{v:#}");
    // Offline in the netmap: nothing is dialed (the port below is closed, and not asked).
    let asleep = scenario(&[("localhost", false)]);
    let (_, v) = run(&asleep, &ca, &dns, "https://localhost:9/", "3").await;
    assert_eq!(v["cause"], "peer_offline", "{v:#}");
    assert_eq!(check(&v, "listener")["status"], "skip");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_that_is_not_https_is_a_usage_error() {
    let sc = scenario(&[]);
    let out = serve_doctor(
        &sc,
        &[
            "diagnose",
            "--tailscale",
            sc.cli().to_str().unwrap(),
            "http://server/",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only https://"));
}
