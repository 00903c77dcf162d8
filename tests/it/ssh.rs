//! `--ssh` through the real binary without a tailnet: hostile destinations and options are
//! refused (exit 64) before any `ssh` runs; a hostile remote path stays one word through a real
//! shell; a host that accepts and never speaks is bounded by `--timeout` and leaves nothing.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary with HOME in `dir`, PATH starting with `dir/bin`, TMPDIR `dir/tmp`.
fn serve_doctor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_serve-doctor"))
        .args(args)
        .env("HOME", dir.join("home"))
        .env("XDG_DATA_HOME", dir.join("home/.local/share"))
        .env("XDG_CONFIG_HOME", dir.join("home/.config"))
        .env("TMPDIR", dir.join("tmp"))
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A fake `ssh` first on PATH: logs its argv; "logs in" at once; runs a client's remote command
/// through a real `sh -c`, as sshd hands it to the login shell.
fn fake_ssh(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$*" >> {log}
for a; do last=$a; done
case " $* " in
  *" -O "*) echo "Master running (pid=999999)" >&2; exit 0 ;;
  *" -N "*) exit 0 ;;
esac
exec sh -c "$last"
"#,
        log = dir.join("ssh.log").display()
    );
    let p = bin.join("ssh");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn hostile_destinations_and_options_are_refused_before_ssh_runs() {
    let d = tempfile::tempdir().unwrap();
    fake_ssh(d.path());
    for dest in [
        "-oProxyCommand=touch /tmp/pwned",
        "root@-oProxyCommand=x",
        "a;b",
        "root@a;touch x",
        "$(x)",
        "root@$(touch x)",
        "a b",
        "ro ot@box",
        "-box",
        "box:0",
        "box:70000",
        "::1",
    ] {
        for args in [
            vec!["diagnose", "--ssh", dest],
            vec!["fix", "recreate", "--yes", "--ssh", dest],
        ] {
            let o = serve_doctor(d.path(), &args, &[]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(64), "{args:?}: {err}");
            assert!(err.contains("is refused"), "{args:?}: {err}");
        }
    }
    for opts in ["-F /tmp/other_config", "evil.host", "-o", "-o 'unclosed"] {
        let o = serve_doctor(
            d.path(),
            &["diagnose", "--ssh", "box"],
            &[("SERVE_DOCTOR_SSH_OPTS", opts)],
        );
        assert_eq!(o.status.code(), Some(64), "{opts}");
    }
    // A socket of this machine cannot serve a remote node: said, not silently ignored.
    for args in [
        vec!["diagnose", "--ssh", "box", "--socket", "/run/x.sock"],
        vec![
            "fix",
            "recreate",
            "--yes",
            "--ssh",
            "box",
            "--socket",
            "/run/x.sock",
        ],
    ] {
        let o = serve_doctor(d.path(), &args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains("cannot be used with --ssh"), "{args:?}: {err}");
    }
    assert!(!d.path().join("ssh.log").exists(), "ssh ran");
}

#[test]
fn a_hostile_remote_cli_path_stays_one_word_through_the_remote_shell() {
    let d = tempfile::tempdir().unwrap();
    fake_ssh(d.path());
    let canary = d.path().join("pwned");
    let hostile = format!("/nonexistent/$(touch {}); touch {0}", canary.display());
    let o = serve_doctor(
        d.path(),
        &[
            "diagnose",
            "--json",
            "--ssh",
            "box",
            "--tailscale",
            &hostile,
        ],
        &[],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cause"], "tailscale_not_found", "{v:#}");
    assert!(!canary.exists(), "the remote shell ran a word of the path");
    let log = std::fs::read_to_string(d.path().join("ssh.log")).unwrap();
    // The master, its pid, the CLI search, the exit, each naming the destination after `--`;
    // with no CLI found there is nothing to read.
    assert_eq!(log.matches(" -- box").count(), 4, "{log}");
}

#[test]
fn a_host_that_never_answers_is_bounded_by_the_timeout_and_leaves_nothing() {
    if Command::new("ssh").arg("-V").output().is_err() {
        eprintln!("SKIPPED: no ssh client (apt-get install openssh-client)");
        return;
    }
    // Accepts and never speaks: ssh waits for the server's banner.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let (accepted, held) = (accepted.clone(), held.clone());
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                accepted.fetch_add(1, Ordering::SeqCst);
                held.lock().unwrap().push(s);
            }
        });
    }
    let d = tempfile::tempdir().unwrap();
    let dest = format!("root@127.0.0.1:{port}");
    let start = Instant::now();
    let o = serve_doctor(
        d.path(),
        &["diagnose", "--json", "--ssh", &dest, "--timeout", "2"],
        &[(
            "SERVE_DOCTOR_SSH_OPTS",
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        )],
    );
    let took = start.elapsed();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cause"], "daemon_unreachable", "{v:#}");
    let want = format!("ssh to {dest} did not answer within 2 s");
    assert!(
        v["summary"].as_str().unwrap().contains(&want),
        "{}",
        v["summary"]
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection attempt");
    // Nothing under this run's TMPDIR (the control socket's directory) is in use by anyone.
    let tmp = d.path().join("tmp").display().to_string();
    let left = Command::new("pgrep").args(["-af", &tmp]).output().unwrap();
    assert!(
        !left.status.success(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
}
