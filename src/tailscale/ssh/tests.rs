//! The destination rules, the argv of every `ssh` call and the quoting of remote commands, with
//! no network: the remote command is run through a real local `sh` instead.

use super::*;

fn target(dest: &str) -> SshTarget {
    SshTarget::parse(dest, "").unwrap()
}

#[test]
fn plain_destinations_parse_and_show_as_given() {
    for (dest, shown, login) in [
        ("box", "box", "box"),
        (
            "root@127.0.0.1:2222",
            "root@127.0.0.1:2222",
            "-p 2222 root@127.0.0.1",
        ),
        (
            "a.b_c-d@box.tail1234.ts.net.",
            "a.b_c-d@box.tail1234.ts.net.",
            "a.b_c-d@box.tail1234.ts.net.",
        ),
        (
            "u@[fd7a:115c::1]:22",
            "u@[fd7a:115c::1]:22",
            "-p 22 u@fd7a:115c::1",
        ),
        ("[::1]", "[::1]", "::1"),
        ("h:65535", "h:65535", "-p 65535 h"),
    ] {
        let t = target(dest);
        assert_eq!(t.shown(), shown);
        assert_eq!(t.login(), login);
    }
    assert_eq!(
        target("root@[::1]:2222").destination(),
        ["-p", "2222", "-l", "root", "--", "::1"]
    );
    assert_eq!(target("box").destination(), ["--", "box"]);
}

#[test]
fn hostile_or_odd_destinations_are_refused() {
    for dest in [
        "-oProxyCommand=touch /tmp/x",
        "root@-oProxyCommand=x",
        "-h",
        "a;b",
        "root@a;b",
        "$(x)",
        "root@$(touch /tmp/x)",
        "`id`@h",
        "a b",
        "root@a b",
        "ro ot@h",
        "-root@h",
        "a@b@c",
        "@h",
        "",
        "h\nid",
        "h:0",
        "h:65536",
        "h:+22",
        "h:",
        "h:22:33",
        "::1",
        "[::1",
        "[box]:22",
        "[::1]22",
        "-.box",
        "box-.lan",
        "a..b",
        "h'",
        "h|id",
        "h&",
        "h>x",
        "naïve",
    ] {
        let e = SshTarget::parse(dest, "").expect_err(dest);
        assert!(e.to_string().contains("refused"), "{dest}: {e}");
    }
}

#[test]
fn extra_options_are_only_dash_o_pairs() {
    let t = SshTarget::parse(
        "h",
        "-o StrictHostKeyChecking=no -oUserKnownHostsFile=/tmp/k -o 'IdentityFile /tmp/my key'",
    )
    .unwrap();
    assert_eq!(
        t.options,
        [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/tmp/k",
            "-o",
            "IdentityFile /tmp/my key"
        ]
    );
    for bad in [
        "-F /tmp/config",
        "host",
        "-o",
        "-o NoValue",
        "-o =x",
        "-o Proxy-Command=x",
        "-o 'unclosed",
        "-oStrict=no extra",
    ] {
        assert!(SshTarget::parse("h", bad).is_err(), "{bad}");
    }
}

fn ssh(dest: &str, opts: &str, secs: f64) -> Ssh {
    let t = SshTarget::parse(dest, opts).unwrap();
    Ssh::new(t, Path::new("/tmp/sd-ssh-x"), Duration::from_secs_f64(secs))
}

#[test]
fn the_master_is_bounded_multiplexed_and_forwards_socks() {
    let s = ssh("root@127.0.0.1:2222", "-o StrictHostKeyChecking=no", 1.5);
    let a = s.master_args(40123);
    let want = [
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=2",
        "-o",
        "ControlPath=/tmp/sd-ssh-x/%C",
        // The user's options come after ours: ssh keeps the first value of each.
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "ControlMaster=yes",
        "-o",
        "ControlPersist=16",
        "-o",
        "ExitOnForwardFailure=yes",
        "-D",
        "127.0.0.1:40123",
        "-N",
        "-f",
        "-p",
        "2222",
        "-l",
        "root",
        "--",
        "127.0.0.1",
    ];
    assert_eq!(a, want);
}

#[test]
fn clients_and_control_commands_use_the_master_and_end_with_the_destination() {
    let s = ssh("box", "", 5.0);
    let c = s.client_args("'/usr/bin/tailscale' status");
    assert!(
        c.windows(2).any(|w| w == ["-o", "ControlMaster=no"]),
        "{c:?}"
    );
    assert!(c.contains(&"ControlPath=/tmp/sd-ssh-x/%C".to_string()));
    assert!(c.contains(&"BatchMode=yes".to_string()));
    assert!(c.contains(&"ConnectTimeout=5".to_string()));
    assert_eq!(
        c[c.len() - 3..],
        ["--", "box", "'/usr/bin/tailscale' status"]
    );
    let x = s.control_args("exit");
    assert_eq!(x[x.len() - 4..], ["-O", "exit", "--", "box"]);
}

