//! `serve-doctor exporter`, the real binary on 127.0.0.1:0, scraped over real HTTP: a scrape
//! storm is one diagnosis per cache window, names that are not configured are refused before
//! anything dials, a slow target holds only its own scrapes, and the pages carry nothing but
//! the metrics they document.

use std::collections::BTreeSet;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::support::fake::Scenario;
use crate::support::node::{HealthyNode as Node, healthy_node};

fn write_config(sc: &Scenario, config: serde_json::Value) {
    let dir = sc.path().join("home/.config/serve-doctor");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

/// The running exporter and the address it printed.
struct Running {
    child: Child,
    addr: String,
}

async fn exporter(node: &Node, extra: &[&str]) -> Running {
    exporter_env(node, extra, &[]).await
}

async fn exporter_env(node: &Node, extra: &[&str], env: &[(&str, String)]) -> Running {
    let home = node.sc.path().join("home");
    let mut child = Command::new(env!("CARGO_BIN_EXE_serve-doctor"))
        .arg("exporter")
        .args(["--listen", "127.0.0.1:0"])
        .args(&node.args)
        .args(extra)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = within("the exporter to listen", async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the exporter exited before it listened");
            if let Some(rest) = line.strip_prefix("serve-doctor exporter: listening on http://") {
                break rest.split('/').next().unwrap().to_string();
            }
        }
    })
    .await;
    // Keep draining stderr so the exporter never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running { child, addr }
}

/// One GET over a fresh connection: (status, body); bounded, so no test can hang on it.
async fn get(addr: &str, path: &str) -> (u16, String) {
    within(&format!("GET {path}"), get_unbounded(addr, path)).await
}

