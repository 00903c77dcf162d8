//! `serve-doctor fix …` end to end: the real binary against the fake `tailscale`, which models
//! every write (reset, --bg, --http, set-raw, funnel, the consent flow, refusals).

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::fake::{
    Scenario, argv_entries, assert_no_fake_left, data_dir, fix_json, fixture, serve_json,
};

const NAME: &str = "box.tail1234.ts.net";

fn scenario(status: &str, serve: &str) -> Scenario {
    let sc = Scenario::new();
    sc.status(status).serve(serve, 18080);
    sc
}

fn kinds(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(r: &'a Value, kind: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no finding {kind} in {r:#}"))
}

/// Calls that change the serve config (everything but the reads).
fn is_write(argv: &[Value]) -> bool {
    let a: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
    !matches!(
        a.as_slice(),
        ["status", "--json", "--peers=false"] | ["serve", "status", "--json"] | ["version"]
    )
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

#[tokio::test]
async fn recreate_then_restore_round_trips_and_backs_up_before_the_first_write() {
    let sc = scenario("healthy", "multi");
    let (code, r) = fix_json(&sc, &["recreate", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["outcome"], "done");
    assert_eq!(r["verified"], true);
    // Everything reset removes is listed: three handlers, the TCP forward, Funnel.
    let removes: Vec<&str> = r["plan"]["removes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(removes.len(), 4, "{removes:?}");
    assert!(removes.iter().any(|l| l.contains("/docs/")));
    assert!(removes.iter().any(|l| l.contains(":8443/")));
    assert!(removes.iter().any(|l| l.contains("TCP port 2222")));
    assert!(removes.iter().any(|l| l.contains("Funnel")));
    assert!(
        r["new_health"].is_string() && r["new_cause"].is_string(),
        "{r:#}"
    );
    let now = serve_json(&sc);
    assert_eq!(
        now["Web"][format!("{NAME}:443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18080"
    );
    assert!(now["Web"].get(format!("{NAME}:8443")).is_none());

    // The backup holds the old config and was on disk before the first write call started.
    let backup = r["backup"].as_str().unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(backup).unwrap()).unwrap();
    assert_eq!(saved, fixture_json("serve-multi"));
    let mtime = std::fs::metadata(backup)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let first_write = argv_entries(&sc)
        .into_iter()
        .find(|e| is_write(e["argv"].as_array().unwrap()))
        .unwrap();
    assert_eq!(first_write["argv"], json!(["serve", "reset"]));
    assert!(
        mtime <= first_write["t"].as_f64().unwrap(),
        "backup {mtime} not before first write {}",
        first_write["t"]
    );

    let (code, r) = fix_json(&sc, &["restore", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verified"], true);
    assert_eq!(serve_json(&sc), fixture_json("serve-multi"));
    let last: Vec<Value> = argv_entries(&sc)
        .into_iter()
        .map(|e| e["argv"].clone())
        .filter(|a| is_write(a.as_array().unwrap()))
        .collect();
    assert_eq!(
        last[last.len() - 2..],
        [json!(["serve", "reset"]), json!(["serve", "set-raw"])]
    );
    assert_no_fake_left(&sc).await;
}

#[tokio::test]
async fn without_yes_nothing_changes_and_the_plan_is_printed() {
    let sc = scenario("healthy", "multi");
    let (code, r) = fix_json(&sc, &["recreate"]).await;
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(r["outcome"], "planned");
    let cmds = r["plan"]["commands"].as_array().unwrap();
    assert!(cmds[0].as_str().unwrap().ends_with("serve reset"));
    assert!(
        cmds[1]
            .as_str()
            .unwrap()
            .ends_with("serve --bg --https=443 http://127.0.0.1:18080")
    );
    assert!(r["backup"].is_null());
    sc.assert_read_only();
    assert_eq!(serve_json(&sc), fixture_json("serve-multi"));
    // The text form says how to go on, on stderr.
    let cli = sc.cli();
    let out = crate::support::fake::serve_doctor(
        &sc,
        &["fix", "http-fallback", "--tailscale", cli.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not secure"));
    sc.assert_read_only();
}

#[tokio::test]
async fn keep_others_puts_the_other_handlers_back() {
    let sc = scenario("healthy", "multi");
    let (code, r) = fix_json(
        &sc,
        &["recreate", "--yes", "--keep-others", "--port", "19000"],
    )
    .await;
    assert_eq!(code, 0, "{r:#}");
    let now = serve_json(&sc);
    let web443 = &now["Web"][format!("{NAME}:443")]["Handlers"];
    assert_eq!(web443["/"]["Proxy"], "http://127.0.0.1:19000");
    assert_eq!(web443["/docs/"]["Path"], "/var/www/docs");
    assert_eq!(
        now["Web"][format!("{NAME}:8443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18081"
    );
    assert_eq!(now["TCP"]["2222"]["TCPForward"], "127.0.0.1:22");
    let notes = r["plan"]["notes"].to_string();
    assert!(
        notes.contains("set-raw"),
        "says which way it chose: {notes}"
    );
    assert_no_fake_left(&sc).await;
}

#[tokio::test]
async fn restore_refuses_another_nodes_keys_unless_renamed() {
    let sc = scenario("healthy", "healthy");
    let dir = data_dir(&sc).join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let old = fixture("serve-multi").replace(NAME, "oldbox.tail1234.ts.net");
    let name = "serve-20250101T000000.000Z-oldbox.tail1234.ts.net.json";
    std::fs::write(dir.join(name), &old).unwrap();
    let (code, r) = fix_json(&sc, &["restore", name, "--yes"]).await;
    assert_eq!(code, 2, "{r:#}");
    assert_eq!(r["outcome"], "refused");
    let msg = r["message"].as_str().unwrap();
    assert!(msg.contains("oldbox.tail1234.ts.net") && msg.contains("--rename-to-current"));
    sc.assert_read_only();

    let (code, r) = fix_json(&sc, &["restore", name, "--rename-to-current", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(serve_json(&sc), fixture_json("serve-multi"));
}

#[tokio::test]
async fn funnel_on_refusals_name_the_reason() {
    // No HTTPS certificates: Funnel cannot help.
    let sc = scenario("https-off", "healthy");
    let (code, r) = fix_json(&sc, &["funnel-on", "--yes"]).await;
    assert_eq!(code, 2, "{r:#}");
    assert!(r["message"].as_str().unwrap().contains("cannot help"));
    sc.assert_read_only();

    // No funnel attribute.
    let sc = Scenario::new();
    sc.serve("healthy", 18080);
    let st = fixture("status-healthy")
        .replace("\"funnel\": null,", "")
        .replace("\"funnel\",", "");
    sc.write("status.json", &st);
    let (code, r) = fix_json(&sc, &["funnel-on", "--yes"]).await;
    assert_eq!(code, 2, "{r:#}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("\"funnel\" node attribute")
    );

    // Port 443 not allowed.
    let sc = Scenario::new();
    sc.serve("healthy", 18080);
    sc.write(
        "status.json",
        &fixture("status-healthy").replace("ports=443,8443,10000", "ports=8443"),
    );
    let (code, r) = fix_json(&sc, &["funnel-on", "--yes"]).await;
    assert_eq!(code, 2, "{r:#}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("allowed ports are: 8443")
    );

    // Certificates failing (issuance pending): Funnel uses the same certificate.
    let sc = scenario("cert-pending", "healthy");
    let (code, r) = fix_json(&sc, &["funnel-on", "--yes"]).await;
    assert_eq!(code, 2, "{r:#}");
    assert!(
        r["message"].as_str().unwrap().contains("cannot help"),
        "{r:#}"
    );
    sc.assert_read_only();
    assert_no_fake_left(&sc).await;
}

#[tokio::test]
async fn funnel_on_names_the_public_url_and_funnel_off_keeps_serving() {
    let sc = scenario("healthy", "healthy");
    let (code, r) = fix_json(&sc, &["funnel-on"]).await;
    assert_eq!(code, 3);
    assert_eq!(r["url"], format!("https://{NAME}/"));
    assert!(r["plan"]["notes"].to_string().contains("PUBLIC"));
    let (code, r) = fix_json(&sc, &["funnel-on", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(serve_json(&sc)["AllowFunnel"][format!("{NAME}:443")], true);
    let (code, r) = fix_json(&sc, &["funnel-off", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    let now = serve_json(&sc);
    assert!(
        now.get("AllowFunnel")
            .is_none_or(|a| a.get(format!("{NAME}:443")).is_none())
    );
    assert_eq!(
        now["Web"][format!("{NAME}:443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18080"
    );
    assert!(
        r["steps"][0]["command"]
            .as_str()
            .unwrap()
            .contains("serve --bg --https=443")
    );
}

#[tokio::test]
async fn shields_up_is_reported_with_its_fix() {
    let sc = scenario("healthy", "healthy");
    sc.behavior(json!({"shields_up": true}));
    let (code, r) = fix_json(&sc, &["funnel-on", "--yes"]).await;
    assert_eq!(code, 1, "{r:#}");
    let f = finding(&r, "shields_up");
    assert!(f["hint"].as_str().unwrap().contains("--shields-up=false"));
    assert_eq!(r["verified"], false);
    assert_eq!(serve_json(&sc), fixture_json("serve-healthy"));
}

#[tokio::test]
async fn access_denied_suggests_the_operator_and_changes_nothing() {
    let sc = scenario("healthy", "multi");
    sc.behavior(json!({"access_denied": true}));
    let (code, r) = fix_json(&sc, &["recreate", "--yes"]).await;
    assert_eq!(code, 1, "{r:#}");
    let f = finding(&r, "access_denied");
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .contains("sudo tailscale set --operator=$USER")
    );
    assert!(r["message"].as_str().unwrap().contains("operator"));
    assert_eq!(r["rolled_back"], false);
    assert!(
        r["steps"][0]["stderr"]
            .as_str()
            .unwrap()
            .contains("serve config denied")
    );
    assert_eq!(serve_json(&sc), fixture_json("serve-multi"));
}

#[tokio::test]
async fn consent_that_exits_zero_is_caught_by_reading_back_and_the_backup_returns() {
    let sc = scenario("https-off", "multi");
    sc.behavior(json!({"consent": "print_exit0"}));
    let (code, r) = fix_json(&sc, &["recreate", "--yes"]).await;
    assert_eq!(code, 1, "{r:#}");
    assert!(
        r["consent_url"]
            .as_str()
            .unwrap()
            .starts_with("https://login.tailscale.com/f/serve?")
    );
    assert_eq!(r["verified"], false);
    assert!(kinds(&r).contains(&"not_enabled".to_string()));
    // The serve step exited 0 but did nothing: the reset was undone from the backup.
    assert_eq!(r["rolled_back"], true, "{r:#}");
    assert_eq!(serve_json(&sc), fixture_json("serve-multi"));
    assert_no_fake_left(&sc).await;
}

#[tokio::test]
async fn consent_that_blocks_is_killed_at_the_timeout_and_reported() {
    let sc = scenario("https-off", "healthy");
    sc.behavior(json!({"consent": "block"}));
    let t = Instant::now();
    let (code, r) = fix_json(&sc, &["recreate", "--yes", "--timeout", "1"]).await;
    assert_eq!(code, 1, "{r:#}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let serve_step = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["command"].as_str().unwrap().contains("--bg"))
        .unwrap();
    assert_eq!(serve_step["timed_out"], true);
    assert!(kinds(&r).contains(&"timed_out".to_string()));
    assert!(
        r["consent_url"]
            .as_str()
            .unwrap()
            .starts_with("https://login.tailscale.com/f/serve?")
    );
    assert_eq!(serve_json(&sc), fixture_json("serve-healthy"));
    assert_no_fake_left(&sc).await;
}

#[tokio::test]
async fn a_config_race_is_retried_once() {
    let sc = scenario("healthy", "healthy");
    sc.behavior(json!({"etag_race_once": true}));
    let (code, r) = fix_json(&sc, &["recreate", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert!(kinds(&r).contains(&"config_race".to_string()));
    let bg = argv_entries(&sc)
        .iter()
        .filter(|e| e["argv"].as_array().unwrap().iter().any(|a| a == "--bg"))
        .count();
    assert_eq!(bg, 2);
    assert_eq!(r["verified"], true);
}

#[tokio::test]
async fn http_fallback_serves_plain_http_and_says_what_it_means() {
    let sc = scenario("https-off", "healthy");
    let (code, r) = fix_json(&sc, &["http-fallback", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    let now = serve_json(&sc);
    assert_eq!(now["TCP"]["80"]["HTTP"], true);
    assert_eq!(
        now["Web"][format!("{NAME}:80")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18080"
    );
    assert_eq!(r["url"], format!("http://{NAME}/"));
    assert!(
        r["plan"]["undo"][0]
            .as_str()
            .unwrap()
            .ends_with("serve --http=80 off")
    );
}

#[tokio::test]
async fn backups_are_listed_and_pruned_to_fifty() {
    let sc = scenario("healthy", "multi");
    let dir = data_dir(&sc).join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..55 {
        std::fs::write(
            dir.join(format!("serve-20200101T0000{i:02}.000Z-{NAME}.json")),
            "{}",
        )
        .unwrap();
    }
    let (code, r) = fix_json(&sc, &["recreate", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, 50);
    assert!(
        !dir.join(format!("serve-20200101T000000.000Z-{NAME}.json"))
            .exists()
    );
    let (code, l) = fix_json(&sc, &["backups"]).await;
    assert_eq!(code, 0);
    let list = l["backups"].as_array().unwrap();
    assert_eq!(list.len(), 50);
    assert_eq!(list[0]["path"], r["backup"]);
    assert_eq!(list[0]["node"], NAME);
    assert!(list[0]["holds"].as_str().unwrap().contains("3 handlers"));
}

#[tokio::test]
async fn hostile_tunnel_values_are_quoted_exactly_or_refused() {
    let sc = scenario("healthy", "healthy");
    let stub = sc.path().join("stub");
    std::fs::create_dir_all(&stub).unwrap();
    let ssh = stub.join("ssh");
    std::fs::write(
        &ssh,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = "a$(touch x)`touch y`";
    let host = "h'o st\"$HOME";
    let (code, r) = fix_json(
        &sc,
        &[
            "tunnel-command",
            "--user",
            user,
            "--host",
            host,
            "--local-port",
            "8080",
            "--port",
            "18080",
        ],
    )
    .await;
    assert_eq!(code, 0, "{r:#}");
    let cmd = r["command"].as_str().unwrap();
    let work = sc.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env_clear()
        .env("PATH", &stub)
        .env("HOME", "/nonexistent")
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let words: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    assert_eq!(
        words,
        [
            "-N",
            "-L",
            "8080:127.0.0.1:18080",
            &format!("{user}@{host}")
        ]
    );
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "the shell ran a substitution"
    );

    for (u, h) in [
        ("-oProxyCommand=touch x", "h"),
        ("u", "h\nrm -rf ~"),
        ("u", "-h"),
    ] {
        // `--user=…` so that clap hands a leading '-' over as the value.
        let (user, host) = (format!("--user={u}"), format!("--host={h}"));
        let (code, r) = fix_json(&sc, &["tunnel-command", &user, &host]).await;
        assert_eq!(code, 2, "{u:?} {h:?}: {r:#}");
        assert!(r["command"].is_null());
    }
    // Defaults: the node's name and the serve config's backend port.
    let (code, r) = fix_json(&sc, &["tunnel-command"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        r["command"],
        format!("ssh -N -L 18080:127.0.0.1:18080 alice@{NAME}")
    );
}

#[tokio::test]
async fn open_admin_prints_when_asked_and_refuses_foreign_urls() {
    let sc = scenario("healthy", "healthy");
    let (code, r) = fix_json(&sc, &["open-admin", "--print"]).await;
    assert_eq!(code, 0);
    assert_eq!(r["url"], "https://login.tailscale.com/admin/dns");
    let (code, r) = fix_json(&sc, &["open-admin", "https://evil.example/", "--print"]).await;
    assert_eq!(code, 2, "{r:#}");
}

#[tokio::test]
async fn two_fixes_at_once_the_second_is_busy() {
    let sc = scenario("https-off", "healthy");
    sc.behavior(json!({"consent": "block"}));
    let sc2 = &sc;
    let first = async move { fix_json(sc2, &["recreate", "--yes", "--timeout", "4"]).await };
    let second = async {
        // Wait until the first is inside its blocking `serve --bg`, holding the lock.
        for _ in 0..200 {
            if argv_entries(&sc)
                .iter()
                .any(|e| e["argv"].as_array().unwrap().iter().any(|a| a == "--bg"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        fix_json(&sc, &["http-fallback", "--yes"]).await
    };
    let ((c1, r1), (c2, r2)) = tokio::join!(first, second);
    assert_eq!(c2, 4, "{r2:#}");
    assert_eq!(r2["outcome"], "busy");
    assert!(
        r2["message"]
            .as_str()
            .unwrap()
            .contains("another fix is running")
    );
    assert_eq!(c1, 1, "{r1:#}");
    assert_eq!(serve_json(&sc), fixture_json("serve-healthy"));
    assert_no_fake_left(&sc).await;
}

/// Over the LocalAPI, recreate swaps only our handler: one `POST serve-config` carrying the ETag
/// it read, every other handler, port, TCP forward and Funnel entry kept, a backup first.
#[tokio::test(flavor = "multi_thread")]
async fn recreate_over_the_localapi_replaces_only_our_handler_under_an_etag() {
    use crate::support::fake::{fixture, serve_doctor};
    use crate::support::localapi::FakeDaemon;
    let daemon = FakeDaemon::start().await;
    daemon.set_status(fixture("status-healthy").as_bytes());
    daemon.set_serve_config(fixture("serve-multi").as_bytes());
    let etag_before = daemon.etag();
    let before: Value = serde_json::from_slice(&daemon.serve_config()).unwrap();
    let sc = Scenario::new();
    let closed = crate::support::tls::closed_port().await.to_string();
    let sock = daemon.socket().to_str().unwrap().to_string();
    let out = serve_doctor(
        &sc,
        &[
            "fix",
            "recreate",
            "--yes",
            "--json",
            "--socket",
            &sock,
            "--port",
            "3000",
            "--connect",
            &closed,
        ],
    )
    .await;
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["outcome"], "done", "{v:#}");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        v["route"].as_str().unwrap().starts_with("localapi"),
        "{}",
        v["route"]
    );
    let after: Value = serde_json::from_slice(&daemon.serve_config()).unwrap();
    let ours = "box.tail1234.ts.net:443";
    assert_eq!(
        after["Web"][ours]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:3000"
    );
    // Everything else is as it was.
    let mut expect = before.clone();
    expect["Web"][ours]["Handlers"]["/"]["Proxy"] = json!("http://127.0.0.1:3000");
    assert_eq!(after, expect);
    let posts: Vec<_> = daemon
        .seen()
        .into_iter()
        .filter(|s| s.method == hyper::Method::POST && s.uri.contains("serve-config"))
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].if_match.as_deref(), Some(etag_before.as_str()));
    let backup = v["backup"].as_str().unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(backup).unwrap()).unwrap();
    assert_eq!(saved, before);
    assert!(daemon.violations().is_empty());
    assert!(sc.argv_log().is_empty(), "no CLI on the LocalAPI route");
}

/// A node that never had a serve config (`null`): recreate, then restore, gives the empty
/// config back — `serve reset` only, verified against the empty config read back.
#[tokio::test]
async fn restore_after_recreate_on_a_node_without_config_gives_the_empty_config_back() {
    for empty in ["null", "empty"] {
        let sc = scenario("healthy", empty);
        let (code, r) = fix_json(&sc, &["recreate", "--yes"]).await;
        assert_eq!(code, 0, "{empty}: {r:#}");
        assert!(serve_json(&sc)["Web"].is_object());
        let backup = std::fs::read_to_string(r["backup"].as_str().unwrap()).unwrap();
        assert!(
            matches!(backup.trim(), "null" | "{}" | ""),
            "{empty}: {backup}"
        );
        let (code, r) = fix_json(&sc, &["restore", "--yes"]).await;
        assert_eq!(code, 0, "{empty}: {r:#}");
        assert_eq!(r["outcome"], "done");
        assert_eq!(r["verified"], true);
        assert_eq!(r["plan"]["commands"].as_array().unwrap().len(), 1, "{r:#}");
        let now = serve_json(&sc);
        assert!(now.is_null() || now == json!({}), "{empty}: {now}");
        let writes: Vec<Value> = argv_entries(&sc)
            .into_iter()
            .map(|e| e["argv"].clone())
            .filter(|a| is_write(a.as_array().unwrap()))
            .collect();
        assert_eq!(writes.last(), Some(&json!(["serve", "reset"])));
        assert_no_fake_left(&sc).await;
    }
}

/// Funnel on a TCP forward is turned off by serving the forward again (`serve --bg --tcp`),
/// which keeps it; the report names it and the config read back has no public entry left.
#[tokio::test]
async fn funnel_off_makes_public_tcp_forwards_private_and_keeps_them() {
    let sc = Scenario::new();
    sc.status("healthy").write(
        "serve.json",
        &json!({
            "TCP": {"443": {"HTTPS": true}, "10000": {"TCPForward": "127.0.0.1:22"}},
            "Web": {format!("{NAME}:443"): {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}},
            "AllowFunnel": {format!("{NAME}:443"): true, format!("{NAME}:10000"): true}
        })
        .to_string(),
    );
    let (code, r) = fix_json(&sc, &["funnel-off", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verified"], true);
    let removes = r["plan"]["removes"].to_string();
    assert!(
        removes.contains("TCP port 10000 → 127.0.0.1:22"),
        "{removes}"
    );
    let commands = r["plan"]["commands"].to_string();
    assert!(
        commands.contains("serve --bg --tcp=10000 127.0.0.1:22"),
        "{commands}"
    );
    let now = serve_json(&sc);
    assert!(
        now.get("AllowFunnel")
            .is_none_or(|a| a.as_object().is_none_or(|m| m.is_empty())),
        "{now}"
    );
    assert_eq!(now["TCP"]["10000"]["TCPForward"], "127.0.0.1:22");
    assert_eq!(
        now["Web"][format!("{NAME}:443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18080"
    );
}

/// A TCP forward on 443: `recreate --keep-others` does not plan `serve --bg --https=443`
/// (tailscaled and the CLI refuse it); it serves on 8443 and keeps the forward.
#[tokio::test]
async fn recreate_never_plans_https_on_a_tcp_forward_port() {
    let sc = Scenario::new();
    sc.status("healthy").write(
        "serve.json",
        &json!({"TCP": {"443": {"TCPForward": "127.0.0.1:22"}}}).to_string(),
    );
    let (code, r) = fix_json(&sc, &["recreate", "--keep-others", "--yes"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["url"], format!("https://{NAME}:8443/"));
    assert!(
        r["plan"]["notes"].to_string().contains("forwards TCP"),
        "{r:#}"
    );
    let now = serve_json(&sc);
    assert_eq!(now["TCP"]["443"]["TCPForward"], "127.0.0.1:22");
    assert_eq!(
        now["Web"][format!("{NAME}:8443")]["Handlers"]["/"]["Proxy"],
        "http://127.0.0.1:18080"
    );
    let (code, r) = fix_json(&sc, &["recreate", "--https-port", "443", "--keep-others"]).await;
    assert_eq!(code, 2, "{r:#}");
    assert!(
        r["message"].as_str().unwrap().contains("--tcp=443 off"),
        "{r:#}"
    );
}

/// The tunnel aims where serve aims: a LAN backend stays a LAN backend.
#[tokio::test]
async fn tunnel_command_aims_at_the_lan_target_serve_uses() {
    let sc = Scenario::new();
    sc.status("healthy").write(
        "serve.json",
        &json!({"TCP": {"443": {"HTTPS": true}},
            "Web": {format!("{NAME}:443"): {"Handlers": {"/": {"Proxy": "http://192.168.1.20:8080"}}}}})
        .to_string(),
    );
    let (code, r) = fix_json(&sc, &["tunnel-command", "--user", "alice"]).await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        r["command"],
        format!("ssh -N -L 8080:192.168.1.20:8080 alice@{NAME}")
    );
    assert_eq!(r["url"], "http://localhost:8080/");
}