#[test]
fn remote_words_stay_words_through_a_real_shell() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("pwned");
    let hostile = format!("$(touch {})", canary.display());
    let words = [
        "printf",
        "%s\\n",
        hostile.as_str(),
        "a;touch x",
        "it's",
        "`id`",
        "two words",
        "--https=443",
        "",
        "naïve",
    ];
    let line = remote_command(&words);
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &line])
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let want: String = words[2..].iter().map(|w| format!("{w}\n")).collect();
    assert_eq!(printed, want, "{line}");
    assert!(!canary.exists());
}

#[test]
fn the_cli_search_runs_in_one_shell_and_honours_a_given_path() {
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("my tailscale");
    std::fs::write(&cli, "#!/bin/sh\n").unwrap();
    let sh = |given: Option<&Path>| {
        let o = std::process::Command::new("/bin/sh")
            .args(["-c", &find_cli_command(given)])
            .output()
            .unwrap();
        Output {
            code: o.status.code(),
            stdout: o.stdout,
            stderr: o.stderr,
            ms: 0,
        }
    };
    // Not executable yet: the given path is all that is looked at.
    let Reach::NoCli(nf) = found_cli(Some(&cli), &sh(Some(&cli))) else {
        panic!("found a non-executable file")
    };
    assert_eq!(nf.forced.as_deref(), Some(cli.as_path()));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Reach::Cli(l) = found_cli(Some(&cli), &sh(Some(&cli))) else {
        panic!("not found")
    };
    assert_eq!((l.path, l.source), (cli.clone(), CliSource::Flag));
    let done = |out: &str| Output {
        code: Some(0),
        stdout: out.into(),
        stderr: vec![],
        ms: 0,
    };
    let source = |p: &str| match found_cli(None, &done(p)) {
        Reach::Cli(l) => l.source,
        other => panic!("{other:?}"),
    };
    assert_eq!(source(&format!("{MAC_GUI}\n")), CliSource::MacGui);
    assert_eq!(source(&format!("{HOMEBREW_ARM}\n")), CliSource::Homebrew);
    assert_eq!(source("/usr/bin/tailscale\n"), CliSource::Path);
    let missing = Output {
        code: Some(3),
        ..done("")
    };
    assert!(matches!(found_cli(None, &missing), Reach::NoCli(_)));
}

#[test]
fn ssh_failures_read_as_one_line() {
    let s = ssh("root@box:2222", "", 2.0);
    let msg = |stderr: &str| s.failure(stderr).describe();
    assert_eq!(
        msg(
            "Warning: Permanently added '[box]:2222' (ED25519) to the list of known hosts.\r\nroot@box: Permission denied (publickey).\r\n"
        ),
        "ssh to root@box:2222 failed: root@box: Permission denied (publickey)."
    );
    assert_eq!(
        msg(
            "Connection timed out during banner exchange\r\nConnection to box port 2222 timed out\r\n"
        ),
        "ssh to root@box:2222 did not answer within 2 s"
    );
    assert_eq!(msg(""), "ssh to root@box:2222 failed: ssh exited with 255");
    let exec = Exec::Ssh(Arc::new(s));
    let lost = Output {
        code: Some(255),
        stdout: vec![],
        stderr: b"kex_exchange_identification: read: Connection reset by peer".to_vec(),
        ms: 0,
    };
    assert!(matches!(
        exec.lost(&Ok(lost.clone())),
        Some(CliFailure::NoConnection { .. })
    ));
    assert_eq!(
        exec.lost(&Ok(Output {
            code: Some(1),
            ..lost
        })),
        None
    );
    assert_eq!(
        Exec::Local.lost(&Ok(Output {
            code: Some(255),
            stdout: vec![],
            stderr: vec![],
            ms: 0
        })),
        None
    );
}

#[test]
fn commands_are_shown_as_the_ssh_line_that_runs_them() {
    let exec = Exec::Ssh(Arc::new(ssh("root@127.0.0.1:2222", "", 5.0)));
    assert_eq!(
        exec.show("/usr/bin/tailscale serve reset".into()),
        "ssh -p 2222 root@127.0.0.1 '/usr/bin/tailscale serve reset'"
    );
    assert_eq!(
        exec.prefix("/usr/bin/tailscale"),
        "ssh -p 2222 root@127.0.0.1 /usr/bin/tailscale"
    );
    assert_eq!(Exec::Local.show("tailscale up".into()), "tailscale up");
}

#[test]
fn the_master_pid_comes_from_check() {
    let out = |text: &str| {
        Ok(Output {
            code: Some(0),
            stdout: vec![],
            stderr: text.into(),
            ms: 0,
        })
    };
    assert_eq!(
        master_pid(&out("Master running (pid=4242)\r\n")),
        Some(4242)
    );
    assert_eq!(
        master_pid(&out("Control socket connect: No such file")),
        None
    );
    assert_eq!(master_pid(&out("Master running (pid=1)")), None);
}
