//! Wall-time benchmark of `serve-doctor diagnose` against the test fakes (not a timed test: it
//! prints numbers, it asserts nothing). Run with `cargo bench --bench diagnose` (release build).
//!
//! Scenarios:
//! - seed: HTTPS off, a TLS peer that stalls forever, `tailscale cert` that hangs, run with
//!   `--timeout 60 --deep`. Target: ≤ 0.3 s, because the status alone decides.
//! - healthy: valid certificate, live backend. Target: ≤ 1.5 × the slowest single step.
//!
//! - healthy over the LocalAPI (the fake daemon on a unix socket) vs over the CLI, side by side.
//!
//! Each scenario runs `BENCH_RUNS` times (default 15) and reports min / median / max, and for
//! healthy the slowest single step (from the JSON `ms` of each check) and the ratio.

#[allow(dead_code)]
#[path = "../tests/it/support/tls.rs"]
mod tls;

#[allow(dead_code)]
#[path = "../tests/it/support/localapi.rs"]
mod localapi;

use std::path::Path;
use std::time::Instant;

fn scenario(dir: &Path, status: &str, serve_port: u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(
        root.join("tests/fake-tailscale/tailscale"),
        dir.join("tailscale"),
    )
    .unwrap();
    let fixture = |n: &str| std::fs::read_to_string(root.join("tests/fixtures").join(n)).unwrap();
    std::fs::write(
        dir.join("status.json"),
        fixture(&format!("status-{status}.json")),
    )
    .unwrap();
    let serve = fixture("serve-healthy.json").replace("18080", &serve_port.to_string());
    std::fs::write(dir.join("serve.json"), serve).unwrap();
}

struct Run {
    wall_ms: f64,
    json: serde_json::Value,
}

async fn run(dir: &Path, args: &[&str]) -> Run {
    let cli = dir.join("tailscale");
    let mut all = vec!["--tailscale", cli.to_str().unwrap()];
    all.extend_from_slice(args);
    run_raw(dir, &all).await
}

async fn run_raw(dir: &Path, args: &[&str]) -> Run {
    // Cargo builds the binary (release profile) for benches and names it here.
    let bin = Path::new(env!("CARGO_BIN_EXE_serve-doctor"));
    let started = Instant::now();
    let out = tokio::process::Command::new(bin)
        .arg("diagnose")
        .arg("--json")
        .args(args)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let json = serde_json::from_slice(&out.stdout).expect("diagnose --json output");
    Run { wall_ms, json }
}

/// CLI invocations the fake has logged so far in `dir`.
fn cli_calls(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("argv.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let ca = tls::TestCa::new();

    // Seed scenario.
    let seed = tempfile::tempdir().unwrap();
    scenario(seed.path(), "https-off", 18080);
    std::fs::write(seed.path().join("behavior.json"), r#"{"cert":"hang"}"#).unwrap();
    let stall = tls::stall_peer().await;
    let ca_file = seed.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let connect = stall.addr_str();
    let args = [
        "--timeout",
        "60",
        "--deep",
        "--connect",
        &connect,
        "--ca-file",
        ca_file.to_str().unwrap(),
    ];
    let mut walls = Vec::new();
    for _ in 0..runs {
        let r = run(seed.path(), &args).await;
        assert_eq!(r.json["cause"], "https_disabled");
        walls.push(r.wall_ms);
    }
    let (min, med, max) = stats(walls);
    println!(
        "seed (HTTPS off, stall, cert hangs, --timeout 60): min {min:.0} ms, median {med:.0} ms, max {max:.0} ms over {runs} runs (target ≤ 300 ms)"
    );

    // Healthy scenario.
    let healthy = tempfile::tempdir().unwrap();
    let backend = tls::http_backend(200).await;
    scenario(healthy.path(), "healthy", backend.addr().port());
    let peer = tls::tls_peer(ca.leaf("box.tail1234.ts.net", 60), 200).await;
    let ca_file = healthy.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let connect = peer.addr_str();
    let args = [
        "--connect",
        &connect,
        "--ca-file",
        ca_file.to_str().unwrap(),
    ];
    let (mut walls, mut engine, mut slowest) = (Vec::new(), Vec::new(), Vec::new());
    let calls_before = cli_calls(healthy.path());
    for _ in 0..runs {
        let r = run(healthy.path(), &args).await;
        assert_eq!(r.json["cause"], "healthy", "{:#}", r.json);
        let step = r.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["ms"].as_f64())
            .fold(0.0, f64::max);
        walls.push(r.wall_ms);
        engine.push(r.json["elapsed_ms"].as_f64().unwrap_or(0.0));
        slowest.push(step);
    }
    let (wmin, wmed, wmax) = stats(walls);
    let (_, emed, _) = stats(engine.clone());
    let (_, smed, _) = stats(slowest.clone());
    let ratios: Vec<f64> = engine
        .iter()
        .zip(&slowest)
        .map(|(e, s)| e / s.max(1.0))
        .collect();
    let (_, rmed, rmax) = stats(ratios);
    let cli_per_run = (cli_calls(healthy.path()) - calls_before) as f64 / runs as f64;
    println!(
        "healthy: wall min {wmin:.0} ms, median {wmed:.0} ms, max {wmax:.0} ms; chain (elapsed_ms) median {emed:.0} ms; slowest single step median {smed:.0} ms; chain / slowest step median {rmed:.2}, max {rmax:.2} (target ≤ 1.5)"
    );

    // The same healthy node over the LocalAPI.
    let daemon = localapi::FakeDaemon::start().await;
    daemon.set_status(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/status-healthy.json"),
        )
        .unwrap(),
    );
    let serve = std::fs::read_to_string(healthy.path().join("serve.json")).unwrap();
    daemon.set_serve_config(serve.as_bytes());
    let socket = daemon.socket().to_str().unwrap().to_string();
    let args = [
        "--socket",
        &socket,
        "--connect",
        &connect,
        "--ca-file",
        ca_file.to_str().unwrap(),
    ];
    let (mut api_walls, mut api_engine) = (Vec::new(), Vec::new());
    let calls_before = cli_calls(healthy.path());
    for _ in 0..runs {
        let r = run_raw(healthy.path(), &args).await;
        assert_eq!(r.json["cause"], "healthy", "{:#}", r.json);
        api_walls.push(r.wall_ms);
        api_engine.push(r.json["elapsed_ms"].as_f64().unwrap_or(0.0));
    }
    let api_per_run = (cli_calls(healthy.path()) - calls_before) as f64 / runs as f64;
    let (_, awmed, _) = stats(api_walls);
    let (_, aemed, _) = stats(api_engine);
    println!(
        "healthy, side by side (medians): LocalAPI chain {aemed:.0} ms (wall {awmed:.0} ms) vs CLI chain {emed:.0} ms (wall {wmed:.0} ms); CLI processes spawned per diagnosis: LocalAPI {api_per_run:.1}, CLI {cli_per_run:.1}"
    );
}
