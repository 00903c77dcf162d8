//! A stand-in for tailscaled's LocalAPI as a real process, for the IPN-bus end-to-end test
//! (`tests/e2e/bus.sh`) and demos:
//!
//! ```sh
//! cargo run --example fake_daemon -- /tmp/scenario
//! # prints: socket=/tmp/.tmpXXXX/var/run/tailscaled.socket pid=1234
//! ```
//!
//! It serves the integration tests' fake daemon (`tests/it/support/localapi.rs`: the same Host,
//! Origin and auth checks as the real one) with `status.json` and `serve.json` read from the
//! scenario directory, and is driven by signals so a script can wait on the effect instead of
//! sleeping:
//! - `SIGUSR1`: re-read the files, then push one Notify line onto the bus (`notify.json` in the
//!   directory, or a `SelfChange` like the one tailscaled sends after the admin enables HTTPS);
//! - `SIGUSR2`: restart like a crashed-and-restarted daemon (every connection, watch streams
//!   included, is dropped; it comes back on the same socket), re-reading the files;
//! - `SIGTERM`/`SIGINT`: leave, removing the socket's temp directory.
//!
//! After each signal it prints one line (`pushed watchers=N`, `restarted`) and rewrites
//! `daemon-report.json` in the directory: the requests seen and the violations (requests the real
//! daemon would have refused), which a test asserts is empty.

#[allow(dead_code)]
#[path = "../tests/it/support/localapi.rs"]
mod localapi;

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::signal::unix::{SignalKind, signal};

/// What tailscaled (v1.98+) sends every watcher after a netmap change that touches the self
/// node, e.g. when the admin enables HTTPS certificates (one `SelfChange`, as the real-tailnet
/// bench showed: docs/TAILNET.md).
const DEFAULT_NOTIFY: &str = r#"{"Version":"","SelfChange":{"CapMap":{"https":null}}}"#;

fn load(daemon: &localapi::FakeDaemon, dir: &Path) {
    if let Ok(s) = std::fs::read(dir.join("status.json")) {
        daemon.set_status(&s);
    }
    if let Ok(s) = std::fs::read(dir.join("serve.json")) {
        // The daemon sends the serve config compact; a hand-written file may be indented.
        daemon.set_serve_config(&localapi::compact(&s));
    }
}

fn report(daemon: &localapi::FakeDaemon, dir: &Path) -> std::io::Result<()> {
    let seen: Vec<String> = daemon
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect();
    let json = serde_json::json!({
        "violations": daemon.violations(),
        "requests": seen.len(),
        "watch_requests": seen.iter().filter(|s| s.contains("watch-ipn-bus")).count(),
        "last_requests": seen.iter().rev().take(20).collect::<Vec<_>>(),
    });
    // Written whole and renamed, so a reader never sees half a file.
    let tmp = dir.join("daemon-report.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&json)?)?;
    std::fs::rename(tmp, dir.join("daemon-report.json"))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        return Err("usage: fake_daemon SCENARIO_DIR".into());
    };
    // Signal handlers first: a poke that arrives right after the ready line must not kill us.
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;

    let mut daemon = localapi::FakeDaemon::start().await;
    load(&daemon, &dir);
    report(&daemon, &dir)?;
    say(&format!(
        "socket={} pid={}",
        daemon.socket().display(),
        std::process::id()
    ));
    loop {
        tokio::select! {
            _ = usr1.recv() => {
                load(&daemon, &dir);
                let line = std::fs::read_to_string(dir.join("notify.json"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| DEFAULT_NOTIFY.to_string());
                let n = daemon.push(&line);
                report(&daemon, &dir)?;
                say(&format!("pushed watchers={n}"));
            }
            _ = usr2.recv() => {
                daemon.restart().await;
                load(&daemon, &dir);
                report(&daemon, &dir)?;
                say("restarted");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    report(&daemon, &dir)?;
    Ok(())
}
