//! The real-tailnet bench from Rust: brought up once per test binary by `tests/tailnet/bench.sh`,
//! put into one scenario at a time, torn down by PID when the binary exits, even after a failure.
//!
//! Teardown does not rely on destructors (statics are never dropped): a reaper process holds the
//! read end of a pipe whose write end only this process has; when this process exits for any
//! reason the pipe closes and the reaper runs `bench.sh down`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::schema;
use serde_json::Value;

pub const SERVER: &str = "server";
pub const PHONE: &str = "phone";
pub const SERVER_NAME: &str = "server.tailnet.test";
pub const BACKEND_PORT: u16 = 18080;

/// How a run of Serve Doctor reaches the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `--socket`: tailscaled's LocalAPI.
    Api,
    /// `--tailscale`: the real CLI (a two-line wrapper that adds `--socket`).
    Cli,
}

pub const ROUTES: [Route; 2] = [Route::Api, Route::Cli];

pub struct Bench {
    pub dir: PathBuf,
    env: HashMap<String, String>,
    /// HOME of every serve-doctor run: its config, backups and logs stay in the bench.
    pub home: PathBuf,
    _reaper: Child,
    _reaper_pipe: std::process::ChildStdin,
}

static BENCH: OnceLock<Result<Mutex<Bench>, String>> = OnceLock::new();

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    repo().join("tests/tailnet/bench.sh")
}

/// The bench, locked for one test; `None` when this machine cannot run it (the reason is
/// printed). With `SD_REQUIRE_TAILNET=1` (what `make test-tailnet` sets) a skip is a failure.
pub fn bench() -> Option<MutexGuard<'static, Bench>> {
    let b = BENCH.get_or_init(|| Bench::start().map(Mutex::new));
    match b {
        Ok(m) => {
            let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
            g.reset();
            Some(g)
        }
        Err(why) => {
            if std::env::var("SD_REQUIRE_TAILNET").as_deref() == Ok("1") {
                panic!("the real-tailnet bench is required here but cannot run: {why}");
            }
            eprintln!("SKIPPED (real tailnet): {why}");
            None
        }
    }
}

