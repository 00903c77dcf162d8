//! `diagnose` names the right cause for each scenario the bench makes real, over the LocalAPI and
//! over the real CLI, and never changes the daemon's serve config or prefs.

use crate::harness::{PHONE, ROUTES, Route, SERVER, SERVER_NAME, bench, brief, check};

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
    // --full makes the handshake even though the status already decided: it fails at once
    // with internal_error, although a certificate from before is still on disk.
    assert!(b.cert_file(SERVER, SERVER_NAME).exists());
    let v = b.expect_cause(ROUTES, &["--full", "--timeout", "10"], "https_disabled", 2);
    let tls = check(&v, "tls_handshake");
    assert!(
        tls["detail"].as_str().unwrap().contains("internal_error"),
        "{tls}"
    );
    assert!(tls["ms"].as_u64().unwrap() < 2000, "{tls}");
}

#[test]
fn issuance_failing_when_the_acme_server_refuses() {
    let Some(b) = bench() else { return };
    b.admin("acme?mode=refuse");
    b.forget_certs(SERVER);
    b.expect_cause(ROUTES, &["--timeout", "5"], "cert_issuance_failing", 2);
}

#[test]
fn issuance_stalling_is_pending_first_then_failing() {
    let Some(b) = bench() else { return };
    b.admin("acme?mode=stall");
    b.forget_certs(SERVER);
    // While the daemon's own attempt is under way it says so (tls-cert-pending, since 1.100).
    b.expect_cause(ROUTES, &["--timeout", "3"], "cert_pending", 1);
    // The attempt ends when the daemon's own deadline passes; the warning goes, no certificate
    // came, and the next handshake stalls again: issuance is failing. (Each handshake starts a
    // new attempt, so each route waits for the one before it to give up.)
    for route in ROUTES {
        let waited = b.wait_stalled_issuance_to_give_up();
        eprintln!("the stalled attempt gave up after {waited:?}");
        let (code, v) = b.diagnose(route, &["--timeout", "3"]);
        assert_eq!(
            v["cause"],
            "cert_issuance_failing",
            "{route:?}: {}",
            brief(&v)
        );
        assert_eq!(code, 2);
    }
}

#[test]
fn backend_down_is_named_from_the_502() {
    let Some(b) = bench() else { return };
    b.admin("backend?on=0");
    for route in ROUTES {
        let (code, v) = b.diagnose(route, &["--full"]);
        assert_eq!(v["cause"], "backend_down", "{route:?}: {}", brief(&v));
        assert_eq!(code, 2);
        eprintln!("backend down: {}", brief(&v));
    }
}

#[test]
fn stopped_after_tailscale_down() {
    let Some(b) = bench() else { return };
    b.ts_ok(SERVER, &["down"]);
    b.wait_state(SERVER, "Stopped");
    b.expect_cause(ROUTES, &[], "stopped", 3);
}

#[test]
fn logged_out_needs_login() {
    let Some(b) = bench() else { return };
    b.ts_ok(SERVER, &["logout"]);
    b.wait_state(SERVER, "NeedsLogin");
    b.expect_cause(ROUTES, &[], "needs_login", 3);
}

#[test]
fn key_expired_needs_login() {
    let Some(b) = bench() else { return };
    b.expire_server_key();
    eprintln!(
        "expired status: {} {}",
        b.status(SERVER)["BackendState"],
        b.status(SERVER)["Self"]["Expired"]
    );
    b.expect_cause(ROUTES, &[], "needs_login", 3);
}

#[test]
fn serve_keyed_to_the_old_name_after_a_rename() {
    let Some(b) = bench() else { return };
    b.admin("rename?host=server&to=renamed");
    b.wait("the new name", 30, || {
        b.status(SERVER)["Self"]["DNSName"] == "renamed.tailnet.test."
    });
    b.expect_cause(ROUTES, &[], "serve_name_mismatch", 2);
}

#[test]
fn plain_http_serve() {
    let Some(b) = bench() else { return };
    b.ts_ok(SERVER, &["serve", "reset"]);
    b.ts_ok(SERVER, &["serve", "--bg", "--http=80", "18080"]);
    b.expect_cause(ROUTES, &[], "serve_plain_http", 2);
}

#[test]
fn no_serve_config_after_a_reset() {
    let Some(b) = bench() else { return };
    b.ts_ok(SERVER, &["serve", "reset"]);
    // After a reset the daemon holds `{}`, not `null`, on both routes.
    assert_eq!(b.localapi(SERVER, "serve-config"), b"{}");
    assert_eq!(b.ts_ok(SERVER, &["serve", "status", "--json"]).trim(), "{}");
    b.expect_cause(ROUTES, &[], "serve_not_configured", 2);
}

#[test]
fn control_server_gone_while_running() {
    let Some(b) = bench() else { return };
    b.admin("control?on=0");
    b.wait("Self.Online to turn false", 60, || {
        b.status(SERVER)["Self"]["Online"] == false
    });
    b.expect_cause(ROUTES, &[], "control_unreachable", 1);
}

