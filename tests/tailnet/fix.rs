//! `serve-doctor fix` against the real daemon: recreate turns red into green, restore brings a
//! many-part config back equal, the fallbacks and Funnel do what they plan, the daemon's own
//! refusals come through, and a change made by another client between our read and our write is
//! caught by the ETag.

use serde_json::{Value, json};

use crate::harness::{ROUTES, Route, SERVER, SERVER_NAME, bench, brief};

/// Several ports and mounts, a TCP forward, a `Text` handler, a Service and Funnel: what a
/// long-lived node has.
fn rich_config(name: &str) -> Value {
    json!({
        "TCP": {
            "443": {"HTTPS": true},
            "8443": {"HTTPS": true},
            "2222": {"TCPForward": "127.0.0.1:22"}
        },
        "Web": {
            format!("{name}:443"): {"Handlers": {
                "/": {"Proxy": "http://127.0.0.1:18080"},
                "/docs/": {"Proxy": "http://127.0.0.1:18080/docs/"},
                "/hello": {"Text": "hello"}
            }},
            format!("{name}:8443"): {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18081"}}}
        },
        "AllowFunnel": {format!("{name}:443"): true},
        "Services": {"svc:web": {
            "TCP": {"443": {"HTTPS": true}},
            "Web": {"web.tailnet.test:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}}
        }}
    })
}

#[test]
fn recreate_turns_a_renamed_node_green_on_both_routes() {
    let Some(b) = bench() else { return };
    let old = b.serve_config();
    // A rename as the machine itself makes it (its hostname), which control follows.
    b.ts_ok(SERVER, &["set", "--hostname", "renamed"]);
    b.admin("rename?host=server&to=renamed");
    b.wait("the new name", 30, || {
        b.status(SERVER)["Self"]["DNSName"] == "renamed.tailnet.test."
    });
    for route in ROUTES {
        b.set_serve_config(&old);
        let (_, v) = b.diagnose(route, &[]);
        assert_eq!(
            v["cause"],
            "serve_name_mismatch",
            "{route:?}: {}",
            brief(&v)
        );
        let (code, r, err) = b.fix(route, &["recreate", "--yes", "--port", "18080"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        assert_eq!(r["verified"], true, "{r:#}");
        let now = b.serve_config();
        assert_eq!(
            now["Web"]["renamed.tailnet.test:443"]["Handlers"]["/"]["Proxy"],
            "http://127.0.0.1:18080",
            "{route:?}: {now}"
        );
        let (code, v) = b.diagnose(route, &[]);
        assert_eq!(v["cause"], "healthy", "{route:?}: {}", brief(&v));
        assert_eq!(code, 0);
        // The backup holds what was there, byte for byte as JSON.
        let backup: Value =
            serde_json::from_str(&std::fs::read_to_string(r["backup"].as_str().unwrap()).unwrap())
                .unwrap();
        assert_eq!(backup, old, "{route:?}");
    }
}

#[test]
fn restore_brings_back_ports_mounts_tcp_forward_a_service_and_funnel_equal() {
    let Some(b) = bench() else { return };
    let rich = rich_config(SERVER_NAME);
    for route in ROUTES {
        b.set_serve_config(&rich);
        let original = b.serve_config();
        assert_eq!(original, rich, "the daemon keeps what it is given");
        let (code, r, err) = b.fix(route, &["recreate", "--yes", "--port", "18090"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        assert_ne!(b.serve_config(), original);
        // restore, http-fallback and Funnel run through the CLI (the LocalAPI route covers
        // recreate only).
        let (code, r, err) = b.fix(Route::Cli, &["restore", "--yes"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        assert_eq!(r["verified"], true, "{r:#}");
        assert_eq!(b.serve_config(), original, "{route:?}");
    }
}

#[test]
fn http_fallback_serves_plain_http_for_real() {
    let Some(b) = bench() else { return };
    {
        let route = Route::Cli;
        b.standard_serve();
        let (code, r, err) = b.fix(route, &["http-fallback", "--yes", "--port", "18080"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        let now = b.serve_config();
        assert_eq!(now["TCP"]["80"]["HTTP"], true, "{now}");
        assert_eq!(
            now["Web"][format!("{SERVER_NAME}:80")]["Handlers"]["/"]["Proxy"],
            "http://127.0.0.1:18080"
        );
        let ip = b.status(SERVER)["Self"]["TailscaleIPs"][0]
            .as_str()
            .unwrap()
            .to_string();
        let o = b
            .in_ns("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-H",
                &format!("Host: {SERVER_NAME}"),
            ])
            .arg(format!("http://{ip}/"))
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&o.stdout);
        assert!(body.contains("bench backend"), "{route:?}: {body}");
    }
}

#[test]
fn funnel_on_and_off_do_what_they_plan() {
    let Some(b) = bench() else { return };
    {
        let route = Route::Cli;
        b.standard_serve();
        let (code, r, err) = b.fix(route, &["funnel-on", "--yes", "--port", "18080"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        assert_eq!(
            b.serve_config()["AllowFunnel"][format!("{SERVER_NAME}:443")],
            true
        );
        let (code, r, err) = b.fix(route, &["funnel-off", "--yes", "--port", "18080"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        let now = b.serve_config();
        assert!(
            now["AllowFunnel"].as_object().is_none_or(|m| m.is_empty()),
            "{route:?}: {now}"
        );
        assert_eq!(
            now["Web"][format!("{SERVER_NAME}:443")]["Handlers"]["/"]["Proxy"],
            "http://127.0.0.1:18080",
            "tailnet-only serving is kept"
        );
    }
}

#[test]
fn funnel_refusals_name_the_reason() {
    let Some(b) = bench() else { return };
    // Port 443 not in funnel-ports.
    b.admin("caps?host=server&set=https,funnel,https://tailscale.com/cap/funnel-ports?ports=8443");
    b.wait("the new funnel ports", 30, || {
        b.status(SERVER)["Self"]["CapMap"]
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.ends_with("ports=8443")))
    });
    {
        let route = Route::Cli;
        let before = b.serve_config();
        let (code, r, err) = b.fix(route, &["funnel-on", "--yes", "--port", "18080"]);
        eprintln!("funnel-ports refusal {route:?}: {code} {r} {err}");
        assert_eq!(code, 2, "{route:?}: {r:#} {err}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("not allowed for Funnel"),
            "{r:#}"
        );
        assert_eq!(b.serve_config(), before, "nothing changed");
    }
    b.admin("caps?host=server&reset");
    // Shields up: the daemon itself refuses Funnel.
    b.ts_ok(SERVER, &["set", "--shields-up=true"]);
    {
        let route = Route::Cli;
        let before = b.serve_config();
        let (code, r, err) = b.fix(route, &["funnel-on", "--yes", "--port", "18080"]);
        eprintln!("shields-up refusal {route:?}: {code} {r} {err}");
        assert_eq!(code, 1, "{route:?}: {r:#} {err}");
        assert_eq!(r["findings"][0]["kind"], "shields_up", "{r:#}");
        assert_eq!(b.serve_config(), before, "nothing changed");
    }
    b.ts_ok(SERVER, &["set", "--shields-up=false"]);
}

#[test]
fn diagnose_and_plans_leave_the_daemon_as_it_was() {
    let Some(b) = bench() else { return };
    b.set_serve_config(&rich_config(SERVER_NAME));
    let before = b.daemon_state(SERVER);
    for route in ROUTES {
        b.diagnose(route, &["--full", "--deep"]);
        // A plan without --yes changes nothing either.
        let (code, _, _) = b.fix(route, &["recreate", "--port", "18090"]);
        assert_eq!(code, 3);
    }
    assert!(before == b.daemon_state(SERVER));
}

#[test]
fn without_a_cli_the_other_actions_say_so_over_the_localapi() {
    let Some(b) = bench() else { return };
    let before = b.serve_config();
    let (code, _, err) = b.fix(Route::Api, &["http-fallback", "--yes", "--port", "18080"]);
    assert_ne!(code, 0);
    assert!(err.contains("no tailscale CLI found"), "{err}");
    assert_eq!(b.serve_config(), before);
}

/// A LocalAPI socket in front of the real one that, on the first `POST serve-config`, first
/// lets "another client" write a different config: the real daemon then sees our write with a
/// stale `If-Match`.
mod racing_proxy {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::{Method, Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio::net::{UnixListener, UnixStream};

    async fn send(upstream: &Path, req: Request<Full<Bytes>>) -> Response<Bytes> {
        let s = UnixStream::connect(upstream).await.expect("real socket");
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let res = tx.send_request(req).await.expect("request");
        let (parts, body) = res.into_parts();
        Response::from_parts(parts, body.collect().await.expect("body").to_bytes())
    }

    /// Serves `at` until the runtime ends; `competing` is what the other client writes.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        at: PathBuf,
        upstream: PathBuf,
        competing: Vec<u8>,
    ) -> Arc<AtomicBool> {
        let _ = std::fs::remove_file(&at);
        let listener = rt
            .block_on(async { UnixListener::bind(&at) })
            .expect("bind");
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        rt.spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let (up, comp, f) = (upstream.clone(), competing.clone(), f.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (up, comp, f) = (up.clone(), comp.clone(), f.clone());
                        async move {
                            if req.method() == Method::POST
                                && req.uri().path().ends_with("/serve-config")
                                && !f.swap(true, Ordering::SeqCst)
                            {
                                let other = Request::post("/localapi/v0/serve-config")
                                    .header("Host", "local-tailscaled.sock")
                                    .body(Full::new(Bytes::from(comp)))
                                    .unwrap();
                                let r = send(&up, other).await;
                                assert!(r.status().is_success(), "competing write: {r:?}");
                            }
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await?.to_bytes();
                            let r = send(&up, Request::from_parts(parts, Full::new(body))).await;
                            let (p, b) = r.into_parts();
                            Ok::<_, hyper::Error>(Response::from_parts(p, Full::new(b)))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        fired
    }
}

#[test]
fn a_change_by_another_client_between_read_and_write_is_caught_and_kept() {
    let Some(b) = bench() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // The other client adds a second port while we recreate ours.
    let mut competing = b.serve_config();
    competing["TCP"]["8443"] = json!({"HTTPS": true});
    competing["Web"][format!("{SERVER_NAME}:8443")] =
        json!({"Handlers": {"/": {"Proxy": "http://127.0.0.1:18081"}}});
    let proxy = b.dir.join("racing.sock");
    let fired = racing_proxy::start(
        &rt,
        proxy.clone(),
        b.socket(SERVER),
        competing.to_string().into_bytes(),
    );
    let out = b.serve_doctor(&[
        "fix",
        "recreate",
        "--yes",
        "--json",
        "--port",
        "18090",
        "--socket",
        proxy.to_str().unwrap(),
        "--ca-file",
        b.pebble_root().to_str().unwrap(),
    ]);
    assert!(fired.load(std::sync::atomic::Ordering::SeqCst));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(r["outcome"], "done", "{r:#}");
    // The daemon refused the first write on its ETag (the real 412), the second went through.
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{r:#}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("another client changed the serve config"),
        "{r:#}"
    );
    // Nothing lost: the other client's port is there, and so is ours.
    let now = b.serve_config();
    assert_eq!(
        now["Web"][format!("{SERVER_NAME}:8443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18081",
        "{now}"
    );
    assert_eq!(
        now["Web"][format!("{SERVER_NAME}:443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18090",
        "{now}"
    );
    drop(rt);
}

#[test]
fn undo_on_a_node_that_had_no_serve_config_gives_the_empty_config_back() {
    let Some(b) = bench() else { return };
    for route in ROUTES {
        b.ts_ok(SERVER, &["serve", "reset"]);
        let empty = b.serve_config();
        let (code, r, err) = b.fix(route, &["recreate", "--yes", "--port", "18080"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        assert!(b.serve_config()["Web"].is_object());
        let (code, r, err) = b.fix(Route::Cli, &["restore", "--yes"]);
        assert_eq!(code, 0, "{route:?}: {r:#} {err}");
        let now = b.serve_config();
        assert!(
            now == empty || now == json!({}) || now.is_null(),
            "{route:?}: {now} (was {empty})"
        );
    }
}

/// A node never configured answers `null` on `GET serve-config` (a `{}` only comes after a
/// reset), and a LocalAPI recreate backs that text up as is: restoring such a backup is a reset,
/// and the empty config read back counts as restored.
#[test]
fn a_null_backup_restores_as_the_empty_config() {
    let Some(b) = bench() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let backup = dir.path().join("never-configured.json");
    std::fs::write(&backup, "null").expect("write backup");
    let backup = backup.to_str().expect("utf-8 path");
    assert!(b.serve_config()["Web"].is_object(), "baseline has serve");
    let (code, r, err) = b.fix(Route::Cli, &["restore", backup, "--yes"]);
    assert_eq!(code, 0, "{r:#} {err}");
    assert_eq!(r["verified"], true, "{r:#}");
    assert_eq!(
        r["plan"]["commands"].as_array().map(Vec::len),
        Some(1),
        "{r:#}"
    );
    let now = b.serve_config();
    assert!(now == json!({}) || now.is_null(), "{now}");
}

/// Funnel on a TCP forward: `funnel-off` serves the forward again with `serve --bg --tcp`
/// (the real CLI's `funnel --tcp=P off` would delete the forward and keep the flag), and the
/// daemon's config has no public entry left while the forward stays.
#[test]
fn funnel_off_makes_a_public_tcp_forward_private_and_keeps_it() {
    let Some(b) = bench() else { return };
    let mut config = b.serve_config();
    config["TCP"]["10000"] = json!({"TCPForward": "127.0.0.1:18080"});
    config["AllowFunnel"] = json!({
        format!("{SERVER_NAME}:443"): true,
        format!("{SERVER_NAME}:10000"): true
    });
    b.set_serve_config(&config);
    let (code, r, err) = b.fix(Route::Cli, &["funnel-off", "--yes"]);
    assert_eq!(code, 0, "{r:#} {err}");
    assert!(
        r["plan"]["removes"].to_string().contains("TCP port 10000"),
        "{r:#}"
    );
    let now = b.serve_config();
    assert!(
        now["AllowFunnel"].as_object().is_none_or(|m| m.is_empty()),
        "{now}"
    );
    assert_eq!(
        now["TCP"]["10000"]["TCPForward"], "127.0.0.1:18080",
        "{now}"
    );
    assert!(
        now["Web"][format!("{SERVER_NAME}:443")].is_object(),
        "{now}"
    );
}

/// A TCP forward on 443: recreate with --keep-others (CLI) and over the LocalAPI never writes
/// HTTPS on 443, which the real daemon refuses; it serves on 8443 and the forward stays.
#[test]
fn recreate_steps_around_a_tcp_forward_on_443() {
    let Some(b) = bench() else { return };
    for route in ROUTES {
        b.ts_ok(SERVER, &["serve", "reset"]);
        b.set_serve_config(&json!({"TCP": {"443": {"TCPForward": "127.0.0.1:18080"}}}));
        let (_, r, err) = b.fix(route, &["recreate", "--keep-others", "--yes"]);
        assert_eq!(r["outcome"], "done", "{route:?}: {r:#} {err}");
        assert_eq!(
            r["url"],
            format!("https://{SERVER_NAME}:8443/"),
            "{route:?}"
        );
        let now = b.serve_config();
        assert_eq!(
            now["TCP"]["443"]["TCPForward"], "127.0.0.1:18080",
            "{route:?}: {now}"
        );
        assert_eq!(
            now["Web"][format!("{SERVER_NAME}:8443")]["Handlers"]["/"]["Proxy"],
            "http://127.0.0.1:18080",
            "{route:?}: {now}"
        );
    }
}
