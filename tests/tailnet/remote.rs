//! From another device: the phone node diagnoses the server's URL (`diagnose URL`) through its
//! SOCKS5 proxy, and each scenario the bench can make is named from there.

use std::time::Instant;

use serde_json::Value;

use crate::harness::{Bench, PHONE, Route, SERVER, SERVER_NAME, bench, brief, check};

const URL: &str = "https://server.tailnet.test/";
const PROXY: &str = "127.0.0.1:1055";

/// `diagnose --json … URL` on the phone node over its LocalAPI; the server's serve config and
/// prefs are left as they were.
fn from_phone(b: &Bench, env: &[(&str, &str)], extra: &[&str]) -> (i32, Value) {
    let before = b.daemon_state(SERVER);
    let mut args: Vec<String> = vec!["diagnose".into(), "--json".into()];
    args.extend(b.route_args(PHONE, Route::Api));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(URL.into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = b.serve_doctor_env(&argv, env);
    assert!(
        b.daemon_state(SERVER) == before,
        "diagnose URL changed the server"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    eprintln!("from the phone {extra:?}: {}", brief(&v));
    (out.status.code().unwrap_or(-1), v)
}

/// Through the phone's SOCKS5 proxy, with `--timeout secs`.
fn through_proxy(b: &Bench, secs: &str) -> (i32, Value) {
    from_phone(b, &[], &["--socks5", PROXY, "--timeout", secs])
}

/// The phone's first connections to the server through its proxy fail for some seconds after
/// either daemon starts (the proxy answers "general failure" while the WireGuard path comes
/// up): wait until a TCP connection to the serve port goes through. Plain HTTP to the TLS port
/// sends no ClientHello, so it starts no certificate issuance.
fn path_up(b: &Bench) {
    let ip = b.server_ip();
    b.wait("the phone's path to the server", 60, || {
        let code = b
            .in_ns("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "3", "--proxy"])
            .arg(format!("socks5://{PROXY}"))
            .arg(format!("http://{ip}:443/"))
            .status()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1);
        // 97: the proxy could not connect; 28: timed out.
        !matches!(code, 97 | 28 | -1)
    });
}

fn ms(v: &Value, id: &str) -> u64 {
    check(v, id)["ms"].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn healthy_from_the_phone() {
    let Some(b) = bench() else { return };
    path_up(&b);
    let (code, v) = through_proxy(&b, "10");
    assert_eq!(v["cause"], "healthy", "{}", brief(&v));
    assert_eq!(code, 0);
    assert!(
        check(&v, "tls_handshake")["detail"]
            .as_str()
            .unwrap()
            .contains("Pebble")
    );
    assert_eq!(check(&v, "serve_proxy")["status"], "pass");
    assert_eq!(check(&v, "peer")["status"], "pass");
    assert_eq!(check(&v, "magicdns_lookup")["status"], "pass");
    // The namespace's system resolver knows no tailnet name; through the proxy that is shown,
    // not judged.
    assert_eq!(check(&v, "system_dns")["status"], "warn", "{}", brief(&v));
    assert_eq!(v["fixes"][0]["id"], "clear_browser_cache");
}

#[test]
fn https_off_from_the_phone_is_no_certificate_at_once() {
    let Some(b) = bench() else { return };
    b.admin("certs?on=0");
    b.wait("CertDomains to empty", 20, || {
        b.status(SERVER)["CertDomains"].is_null()
    });
    path_up(&b);
    let started = Instant::now();
    let (code, v) = through_proxy(&b, "10");
    assert_eq!(v["cause"], "peer_no_cert", "{}", brief(&v));
    assert_eq!(code, 2);
    let tls = check(&v, "tls_handshake");
    assert!(
        tls["detail"].as_str().unwrap().contains("internal_error"),
        "{tls}"
    );
    assert!(ms(&v, "tls_handshake") < 2000, "{tls}");
    eprintln!(
        "HTTPS off, from the phone: decided in {:?}",
        started.elapsed()
    );
}

#[test]
fn issuance_failing_at_once_from_the_phone_is_no_certificate() {
    let Some(b) = bench() else { return };
    b.admin("acme?mode=refuse");
    b.forget_certs(SERVER);
    b.wait_state(SERVER, "Running");
    path_up(&b);
    let (code, v) = through_proxy(&b, "10");
    assert_eq!(v["cause"], "peer_no_cert", "{}", brief(&v));
    assert_eq!(code, 2);
    assert!(ms(&v, "tls_handshake") < 5000, "{}", brief(&v));
}

#[test]
fn issuance_stalling_from_the_phone_is_stuck() {
    let Some(b) = bench() else { return };
    b.admin("acme?mode=stall");
    b.forget_certs(SERVER);
    b.wait_state(SERVER, "Running");
    path_up(&b);
    let (code, v) = through_proxy(&b, "5");
    assert_eq!(v["cause"], "peer_cert_stuck", "{}", brief(&v));
    assert_eq!(code, 2);
    let tls = check(&v, "tls_handshake");
    assert!(tls["detail"].as_str().unwrap().contains("stalled"), "{tls}");
    let t = ms(&v, "tls_handshake");
    assert!((4500..8000).contains(&t), "{tls}");
}

#[test]
fn backend_down_from_the_phone() {
    let Some(b) = bench() else { return };
    b.admin("backend?on=0");
    path_up(&b);
    let (code, v) = through_proxy(&b, "10");
    assert_eq!(v["cause"], "peer_backend_down", "{}", brief(&v));
    assert_eq!(code, 2);
    assert_eq!(check(&v, "tls_handshake")["status"], "pass");
}

/// Without the proxy, a browser here uses the system resolver, and the namespace's knows no
/// tailnet name. MagicDNS at 100.100.100.100 answers (routed into the server's TUN device: in
/// one namespace that is the server's tailscaled resolver; the phone, in userspace mode, has
/// none on the OS), so this device does not use MagicDNS: a DNS problem here. With MagicDNS
/// pointed at an address where nothing answers, the name resolves nowhere.
#[test]
fn a_name_only_magicdns_resolves_is_a_dns_problem_on_this_device() {
    let Some(b) = bench() else { return };
    let (code, v) = from_phone(&b, &[], &["--timeout", "5"]);
    assert_eq!(v["cause"], "device_dns", "{}", brief(&v));
    assert_eq!(code, 2);
    assert_eq!(check(&v, "magicdns_lookup")["status"], "pass");
    assert_eq!(check(&v, "system_dns")["status"], "fail");
    let nowhere = [("SERVE_DOCTOR_MAGICDNS", "127.0.0.1:9")];
    let (_, v) = from_phone(&b, &nowhere, &["--timeout", "5"]);
    assert_eq!(v["cause"], "name_unresolved", "{}", brief(&v));
    assert!(v["summary"].as_str().unwrap().contains(SERVER_NAME));
}