async fn get_unbounded(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// How many diagnoses the fake CLI has seen (each reads `status --json` once).
fn status_reads(sc: &Scenario) -> usize {
    sc.argv_log()
        .iter()
        .filter(|a| a.first().map(String::as_str) == Some("status"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_scrapes_are_one_diagnosis() {
    let node = healthy_node().await;
    let ex = exporter(&node, &["--cache", "60"]).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let addr = ex.addr.clone();
        set.spawn(async move { get(&addr, "/probe?target=local").await });
    }
    while let Some(r) = set.join_next().await {
        let (status, body) = r.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("serve_doctor_cause{target=\"local\",cause=\"healthy\"} 1"),
            "{body}"
        );
    }
    assert_eq!(status_reads(&node.sc), 1, "{:?}", node.sc.argv_log());
    let (_, metrics) = get(&ex.addr, "/metrics").await;
    assert!(
        metrics.contains("serve_doctor_exporter_diagnoses_total{target=\"local\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("serve_doctor_exporter_cache_hits_total{target=\"local\"} 199"),
        "{metrics}"
    );
    // /metrics shows the last result without starting another diagnosis.
    assert!(metrics.contains("serve_doctor_health{target=\"local\"} 0"));
    assert_eq!(status_reads(&node.sc), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_cache_each_scrape_diagnoses_anew() {
    let node = healthy_node().await;
    let ex = exporter(&node, &["--cache", "0"]).await;
    for n in 1..=2 {
        let (status, _) = get(&ex.addr, "/probe?target=local").await;
        assert_eq!(status, 200);
        assert_eq!(status_reads(&node.sc), n);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_is_not_configured_is_refused_and_nothing_is_dialed() {
    let node = healthy_node().await;
    let bait = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bait_url = format!("https://{}/", bait.local_addr().unwrap());
    let ex = exporter(&node, &[]).await;
    let encoded: String = form_urlencoded::byte_serialize(bait_url.as_bytes()).collect();
    for path in [
        format!("/probe?target={encoded}"),
        "/probe?target=laptop".to_string(),
        "/probe".to_string(),
        format!("/probe?module={encoded}"),
    ] {
        let (status, body) = get(&ex.addr, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body.contains("local"),
            "names the configured targets: {body}"
        );
    }
    // A dial would have happened before the answer; none is waiting to be accepted.
    let waiting = tokio::time::timeout(std::time::Duration::ZERO, bait.accept()).await;
    assert!(waiting.is_err(), "the exporter dialed a name from a query");
    assert_eq!(status_reads(&node.sc), 0, "nothing diagnosed");
    let (_, metrics) = get(&ex.addr, "/metrics").await;
    assert!(
        metrics.contains("serve_doctor_exporter_refused_probes_total 4"),
        "{metrics}"
    );
    assert_eq!(get(&ex.addr, "/nowhere").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_target_holds_only_its_own_scrapes() {
    let node = healthy_node().await;
    // The remote node's ssh connects (so the test knows its diagnosis is under way) and then
    // never answers: the run waits for --timeout.
    let held = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bin = node.sc.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ssh = bin.join("ssh");
    std::fs::write(
        &ssh,
        format!(
            "#!/bin/bash\necho $$ > {}\nexec 3<>/dev/tcp/127.0.0.1/{}\nexec sleep 600\n",
            node.sc.path().join("ssh.pid").display(),
            held.local_addr().unwrap().port()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    write_config(
        &node.sc,
        serde_json::json!({"targets": [{"name": "slow", "ssh": "alice@far"}]}),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut ex = exporter_env(&node, &["--timeout", "60"], &[("PATH", path)]).await;
    let addr = ex.addr.clone();
    let slow = tokio::spawn(async move { get(&addr, "/probe?target=slow").await });
    let (_conn, _) = within("the slow target's ssh to start", held.accept())
        .await
        .unwrap();
    let (status, body) = get(&ex.addr, "/probe?target=local").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("serve_doctor_health{target=\"local\"} 0"),
        "{body}"
    );
    let (status, metrics) = get(&ex.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("serve_doctor_exporter_diagnoses_total{target=\"slow\"} 1")
            && !metrics.contains("serve_doctor_health{target=\"slow\"}"),
        "slow started and has no result yet:\n{metrics}"
    );
    assert!(!slow.is_finished(), "the slow target is still being probed");
    // Stopped mid-probe, it leaves no ssh behind.
    let ssh_pid: i32 = std::fs::read_to_string(node.sc.path().join("ssh.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    terminate(&mut ex).await;
    // The kill is sent before the exporter exits; its delivery to a process that is not ours
    // can be seen only from outside (it is not our child), so look until it is gone.
    within("the exporter's ssh to be gone", async {
        while crate::support::fake::alive(ssh_pid) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    slow.abort();
}

/// SIGTERM, as a service manager stops it; the exit status.
async fn terminate(ex: &mut Running) -> Option<i32> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ex.child.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    within("the exporter to exit", ex.child.wait())
        .await
        .unwrap()
        .code()
}

/// `fut`, or a panic naming `what` if it takes longer than any healthy run could.
async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within 30 s"))
}

/// Every sample line of a page: (metric name, label names and values).
fn samples(page: &str) -> Vec<(String, Vec<(String, String)>)> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, _value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
            let labels = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_hold_only_the_documented_metrics_and_labels_and_exit_cleanly() {
    let node = healthy_node().await;
    let mut ex = exporter(&node, &[]).await;
    let (_, probe) = get(&ex.addr, "/probe?target=local").await;
    let (_, metrics) = get(&ex.addr, "/metrics").await;
    let allowed: BTreeSet<&str> = [
        "probe_success",
        "probe_duration_seconds",
        "probe_ssl_earliest_cert_expiry",
        "probe_http_status_code",
        "serve_doctor_health",
        "serve_doctor_cause",
        "serve_doctor_check",
        "serve_doctor_last_probe_timestamp_seconds",
        "serve_doctor_exporter_diagnoses_total",
        "serve_doctor_exporter_cache_hits_total",
        "serve_doctor_exporter_refused_probes_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ]
    .into();
    let label_names: BTreeSet<&str> = ["target", "cause", "check", "status", "phase"].into();
    for page in [&probe, &metrics] {
        assert!(page.ends_with("# EOF\n"), "{page}");
        for (name, labels) in samples(page) {
            assert!(allowed.contains(name.as_str()), "undocumented {name}");
            for (k, v) in labels {
                assert!(label_names.contains(k.as_str()), "label {k} on {name}");
                assert!(
                    !v.contains('/') && !v.contains(':'),
                    "a label value that looks like a path or address: {name} {k}={v}"
                );
            }
        }
    }
    for p in ["process_cpu_seconds_total", "process_resident_memory_bytes"] {
        assert!(metrics.contains(p), "{p} missing from\n{metrics}");
    }
    assert_eq!(terminate(&mut ex).await, Some(0), "SIGTERM ends it cleanly");
}
