//! `diagnose --ssh` and `fix --ssh` against a real `sshd` (Debian's openssh-server) on loopback
//! inside the bench's namespace, key auth only, in front of the server node and its real CLI:
//! the same cause as a local run, one SSH connection per run, nothing left running after it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Bench, Route, SERVER, SERVER_NAME, bench, brief, check};

const SSHD: &str = "/usr/sbin/sshd";

/// An sshd of our own: its config, host key, client key and log in a temp dir.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Sshd {
    fn start(b: &Bench) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "no {SSHD}: apt-get install -y openssh-server (the Makefile's deps do)"
        );
        // Short: the control socket's directory goes under it (TMPDIR of the runs).
        let dir = tempfile::Builder::new()
            .prefix("sdssh")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-keygen {key}");
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd's privilege separation directory (the namespace shares the file system).
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
             AllowTcpForwarding yes\nPidFile {d}/sshd.pid\nLogLevel INFO\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let mut cmd = b.in_ns(SSHD);
        cmd.arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("sshd");
        let s = Sshd { dir, port, child };
        b.wait("sshd to listen", 10, || {
            s.log().contains("Server listening")
        });
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Connections sshd accepted so far (one "Accepted publickey" per login).
    fn accepted(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }

    fn dest(&self) -> String {
        format!("root@127.0.0.1:{}", self.port)
    }

    /// The runs' TMPDIR: their control-socket directories are made under it.
    fn tmp(&self) -> PathBuf {
        self.dir.path().join("t")
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let d = self.dir.path().display();
        std::fs::create_dir_all(self.tmp()).unwrap();
        vec![
            (
                "SERVE_DOCTOR_SSH_OPTS",
                format!(
                    "-o StrictHostKeyChecking=no -o UserKnownHostsFile={d}/known_hosts -o IdentityFile={d}/client_key -o IdentitiesOnly=yes"
                ),
            ),
            ("TMPDIR", self.tmp().display().to_string()),
        ]
    }

    /// `serve-doctor ARGS --ssh DEST --tailscale <the server's CLI>`: exit code, stdout, stderr,
    /// and how many connections sshd accepted for it. Asserts no ssh process is left.
    fn run(&self, b: &Bench, args: &[&str]) -> (i32, Vec<u8>, String, usize) {
        let before = self.accepted();
        let cli = b.cli(SERVER).display().to_string();
        let dest = self.dest();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--ssh", &dest, "--tailscale", &cli]);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = b.serve_doctor_env(&all, &env);
        assert_nothing_left(&self.tmp());
        (
            out.status.code().unwrap_or(-1),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
            self.accepted() - before,
        )
    }

    /// `diagnose --json` over SSH; asserts the daemon is left as it was and that the run cost
    /// exactly one SSH connection.
    fn diagnose(&self, b: &Bench, extra: &[&str]) -> (i32, Value) {
        let state = b.daemon_state(SERVER);
        let ca = b.pebble_root().display().to_string();
        let mut args = vec!["diagnose", "--json", "--ca-file", &ca];
        args.extend(extra);
        let (code, stdout, stderr, conns) = self.run(b, &args);
        assert_eq!(
            state,
            b.daemon_state(SERVER),
            "diagnose --ssh changed the daemon"
        );
        let v: Value =
            serde_json::from_slice(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
        assert_eq!(
            conns,
            1,
            "SSH connections for one diagnosis; sshd log:\n{}",
            self.log()
        );
        eprintln!("ssh diagnosis ({conns} connection): {}", brief(&v));
        (code, v)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Its per-connection children are in its process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// No process names the runs' TMPDIR (the master's ControlPath is under it) a moment after the
/// run: the master was ended, not left to its ControlPersist.
fn assert_nothing_left(tmp: &Path) {
    let pattern = tmp.display().to_string();
    let start = Instant::now();
    loop {
        let o = Command::new("pgrep")
            .args(["-af", &pattern])
            .output()
            .unwrap();
        if !o.status.success() {
            return;
        }
        if start.elapsed() > Duration::from_secs(2) {
            panic!(
                "processes left running: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The same cause over SSH as a local run over the real CLI, with the same exit status.
fn same_as_local(b: &Bench, s: &Sshd, extra: &[&str], cause: &str) -> Value {
    let (local_code, local) = b.diagnose(Route::Cli, extra);
    assert_eq!(local["cause"], cause, "local: {}", brief(&local));
    let (code, v) = s.diagnose(b, extra);
    assert_eq!(v["cause"], cause, "over ssh: {}", brief(&v));
    assert_eq!(code, local_code, "exit status");
    eprintln!(
        "{cause}: local {} ms, over ssh {} ms",
        local["elapsed_ms"], v["elapsed_ms"]
    );
    assert!(
        v["route"]
            .as_str()
            .unwrap_or("")
            .starts_with("ssh root@127.0.0.1:"),
        "{}",
        v["route"]
    );
    v
}

#[test]
fn ssh_healthy_checks_the_backend_on_the_node_through_the_connection() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    let v = same_as_local(&b, &s, &["--full"], "healthy");
    // The backend probe dialed the node's 127.0.0.1:18080 through the session's SOCKS forward;
    // the handshake went from here across the tailnet and saw Pebble's certificate.
    assert_eq!(check(&v, "backend")["status"], "pass", "{}", brief(&v));
    let tls = check(&v, "tls_handshake");
    assert!(tls["detail"].as_str().unwrap().contains("Pebble"), "{tls}");
}

#[test]
fn ssh_https_off_is_https_disabled() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.admin("certs?on=0");
    b.wait("CertDomains to empty", 20, || {
        b.status(SERVER)["CertDomains"].is_null()
    });
    same_as_local(&b, &s, &[], "https_disabled");
}

#[test]
fn ssh_backend_down_is_backend_down() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.admin("backend?on=0");
    let v = same_as_local(&b, &s, &["--full"], "backend_down");
    // Refused on the node's own loopback, reached through the SSH connection.
    assert_eq!(check(&v, "backend")["status"], "fail", "{}", brief(&v));
}

#[test]
fn ssh_stopped_after_tailscale_down() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.ts_ok(SERVER, &["down"]);
    b.wait_state(SERVER, "Stopped");
    // The harness brings the node up again before the next test.
    same_as_local(&b, &s, &[], "stopped");
}

#[test]
fn ssh_logged_out_needs_login() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.ts_ok(SERVER, &["logout"]);
    b.wait_state(SERVER, "NeedsLogin");
    same_as_local(&b, &s, &[], "needs_login");
}

#[test]
fn ssh_serve_keyed_to_the_old_name_after_a_rename() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.admin("rename?host=server&to=renamed");
    b.wait("the new name", 30, || {
        b.status(SERVER)["Self"]["DNSName"] == "renamed.tailnet.test."
    });
    same_as_local(&b, &s, &[], "serve_name_mismatch");
}

