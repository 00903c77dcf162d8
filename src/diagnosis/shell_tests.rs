//! Every command a diagnosis prints, for every cause and platform, run through a real `sh`: with
//! a node name, a CLI path and an SSH user full of spaces, unicode, `$(…)`, backticks and
//! quotes, each must come back as exactly the argv it stands for.

use chrono::Utc;

use super::*;
use crate::shell::argv_by_sh;
use crate::tailscale::{CliSource, Located, ServeConfig, Status};

const CLI: &str = "/opt/My Tools/ü $(echo INJECTED) `echo INJECTED`/it's \"tailscale\"";
const NAME: &str = "box $(echo INJECTED) `echo INJECTED` 'q' \"d\" ü;x.tail1234.ts.net";
const USER: &str = "al ice$(echo INJECTED)'";

fn evidence(platform: Platform, port_flag: Option<u16>) -> Evidence {
    let status = serde_json::json!({
        "BackendState": "Running", "TUN": true, "TailscaleIPs": ["100.64.0.1"],
        "Self": {"DNSName": format!("{NAME}."), "TailscaleIPs": ["100.64.0.1"], "Online": true},
        "CertDomains": [NAME],
    });
    let mut ev = Evidence::new(
        Utc::now(),
        platform,
        Inputs {
            // `--port`: the only source the printed fixes repeat (a config-file port is theirs
            // already).
            port_flag,
            ssh_user: Some(USER.into()),
            default_user: "alice".into(),
            ..Inputs::default()
        },
        Ok(Located {
            path: CLI.into(),
            source: CliSource::Flag,
        }),
    );
    let status = Status::from_json(status.to_string().as_bytes()).expect("status parses");
    ev.status = Step::Done {
        value: Ok(status),
        ms: 1,
    };
    // An https:// backend, so that the https+insecure:// fix names a target too.
    let serve = serde_json::json!({
        "TCP": {"443": {"HTTPS": true}},
        "Web": {format!("{NAME}:443"): {"Handlers": {"/": {"Proxy": "https://127.0.0.1:8443/a b"}}}},
    });
    let serve = ServeConfig::from_json(serve.to_string().as_bytes()).expect("serve parses");
    ev.serve = Step::Done {
        value: Ok(serve),
        ms: 1,
    };
    ev
}

fn one(v: Vec<&str>) -> Vec<Vec<&str>> {
    vec![v]
}

/// The argvs the fix's command may stand for; `None` for the fixed pipelines that carry no
/// value from outside (and so nothing to quote).
fn intended(
    id: FixId,
    cause: Cause,
    platform: Platform,
    port_arg: &[&str],
    port: &str,
) -> Option<Vec<Vec<String>>> {
    let uid = nix::unistd::getuid().to_string();
    let tunnel_target = format!("{USER}@{NAME}");
    // The tunnel aims where serve proxies (the evidence's https://127.0.0.1:8443), whatever
    // --port says.
    let forward = "8443:127.0.0.1:8443".to_string();
    let v: Vec<Vec<&str>> = match id {
        FixId::CheckDaemonLogs => return None,
        FixId::RenewCert => one(vec![CLI, "cert", NAME]),
        FixId::StartTailscale => one(match platform {
            Platform::MacOs => vec!["open", "-a", "Tailscale"],
            _ if cause == Cause::DaemonUnreachable => {
                vec!["sudo", "systemctl", "start", "tailscaled"]
            }
            _ => vec![CLI, "up"],
        }),
        FixId::CheckCliAccess if cause == Cause::ServeConfigUnreadable => {
            one(vec![CLI, "serve", "status", "--json"])
        }
        FixId::CheckCliAccess => one(match platform {
            Platform::MacOs => vec!["/bin/launchctl", "asuser", &uid, CLI, "status", "--json"],
            _ => vec![CLI, "status", "--json"],
        }),
        FixId::LogIn => one(vec![CLI, "up"]),
        // On another HTTPS port when 443 already serves something (here: the evidence's own
        // handler), which tailscaled would refuse to overwrite.
        FixId::ConfigureServe => vec![
            vec![CLI, "serve", "--bg", port],
            vec![CLI, "serve", "--bg", "--https=8443", port],
        ],
        // The served target as configured (scheme and path kept), on a free HTTPS port.
        FixId::ServeHttps => vec![
            vec![CLI, "serve", "--bg", "--https=443", port],
            vec![
                CLI,
                "serve",
                "--bg",
                "--https=443",
                "https://127.0.0.1:8443/a b",
            ],
            vec![
                CLI,
                "serve",
                "--bg",
                "--https=8443",
                "https://127.0.0.1:8443/a b",
            ],
        ],
        FixId::ServeInsecureBackend => one(vec![
            CLI,
            "serve",
            "--bg",
            "--https=443",
            "https+insecure://127.0.0.1:8443/a b",
        ]),
        FixId::RecreateServe => vec![
            [&["serve-doctor", "fix", "recreate"], port_arg].concat(),
            vec!["serve-doctor", "fix", "recreate", "--keep-others"],
            vec!["serve-doctor", "fix", "funnel-off"],
        ],
        FixId::HttpFallback => one([&["serve-doctor", "fix", "http-fallback"], port_arg].concat()),
        FixId::WaitForCert => one(vec!["serve-doctor", "diagnose"]),
        FixId::SshTunnel => one(vec!["ssh", "-N", "-L", &forward, &tunnel_target]),
        other => panic!("{other} prints a command this test does not know: add it"),
    };
    Some(
        v.into_iter()
            .map(|a| a.into_iter().map(String::from).collect())
            .collect(),
    )
}

#[test]
fn every_printed_command_is_the_argv_it_means_whatever_the_names_hold() {
    let mut seen = std::collections::BTreeSet::new();
    for platform in [Platform::Linux, Platform::MacOs] {
        for (port_flag, port_arg) in [(None, &[][..]), (Some(18081), &["--port", "18081"][..])] {
            let ev = evidence(platform, port_flag);
            let p = plan(&ev);
            assert_eq!(p.dns_name.as_deref(), Some(NAME));
            for &cause in Cause::ALL {
                for f in advice::fixes(cause, &ev, &p, None) {
                    let Some(cmd) = &f.command else { continue };
                    let port = p.backend_port.to_string();
                    let Some(want) = intended(f.id, cause, platform, port_arg, &port) else {
                        continue;
                    };
                    let got = argv_by_sh(cmd);
                    assert!(want.contains(&got), "{cause} {}: {cmd} is {got:?}", f.id);
                    seen.insert(f.id);
                }
            }
        }
    }
    // The commands built from outside values were all met.
    for id in [
        FixId::RenewCert,
        FixId::StartTailscale,
        FixId::CheckCliAccess,
        FixId::LogIn,
        FixId::ConfigureServe,
        FixId::ServeHttps,
        FixId::ServeInsecureBackend,
        FixId::SshTunnel,
    ] {
        assert!(seen.contains(&id), "{id} was never printed");
    }
}