impl Bench {
    fn start() -> Result<Bench, String> {
        let check = Command::new("bash")
            .arg(script())
            .arg("check")
            .output()
            .map_err(|e| format!("bench.sh: {e}"))?;
        if !check.status.success() {
            return Err(String::from_utf8_lossy(&check.stdout).trim().to_string());
        }
        let dir = std::env::temp_dir().join(format!("sd-tailnet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The reaper first, so that even a bring-up that fails halfway is torn down.
        let mut reaper = Command::new("bash")
            .arg("-c")
            .arg(r#"read -r _; exec bash "$0" down "$1" >/dev/null 2>&1"#)
            .arg(script())
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("reaper: {e}"))?;
        let pipe = reaper.stdin.take().expect("piped stdin");
        let up = Command::new("bash")
            .arg(script())
            .arg("up")
            .arg(&dir)
            .output()
            .map_err(|e| format!("bench.sh up: {e}"))?;
        if !up.status.success() {
            return Err(format!(
                "bench.sh up failed: {}",
                String::from_utf8_lossy(&up.stderr)
            ));
        }
        let env = std::fs::read_to_string(dir.join("bench.env"))
            .map_err(|e| format!("bench.env: {e}"))?
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let home = dir.join("home");
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        Ok(Bench {
            dir,
            env,
            home,
            _reaper: reaper,
            _reaper_pipe: pipe,
        })
    }

    pub fn env(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("bench.env has no {k}"))
    }

    pub fn ns(&self) -> &str {
        self.env("NS")
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join(node)
    }

    pub fn socket(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("ts.sock")
    }

    /// The real CLI for `node` (a wrapper that only adds `--socket`).
    pub fn cli(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("tailscale")
    }

    pub fn pebble_root(&self) -> PathBuf {
        PathBuf::from(self.env("PEBBLE_ROOT"))
    }

    /// A command run inside the bench's namespace.
    pub fn in_ns(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.ns()]).arg(program);
        c
    }

    /// The real `tailscale` CLI on `node`, bounded.
    pub fn ts(&self, node: &str, args: &[&str]) -> Output {
        let mut c = self.in_ns("timeout");
        c.arg("60").arg(self.cli(node)).args(args);
        c.output().expect("tailscale")
    }

    pub fn ts_ok(&self, node: &str, args: &[&str]) -> String {
        let o = self.ts(node, args);
        assert!(
            o.status.success(),
            "tailscale {args:?} on {node} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `tailscale status --json --peers=false` of `node`, or `Value::Null` when it does not answer.
    pub fn status(&self, node: &str) -> Value {
        let o = self.ts(node, &["status", "--json", "--peers=false"]);
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    }

    /// The server node's Tailscale IPv4 address now: a scenario that logs it in again gets it a
    /// new one from control, so nothing may assume the first.
    pub fn server_ip(&self) -> String {
        self.status(SERVER)["Self"]["TailscaleIPs"][0]
            .as_str()
            .unwrap_or("100.64.0.1")
            .to_string()
    }

    /// A LocalAPI GET straight to the daemon's socket: the exact bytes it answers.
    pub fn localapi(&self, node: &str, path: &str) -> Vec<u8> {
        let o = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--unix-socket"])
            .arg(self.socket(node))
            .arg(format!("http://local-tailscaled.sock/localapi/v0/{path}"))
            .output()
            .expect("curl");
        o.stdout
    }

    /// Replaces the server's serve config through the LocalAPI, as another client would.
    pub fn set_serve_config(&self, config: &Value) {
        let o = Command::new("curl")
            .args([
                "-sS",
                "--fail-with-body",
                "--max-time",
                "10",
                "--unix-socket",
            ])
            .arg(self.socket(SERVER))
            .args(["-X", "POST", "--data-binary"])
            .arg(config.to_string())
            .arg("http://local-tailscaled.sock/localapi/v0/serve-config")
            .output()
            .expect("curl");
        assert!(
            o.status.success(),
            "POST serve-config: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Serve config and prefs, byte for byte: what a diagnosis must leave as it found.
    pub fn daemon_state(&self, node: &str) -> (Vec<u8>, Vec<u8>) {
        (
            self.localapi(node, "serve-config"),
            self.localapi(node, "prefs"),
        )
    }

    /// Asks the bench's control program to change something (`certs?on=0`, `acme?mode=stall`…).
    pub fn admin(&self, what: &str) -> Value {
        let o = self
            .in_ns("curl")
            .args(["-sS", "--fail-with-body", "--max-time", "10", "-X", "POST"])
            .arg(format!("{}/{what}", self.env("ADMIN_URL")))
            .output()
            .expect("curl");
        assert!(
            o.status.success(),
            "admin {what}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        serde_json::from_slice(&o.stdout).expect("admin answers JSON")
    }

    /// Waits for `cond`, re-checking it every 50 ms, for at most `secs`.
    /// Expires the server's node key at control and waits until the daemon shows it.
    pub fn expire_server_key(&self) {
        self.admin("expire?on=1");
        self.wait("the node key to expire", 30, || {
            let st = self.status(SERVER);
            st["BackendState"] != "Running" || st["Self"]["Expired"] == true
        });
    }

    /// Waits for the daemon's stalled certificate attempt to reach its own deadline: its
    /// "Fetching TLS" warning goes. Returns how long that took.
    pub fn wait_stalled_issuance_to_give_up(&self) -> Duration {
        self.wait("the stalled issuance to give up", 180, || {
            self.status(SERVER)["Health"].as_array().is_some_and(|h| {
                h.iter()
                    .all(|w| !w.as_str().unwrap_or("").contains("Fetching TLS"))
            })
        })
    }

    pub fn wait(&self, what: &str, secs: u64, mut cond: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        while !cond() {
            if start.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "timed out after {secs}s waiting for {what}; bench logs in {}",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        start.elapsed()
    }

    pub fn wait_state(&self, node: &str, state: &str) {
        self.wait(&format!("{node} to be {state}"), 60, || {
            self.status(node)["BackendState"] == state
        });
    }

    pub fn cert_file(&self, node: &str, name: &str) -> PathBuf {
        self.node_dir(node)
            .join("certs")
            .join(format!("{name}.crt"))
    }

    /// Restarts `node`'s tailscaled (its state kept); `extra` goes to `bench.sh node`.
    pub fn restart_node(&self, node: &str, extra: &[&str]) {
        let o = Command::new("bash")
            .arg(script())
            .args(["node"])
            .arg(&self.dir)
            .arg(node)
            .args(extra)
            .output()
            .expect("bench.sh node");
        assert!(
            o.status.success(),
            "bench.sh node {node}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    pub fn stop_node(&self, node: &str) {
        let o = Command::new("bash")
            .arg(script())
            .args(["stop-node"])
            .arg(&self.dir)
            .arg(node)
            .output()
            .expect("bench.sh stop-node");
        assert!(o.status.success());
    }

    /// Deletes the cached certificates of `node` (with its daemon restarted, so none is
    /// left in memory either).
    pub fn forget_certs(&self, node: &str) {
        self.forget_certs_keep_version(node, self.env("TS_VERSION"));
    }

    /// As [`Bench::forget_certs`], restarting the daemon at `version`.
    pub fn forget_certs_keep_version(&self, node: &str, version: &str) {
        self.stop_node(node);
        if let Ok(rd) = std::fs::read_dir(self.node_dir(node).join("certs")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.ends_with(".crt") || n.ends_with(".key") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        self.restart_node(node, &["--version", version]);
        self.wait_state(node, "Running");
    }

    /// The serve config every scenario starts from: `tailscale serve --bg 18080`.
    pub fn standard_serve(&self) {
        self.ts_ok(SERVER, &["serve", "reset"]);
        self.ts_ok(SERVER, &["serve", "--bg", &BACKEND_PORT.to_string()]);
    }

    /// Puts the tailnet back into its healthy baseline: control up and issuing certificates,
    /// ACME passing, the backend up, the server node running the current version under its own
    /// name with the standard serve config and a certificate issued by Pebble.
    fn reset(&mut self) {
        let knobs = self.admin("state")["knobs"].clone();
        let fix = |cond: bool, what: &str| {
            if cond {
                self.admin(what);
            }
        };
        fix(knobs["control"] != true, "control?on=1");
        fix(knobs["backend"] != true, "backend?on=1");
        fix(knobs["certs"] != true, "certs?on=1");
        fix(knobs["magicdns"] != true, "magicdns?on=1");
        fix(knobs["expired"] != false, "expire?on=0");
        fix(knobs["acme"] != "pass", "acme?mode=pass");
        fix(
            knobs["names"].as_object().is_some_and(|m| !m.is_empty()),
            "rename?host=server",
        );
        fix(
            knobs["caps"].as_object().is_some_and(|m| !m.is_empty()),
            "caps?host=server&reset",
        );
        let version =
            std::fs::read_to_string(self.node_dir(SERVER).join("version")).unwrap_or_default();
        let st = self.status(SERVER);
        if version.trim() != self.env("TS_VERSION") || st.is_null() {
            self.restart_node(SERVER, &[]);
        }
        let st = self.status(SERVER);
        if st["BackendState"] != "Running"
            || st["Self"]["HostName"] != SERVER
            || st["Self"]["DNSName"] != format!("{SERVER_NAME}.")
        {
            self.ts_ok(SERVER, &["set", "--hostname", SERVER]);
            self.ts_ok(
                SERVER,
                &[
                    "up",
                    "--login-server",
                    self.env("CONTROL_URL"),
                    "--hostname",
                    SERVER,
                    "--accept-dns=false",
                    "--netfilter-mode=off",
                    "--reset",
                ],
            );
            self.wait_state(SERVER, "Running");
        }
        self.wait("the server's name and certificate domain", 30, || {
            let st = self.status(SERVER);
            st["Self"]["DNSName"] == format!("{SERVER_NAME}.")
                && st["CertDomains"][0] == SERVER_NAME
                && st["Self"]["Online"] == true
        });
        let want: Value = serde_json::json!({
            "TCP": {"443": {"HTTPS": true}},
            "Web": {format!("{SERVER_NAME}:443"): {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}}
        });
        let have: Value =
            serde_json::from_slice(&self.localapi(SERVER, "serve-config")).unwrap_or(Value::Null);
        if have != want {
            self.standard_serve();
        }
        self.ensure_cert();
        let _ = std::io::stderr().flush();
    }

    /// A handshake with the server's serve port, as a browser makes it (the bench's own check,
    /// not Serve Doctor's): returns curl's exit code.
    pub fn handshake(&self, max_secs: u32) -> i32 {
        let ip = self.server_ip();
        self.in_ns("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", &max_secs.to_string()])
            .arg("--cacert")
            .arg(self.pebble_root())
            .args(["--resolve", &format!("{SERVER_NAME}:443:{ip}")])
            .arg(format!("https://{SERVER_NAME}/"))
            .status()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1)
    }

    /// A certificate for the server, issued by Pebble. tailscaled 1.102 fetches one by itself
    /// only when serve is configured or the daemon starts, otherwise on the first handshake; a
    /// fetch still stuck on a stalled ACME server holds the name's lock, so after one failed
    /// try the daemon is restarted.
    fn ensure_cert(&self) {
        let cert = self.cert_file(SERVER, SERVER_NAME);
        for attempt in 0..3 {
            if cert.exists() {
                return;
            }
            if attempt > 0 {
                self.restart_node(SERVER, &[]);
                self.wait_state(SERVER, "Running");
            }
            self.handshake(30);
        }
        assert!(
            cert.exists(),
            "no certificate for the server after three tries; logs in {}",
            self.dir.display()
        );
    }

    /// `serve-doctor ARGS` inside the namespace, HOME in the bench.
    pub fn serve_doctor(&self, args: &[&str]) -> Output {
        self.serve_doctor_env(args, &[])
    }

    /// [`Bench::serve_doctor`] with more environment variables.
    pub fn serve_doctor_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.in_ns("timeout");
        c.envs(env.iter().copied());
        c.arg("120")
            .arg(env!("CARGO_BIN_EXE_serve-doctor"))
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("USER", "alice")
            .envs(env.iter().copied());
        c.output().expect("serve-doctor")
    }

    /// The arguments that point a run at `node` over `route`, trusting Pebble.
    pub fn route_args(&self, node: &str, route: Route) -> Vec<String> {
        let (flag, path) = match route {
            Route::Api => ("--socket", self.socket(node)),
            Route::Cli => ("--tailscale", self.cli(node)),
        };
        vec![
            flag.to_string(),
            path.display().to_string(),
            "--ca-file".to_string(),
            self.pebble_root().display().to_string(),
        ]
    }

    /// `diagnose --json` of the server over `route`; asserts the daemon's serve config and prefs
    /// are byte-identical before and after. Returns (exit code, report).
    pub fn diagnose(&self, route: Route, extra: &[&str]) -> (i32, Value) {
        self.diagnose_node(SERVER, route, extra)
    }

    pub fn diagnose_node(&self, node: &str, route: Route, extra: &[&str]) -> (i32, Value) {
        let before = self.daemon_state(node);
        let mut args: Vec<String> = vec!["diagnose".into(), "--json".into()];
        args.extend(self.route_args(node, route));
        args.extend(extra.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.serve_doctor(&argv);
        let after = self.daemon_state(node);
        assert!(
            before == after,
            "diagnose changed the daemon's serve config or prefs:\nbefore {}\nafter  {}",
            String::from_utf8_lossy(&before.0),
            String::from_utf8_lossy(&after.0)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "diagnose {route:?}: not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        schema::check(&v);
        (out.status.code().unwrap_or(-1), v)
    }

    /// `diagnose` of the server over each of `routes` names `cause` with exit status `code`;
    /// returns the last report.
    pub fn expect_cause(
        &self,
        routes: impl IntoIterator<Item = Route>,
        extra: &[&str],
        cause: &str,
        code: i32,
    ) -> Value {
        let mut last = Value::Null;
        for route in routes {
            let (c, v) = self.diagnose(route, extra);
            assert_eq!(v["cause"], cause, "{route:?}: {}", brief(&v));
            assert_eq!(c, code, "{route:?}: exit status");
            last = v;
        }
        last
    }

    /// `fix ARGS --json` on the server over `route`.
    pub fn fix(&self, route: Route, args: &[&str]) -> (i32, Value, String) {
        let mut all: Vec<String> = vec!["fix".into()];
        all.extend(args.iter().map(|s| s.to_string()));
        all.push("--json".into());
        all.extend(self.route_args(SERVER, route));
        let argv: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = self.serve_doctor(&argv);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap_or(-1),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The server's serve config as the daemon has it now.
    pub fn serve_config(&self) -> Value {
        serde_json::from_slice(&self.localapi(SERVER, "serve-config")).unwrap_or(Value::Null)
    }
}

/// The status of check `id` in a JSON diagnosis.
pub fn check<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {v}"))
}

/// A short line for assertion messages.
pub fn brief(v: &Value) -> String {
    let checks: Vec<String> = v["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| format!("{}={}: {}", c["id"], c["status"], c["detail"]))
                .collect()
        })
        .unwrap_or_default();
    format!("{} {}\n  {}", v["cause"], v["summary"], checks.join("\n  "))
}
