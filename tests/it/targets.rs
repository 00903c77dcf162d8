//! `serve-doctor targets` and `diagnose --all` / `--target`: the real binary, its config file.

use serde_json::Value;

use crate::support::fake::{Scenario, serve_doctor};

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_are_added_listed_and_removed_in_the_config_file() {
    let sc = Scenario::new();
    let o = serve_doctor(
        &sc,
        &["targets", "add", "site", "--url", "https://box.t.ts.net/"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    for bad in [
        vec!["targets", "add", "site", "--url", "https://other/"],
        vec!["targets", "add", "bad name", "--url", "https://x/"],
        vec!["targets", "add", "x", "--url", "ftp://x/"],
        vec!["targets", "remove", "local"],
        vec!["targets", "remove", "nope"],
    ] {
        let o = serve_doctor(&sc, &bad).await;
        assert_eq!(o.status.code(), Some(64), "{bad:?}: {}", out(&o));
    }
    let o = serve_doctor(&sc, &["targets", "list", "--json"]).await;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["name"], "local");
    assert_eq!(v[1]["name"], "site");
    assert_eq!(v[1]["kind"], "url");
    let o = serve_doctor(&sc, &["targets", "remove", "site"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = serve_doctor(&sc, &["targets", "list", "--json"]).await;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnose_all_reports_one_entry_per_target_with_the_worst_exit() {
    let node = crate::support::node::healthy_node().await;
    let sc = &node.sc;
    let common = node.args();
    let mut args = vec!["diagnose", "--all", "--json"];
    args.extend_from_slice(&common);
    let o = serve_doctor(sc, &args).await;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    crate::support::schema::check(&v);
    assert_eq!(v["health"], "green");
    assert_eq!(v["targets"][0]["name"], "local");
    assert_eq!(v["targets"][0]["diagnosis"]["cause"], "healthy");

    let mut args = vec!["diagnose", "--target", "nope"];
    args.extend_from_slice(&common);
    let o = serve_doctor(sc, &args).await;
    assert_eq!(o.status.code(), Some(64), "{}", out(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn url_targets_of_one_run_share_one_read_of_this_devices_peers() {
    let sc = Scenario::new();
    sc.status("healthy");
    let dir = sc.path().join("home/.config/serve-doctor");
    std::fs::create_dir_all(&dir).unwrap();
    // Three views of other nodes (their addresses closed here: each is a quick failure).
    let closed = crate::support::tls::closed_port().await;
    let targets: Vec<Value> = (1..=3)
        .map(|i| serde_json::json!({"name": format!("site{i}"), "url": format!("https://{closed}/")}))
        .collect();
    std::fs::write(
        dir.join("config.json"),
        serde_json::json!({ "targets": targets }).to_string(),
    )
    .unwrap();
    let cli = sc.cli();
    let o = serve_doctor(
        &sc,
        &[
            "diagnose",
            "--all",
            "--json",
            "--tailscale",
            cli.to_str().unwrap(),
            "--timeout",
            "5",
        ],
    )
    .await;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert_eq!(v["targets"].as_array().unwrap().len(), 4, "{v:#}");
    let with_peers = sc
        .argv_log()
        .into_iter()
        .filter(|a| a.first().map(String::as_str) == Some("status"))
        .filter(|a| !a.iter().any(|x| x == "--peers=false"))
        .count();
    assert_eq!(with_peers, 1, "{:?}", sc.argv_log());
}