#[test]
fn tailscaled_gone() {
    let Some(b) = bench() else { return };
    b.stop_node(SERVER);
    b.expect_cause(ROUTES, &[], "daemon_unreachable", 3);
}

#[test]
fn userspace_node_is_not_green_without_a_handshake() {
    let Some(b) = bench() else { return };
    b.ts_ok(PHONE, &["serve", "reset"]);
    b.ts_ok(PHONE, &["serve", "--bg", "18080"]);
    // Its certificate is issued, its backend answers: still nothing on this machine can dial
    // its serve listener (TUN off), so no handshake and no request through serve happened.
    b.wait("the phone's certificate", 60, || {
        b.cert_file(PHONE, "phone.tailnet.test").exists()
    });
    for route in ROUTES {
        let (code, v) = b.diagnose_node(PHONE, route, &[]);
        assert_eq!(v["cause"], "not_verified", "{route:?}: {}", brief(&v));
        assert_eq!(code, 3);
        assert_eq!(check(&v, "tls_handshake")["status"], "skip");
        // The way it offers to make the check run works: the phone's own SOCKS5 proxy
        // reaches its serve listener (the bench's phone runs one on localhost:1055).
        let cmds: Vec<&str> = v["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["command"].as_str())
            .collect();
        assert!(
            cmds.iter()
                .any(|c| c.starts_with("curl --proxy socks5h://localhost:1055 ")),
            "{cmds:?}"
        );
        let o = b
            .in_ns("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
            ])
            .arg("--cacert")
            .arg(b.pebble_root())
            .args([
                "--proxy",
                "socks5h://localhost:1055",
                "https://phone.tailnet.test/",
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), "200", "{o:?}");
        // And Serve Doctor itself, through that proxy: a real handshake and a request through
        // serve, so green on evidence.
        let (code, v) = b.diagnose_node(PHONE, route, &["--socks5", "localhost:1055"]);
        assert_eq!(v["cause"], "healthy", "{route:?}: {}", brief(&v));
        assert_eq!(code, 0);
        assert_eq!(check(&v, "serve_proxy")["status"], "pass");
    }
    b.ts_ok(PHONE, &["serve", "reset"]);
}

#[test]
fn before_1_100_the_first_handshake_fetches_the_certificate() {
    let Some(b) = bench() else { return };
    let old = b.env("TS_OLD_VERSION").to_string();
    b.forget_certs_keep_version(SERVER, &old);
    let st = b.status(SERVER);
    assert!(
        st["Version"]
            .as_str()
            .unwrap()
            .starts_with(old.trim_start_matches('v')),
        "{}",
        st["Version"]
    );
    // No hourly refresh before 1.100: running with a serve config, it fetches nothing and says
    // nothing about it.
    assert!(!b.cert_file(SERVER, SERVER_NAME).exists());
    assert_eq!(
        st["Health"],
        serde_json::json!([]),
        "no tls-cert-pending before 1.100"
    );
    // Our handshake is the first: it waits while the daemon fetches from Pebble, then works.
    let v = b.expect_cause([Route::Api], &["--timeout", "20"], "healthy", 0);
    assert!(b.cert_file(SERVER, SERVER_NAME).exists());
    assert!(check(&v, "tls_handshake")["ms"].as_u64().unwrap() > 0);
    b.expect_cause([Route::Cli], &[], "healthy", 0);

    // HTTPS off fails the handshake at once here too.
    b.admin("certs?on=0");
    b.wait("CertDomains to empty", 20, || {
        b.status(SERVER)["CertDomains"].is_null()
    });
    let v = b.expect_cause(ROUTES, &["--full", "--timeout", "10"], "https_disabled", 2);
    let tls = check(&v, "tls_handshake");
    assert!(
        tls["detail"].as_str().unwrap().contains("internal_error"),
        "{tls}"
    );
    assert!(tls["ms"].as_u64().unwrap() < 2000, "{tls}");

    // A stalled issuance has no pending warning to show before 1.100: it is failing at once.
    b.admin("certs?on=1");
    b.admin("acme?mode=stall");
    b.forget_certs_keep_version(SERVER, &old);
    b.expect_cause(
        [Route::Api],
        &["--timeout", "3"],
        "cert_issuance_failing",
        2,
    );
}

#[test]
fn no_certificate_without_control_is_the_control_connections_doing() {
    let Some(b) = bench() else { return };
    // No certificate yet (the ACME server stalls), then control goes away.
    b.admin("acme?mode=stall");
    b.forget_certs(SERVER);
    b.admin("control?on=0");
    b.wait("Self.Online to turn false", 60, || {
        b.status(SERVER)["Self"]["Online"] == false
    });
    b.admin("acme?mode=pass");
    let v = b.expect_cause(ROUTES, &["--timeout", "3"], "cert_needs_control", 2);
    assert!(
        v["summary"].as_str().unwrap().contains("control"),
        "{}",
        brief(&v)
    );
}
