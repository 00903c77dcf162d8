//! Scenario directories for the fake `tailscale` CLI, and running the real `serve-doctor`
//! binary against them as a child process.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text of `tests/fixtures/<name>.json`.
pub fn fixture(name: &str) -> String {
    let p = repo().join("tests/fixtures").join(format!("{name}.json"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A temp dir holding a symlink to the fake CLI plus its state files; also used as `HOME`, so
/// the user's real config never leaks into a test.
pub struct Scenario {
    pub dir: tempfile::TempDir,
}

impl Scenario {
    pub fn new() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            repo().join("tests/fake-tailscale/tailscale"),
            dir.path().join("tailscale"),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Scenario { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cli(&self) -> PathBuf {
        self.path().join("tailscale")
    }

    pub fn write(&self, name: &str, text: &str) -> &Self {
        let tmp = self.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path().join(name)).unwrap();
        self
    }

    /// `status.json` from `tests/fixtures/status-<name>.json`.
    pub fn status(&self, name: &str) -> &Self {
        self.write("status.json", &fixture(&format!("status-{name}")))
    }

    /// `serve.json` from `tests/fixtures/serve-<name>.json`, proxying to `backend_port` where
    /// the fixture says 18080.
    pub fn serve(&self, name: &str, backend_port: u16) -> &Self {
        let text = fixture(&format!("serve-{name}")).replace("18080", &backend_port.to_string());
        self.write("serve.json", &text)
    }

    pub fn behavior(&self, v: Value) -> &Self {
        self.write("behavior.json", &v.to_string())
    }

    /// Every argv the fake was called with, in order.
    pub fn argv_log(&self) -> Vec<Vec<String>> {
        let Ok(text) = std::fs::read_to_string(self.path().join("argv.log")) else {
            return vec![];
        };
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }

    /// Fakes (and their grandchildren) recorded in `pids/` that are still running.
    pub fn live_pids(&self) -> Vec<i32> {
        let Ok(rd) = std::fs::read_dir(self.path().join("pids")) else {
            return vec![];
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| alive(*pid))
            .collect()
    }

    /// Asserts that diagnosis only ever read: no reset, --bg, set-raw, up, down, set, funnel.
    pub fn assert_read_only(&self) {
        for argv in self.argv_log() {
            let a: Vec<&str> = argv.iter().map(String::as_str).collect();
            let ok = matches!(
                a.as_slice(),
                ["status", "--json", "--peers=false"] | ["serve", "status", "--json"] | ["version"]
            ) || (a.first() == Some(&"cert") && a.len() == 2);
            assert!(ok, "diagnosis ran a command that is not a read: {a:?}");
        }
    }
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// Waits (bounded) for every recorded fake to be gone; process exit is not an event we can
/// subscribe to for unrelated processes, so this polls /proc.
pub async fn assert_no_fake_left(sc: &Scenario) {
    for _ in 0..100 {
        if sc.live_pids().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "fake tailscale processes left running: {:?}",
        sc.live_pids()
    );
}

/// Runs the real binary with `args`, HOME and XDG dirs pointed into the scenario.
pub async fn serve_doctor(sc: &Scenario, args: &[&str]) -> Output {
    let home = sc.path().join("home");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_serve-doctor"))
        .args(args)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("USER", "alice")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

/// `serve-doctor diagnose --json --tailscale <fake> …` → (exit code, parsed JSON).
/// Without `--connect` in `extra`, the HTTPS probe goes to a closed loopback port: tests never
/// dial the fixtures' Tailscale IPs, which are not ours.
pub async fn diagnose_json(sc: &Scenario, extra: &[&str]) -> (i32, Value) {
    let cli = sc.cli();
    let closed = crate::support::tls::closed_port().await.to_string();
    let mut args = vec!["diagnose", "--json", "--tailscale", cli.to_str().unwrap()];
    if !extra.contains(&"--connect") && !extra.contains(&"--no-default-connect") {
        args.extend_from_slice(&["--connect", &closed]);
    }
    args.extend(extra.iter().filter(|a| **a != "--no-default-connect"));
    let out = serve_doctor(sc, &args).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout={} stderr={}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    crate::support::schema::check(&v);
    (out.status.code().unwrap_or(-1), v)
}

/// The status of check `id` in a JSON diagnosis.
pub fn check<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

/// Serve Doctor's data dir inside the scenario's HOME (where `fix` keeps `backups/`).
pub fn data_dir(sc: &Scenario) -> PathBuf {
    sc.path().join("home/.local/share/serve-doctor")
}

/// Every argv.log line as JSON ({"argv", "pid", "ppid", "t"}), in order.
pub fn argv_entries(sc: &Scenario) -> Vec<Value> {
    std::fs::read_to_string(sc.path().join("argv.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The node's serve config as the fake holds it now.
pub fn serve_json(sc: &Scenario) -> Value {
    let text = std::fs::read_to_string(sc.path().join("serve.json")).unwrap_or_default();
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap()
}

/// `serve-doctor fix <args> --json --tailscale <fake>` (and `--connect` to a closed port so a
/// re-diagnosis never dials the fixtures' addresses) → (exit code, report).
pub async fn fix_json(sc: &Scenario, args: &[&str]) -> (i32, Value) {
    let cli = sc.cli();
    let closed = crate::support::tls::closed_port().await.to_string();
    let mut all = vec!["fix"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "--tailscale", cli.to_str().unwrap()]);
    if !args.contains(&"--connect") {
        all.extend_from_slice(&["--connect", &closed]);
    }
    let out = serve_doctor(sc, &all).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout={} stderr={}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}