#[test]
fn ssh_plain_http_and_no_serve_config() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.ts_ok(SERVER, &["serve", "reset"]);
    b.ts_ok(SERVER, &["serve", "--bg", "--http=80", "18080"]);
    same_as_local(&b, &s, &[], "serve_plain_http");
    b.ts_ok(SERVER, &["serve", "reset"]);
    same_as_local(&b, &s, &[], "serve_not_configured");
}

#[test]
fn ssh_control_gone_and_tailscaled_gone() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.admin("control?on=0");
    b.wait("Self.Online to turn false", 60, || {
        b.status(SERVER)["Self"]["Online"] == false
    });
    same_as_local(&b, &s, &[], "control_unreachable");
    b.stop_node(SERVER);
    same_as_local(&b, &s, &[], "daemon_unreachable");
}

#[test]
fn ssh_issuance_refused_then_stalling() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.admin("acme?mode=refuse");
    b.forget_certs(SERVER);
    same_as_local(&b, &s, &["--timeout", "5"], "cert_issuance_failing");
    b.admin("acme?mode=stall");
    b.forget_certs(SERVER);
    // The daemon's own attempt is under way for both runs (each handshake would start one).
    same_as_local(&b, &s, &["--timeout", "3"], "cert_pending");
}

#[test]
fn ssh_key_expired_needs_login() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.expire_server_key();
    same_as_local(&b, &s, &[], "needs_login");
}

/// The remote run alone here: a local run's handshake would start a new attempt, and the
/// remote one would then see it pending (`issuance_stalling_is_pending_first_then_failing`
/// shows the same sequence locally).
#[test]
fn ssh_issuance_stalled_until_the_daemon_gives_up_is_failing() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    b.admin("acme?mode=stall");
    b.forget_certs(SERVER);
    let (code, v) = s.diagnose(&b, &["--timeout", "3"]);
    assert_eq!(v["cause"], "cert_pending", "{}", brief(&v));
    assert_eq!(code, 1);
    let waited = b.wait_stalled_issuance_to_give_up();
    eprintln!("the stalled attempt gave up after {waited:?}");
    let (code, v) = s.diagnose(&b, &["--timeout", "3"]);
    assert_eq!(v["cause"], "cert_issuance_failing", "{}", brief(&v));
    assert_eq!(code, 2);
}

#[test]
fn ssh_fix_recreate_round_trip_keeps_the_backup_here_named_after_the_node() {
    let Some(b) = bench() else { return };
    let s = Sshd::start(&b);
    let old = b.serve_config();
    b.ts_ok(SERVER, &["serve", "reset"]);
    b.ts_ok(SERVER, &["serve", "--bg", "--http=80", "18080"]);
    let broken = b.serve_config();
    let (_, v) = s.diagnose(&b, &[]);
    assert_eq!(v["cause"], "serve_plain_http", "{}", brief(&v));

    let ca = b.pebble_root().display().to_string();
    let args = [
        "fix",
        "recreate",
        "--yes",
        "--json",
        "--port",
        "18080",
        "--ca-file",
        &ca,
    ];
    let (code, out, err, conns) = s.run(&b, &args);
    let r: Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(code, 0, "{r:#} {err}");
    assert_eq!(
        (r["verified"].clone(), r["new_cause"].clone()),
        (true.into(), "healthy".into()),
        "{r:#}"
    );
    assert!(
        r["route"].as_str().unwrap().starts_with("ssh root@"),
        "{r:#}"
    );
    // The fix and its re-diagnosis share the one connection.
    assert_eq!(conns, 1, "{}", s.log());
    let commands = r["plan"]["commands"].as_array().unwrap();
    assert!(
        commands
            .iter()
            .all(|c| c.as_str().unwrap().starts_with("ssh -p ")),
        "{commands:?}"
    );

    let backup = PathBuf::from(r["backup"].as_str().unwrap());
    assert!(
        backup.starts_with(&b.home),
        "kept here: {}",
        backup.display()
    );
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(&format!("-{SERVER_NAME}.json")), "{name}");
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&backup).unwrap()).unwrap();
    assert_eq!(kept, broken);
    assert_eq!(
        b.serve_config(),
        old,
        "recreate gives the standard config back"
    );
    let (code, v) = s.diagnose(&b, &[]);
    assert_eq!(
        (code, v["cause"].clone()),
        (0, "healthy".into()),
        "{}",
        brief(&v)
    );
}
