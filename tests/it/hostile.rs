//! Hostile and broken input end to end: a config file with bad values or of the wrong file type,
//! names that need shell quoting, and daemon error texts inside successful replies.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::fake::{Scenario, serve_doctor};
use crate::support::tls::closed_port;

/// `diagnose --json` against the scenario's fake CLI, bounded: a run that blocks (on a FIFO, say)
/// fails the test instead of hanging it. → (exit code, JSON, stderr).
async fn diagnose(sc: &Scenario, extra: &[&str]) -> (i32, Value, String) {
    diagnose_with(sc, &sc.cli(), extra).await
}

/// [`diagnose`] with the CLI at `cli`.
async fn diagnose_with(sc: &Scenario, cli: &Path, extra: &[&str]) -> (i32, Value, String) {
    let closed = closed_port().await.to_string();
    let mut args = vec![
        "diagnose",
        "--json",
        "--tailscale",
        cli.to_str().unwrap(),
        "--connect",
        &closed,
    ];
    args.extend_from_slice(extra);
    let out = tokio::time::timeout(Duration::from_secs(30), serve_doctor(sc, &args))
        .await
        .expect("serve-doctor did not finish within 30 s");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stderr={stderr}"));
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn config_path(sc: &Scenario) -> std::path::PathBuf {
    let dir = sc.path().join("home/.config/serve-doctor");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("config.json")
}

#[tokio::test]
async fn a_bad_config_value_is_one_warning_and_the_good_values_still_apply() {
    let sc = Scenario::new();
    sc.status("healthy").serve("healthy", 18080);
    let p = config_path(&sc);
    let text = r#"{"backend_port": 0, "timeout_secs": "2", "tunnel_local_port": 4321}"#;
    std::fs::write(&p, text).unwrap();
    let (_, v, stderr) = diagnose(&sc, &[]).await;
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("serve-doctor: warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    let file = p.display().to_string();
    assert!(
        warnings[0].contains(&file) && warnings[0].contains("backend_port = 0"),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("timeout_secs = \"2\"") && warnings[1].contains("(5)"),
        "{stderr}"
    );
    // Port 0 was not used: the port comes from the serve config, as with no config port.
    assert_eq!(v["backend_port_source"], "serve_config");
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        text,
        "never rewritten"
    );
}

#[tokio::test]
async fn a_fifo_or_a_directory_as_the_config_is_refused_without_blocking() {
    let sc = Scenario::new();
    sc.status("healthy").serve("healthy", 18080);
    let p = config_path(&sc);
    let made = std::process::Command::new("mkfifo").arg(&p).status();
    assert!(made.unwrap().success());
    let (_, v, stderr) = diagnose(&sc, &[]).await;
    assert!(
        stderr.contains("is a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
    assert!(v["cause"].is_string(), "{v}");
    std::fs::remove_file(&p).unwrap();
    std::fs::create_dir(&p).unwrap();
    let (_, _, stderr) = diagnose(&sc, &[]).await;
    assert!(
        stderr.contains("is a directory, not a regular file"),
        "{stderr}"
    );
}

/// A node name and a CLI path that a shell would split, expand or run, and an SSH user likewise.
const NAME: &str = "my box $(id) `id` 'q' \"d\" ü;x.tail1234.ts.net";
const DIR: &str = "My Tools/ü $(id) `id` it's \"q\"";

#[tokio::test]
async fn printed_commands_name_a_hostile_cli_node_and_user_as_one_word_each() {
    let sc = Scenario::new();
    // The fake keeps its state beside the path it was started by: a scenario inside DIR.
    let dir = sc.path().join(DIR);
    std::fs::create_dir_all(&dir).unwrap();
    let cli = dir.join("tailscale");
    std::os::unix::fs::symlink(sc.cli(), &cli).unwrap();
    // NAME holds quotes: it goes into the JSON escaped.
    let escaped = Value::from(NAME).to_string();
    let status = crate::support::fake::fixture("status-https-off")
        .replace("box.tail1234.ts.net", escaped.trim_matches('"'));
    std::fs::write(dir.join("status.json"), status).unwrap();
    std::fs::write(
        config_path(&sc),
        serde_json::json!({"ssh_user": "al ice$(id)", "tunnel_local_port": 9000}).to_string(),
    )
    .unwrap();
    let cli_s = cli.to_str().unwrap();
    let (_, v, _) = diagnose_with(&sc, &cli, &[]).await;
    assert_eq!(v["cause"], "https_disabled", "{v}");
    assert_eq!(v["node"]["dns_name"], NAME);
    let command = |id: &str| {
        let c = v["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .and_then(|f| f["command"].as_str())
            .unwrap_or_else(|| panic!("no {id} command in {v}"));
        shlex::split(c).unwrap_or_else(|| panic!("{c}"))
    };
    let target = format!("al ice$(id)@{NAME}");
    assert_eq!(
        command("ssh_tunnel"),
        ["ssh", "-N", "-L", "9000:127.0.0.1:18080", target.as_str()]
    );
    // Logged out: the command names the CLI.
    let status = std::fs::read_to_string(dir.join("status.json"))
        .unwrap()
        .replace("\"Running\"", "\"NeedsLogin\"");
    std::fs::write(dir.join("status.json"), status).unwrap();
    let (_, v, _) = diagnose_with(&sc, &cli, &[]).await;
    assert_eq!(v["cause"], "needs_login", "{v}");
    let login = v["fixes"][0]["command"].as_str().unwrap();
    assert_eq!(shlex::split(login).unwrap(), [cli_s, "up"], "{login}");
}

/// The texts the CLI route reads as "the daemon is down" or "the GUI is unreachable".
const DAEMON_DOWN: &str = "failed to connect to local tailscaled; it doesn't appear to be running";
const GUI_DOWN: &str = "The Tailscale GUI failed to start";

#[tokio::test]
async fn daemon_error_texts_inside_a_successful_status_change_nothing() {
    let sc = Scenario::new();
    let mut status: Value =
        serde_json::from_str(&crate::support::fake::fixture("status-healthy")).unwrap();
    status["Self"]["HostName"] = DAEMON_DOWN.into();
    status["Health"] = serde_json::json!([DAEMON_DOWN, GUI_DOWN]);
    sc.write("status.json", &status.to_string())
        .serve("healthy", 18080);
    let (_, v, _) = diagnose(&sc, &[]).await;
    for bad in ["daemon_unreachable", "status_unparseable"] {
        assert_ne!(v["cause"], bad, "{v:#}");
    }
    let check = |id: &str| crate::support::fake::check(&v, id).clone();
    assert_eq!(check("daemon")["status"], "pass", "{v:#}");
    assert_eq!(check("logged_in")["status"], "pass", "{v:#}");
    assert_eq!(v["node"]["dns_name"], "box.tail1234.ts.net");
    // The health messages are shown as health messages, nothing more.
    let health = check("health_warnings");
    assert!(
        health["detail"]
            .as_str()
            .unwrap()
            .contains("failed to connect"),
        "{health}"
    );
}

#[tokio::test]
async fn daemon_error_texts_inside_a_successful_serve_config_change_nothing() {
    let sc = Scenario::new();
    let serve = serde_json::json!({
        "TCP": {"443": {"HTTPS": true}},
        "Web": {"box.tail1234.ts.net:443": {"Handlers": {
            "/": {"Proxy": "http://127.0.0.1:18080"},
            "/down": {"Text": format!("{DAEMON_DOWN}\n{GUI_DOWN}")},
        }}},
    });
    sc.status("healthy").write("serve.json", &serve.to_string());
    let (_, v, _) = diagnose(&sc, &[]).await;
    for bad in [
        "daemon_unreachable",
        "status_unparseable",
        "serve_not_configured",
    ] {
        assert_ne!(v["cause"], bad, "{v:#}");
    }
    let serve_check = crate::support::fake::check(&v, "serve_config");
    assert_eq!(serve_check["status"], "pass", "{v:#}");
    // The "/" mount's target was read from the config, not a default.
    assert_eq!(v["backend_port_source"], "serve_config", "{v:#}");
}
