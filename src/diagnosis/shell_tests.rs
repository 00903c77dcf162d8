//! Every command a diagnosis prints, for every cause and platform, run through a real `sh`: with
//! a node name, a CLI path and an SSH user full of spaces, unicode, `$(…)`, backticks and
//! quotes, each must come back as exactly the argv it stands for.

use chrono::Utc;

use super::*;
use crate::shell::argv_by_sh;
use crate::tailscale::{CliSource, Located, Status};

const CLI: &str = "/opt/My Tools/ü $(echo INJECTED) `echo INJECTED`/it's \"tailscale\"";
const NAME: &str = "box $(echo INJECTED) `echo INJECTED` 'q' \"d\" ü;x.tail1234.ts.net";
const USER: &str = "al ice$(echo INJECTED)'";

fn evidence(platform: Platform, config_port: Option<u16>) -> Evidence {
    let status = serde_json::json!({
        "BackendState": "Running", "TUN": true, "TailscaleIPs": ["100.64.0.1"],
        "Self": {"DNSName": format!("{NAME}."), "TailscaleIPs": ["100.64.0.1"], "Online": true},
        "CertDomains": [NAME],
    });
    let mut ev = Evidence::new(
        Utc::now(),
        platform,
        Inputs {
            config_port,
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
    ev
}

/// The argv the fix's command stands for; `None` for the fixed pipelines that carry no value
/// from outside (and so nothing to quote).
fn intended(id: FixId, cause: Cause, platform: Platform, port_arg: &[&str]) -> Option<Vec<String>> {
    let uid = nix::unistd::getuid().to_string();
    let v: Vec<&str> = match id {
        FixId::CheckDaemonLogs => return None,
        FixId::RenewCert => vec![CLI, "cert", NAME],
        FixId::StartTailscale => match platform {
            Platform::MacOs => vec!["open", "-a", "Tailscale"],
            _ if cause == Cause::DaemonUnreachable => {
                vec!["sudo", "systemctl", "start", "tailscaled"]
            }
            _ => vec![CLI, "up"],
        },
        FixId::CheckCliAccess => match platform {
            Platform::MacOs => vec!["/bin/launchctl", "asuser", &uid, CLI, "status", "--json"],
            _ => vec![CLI, "status", "--json"],
        },
        FixId::LogIn => vec![CLI, "up"],
        FixId::ConfigureServe => vec![CLI, "serve", "--bg", "18080"],
        FixId::ServeHttps => vec![CLI, "serve", "--bg", "--https=443", "18080"],
        FixId::RecreateServe => [&["serve-doctor", "fix", "recreate"], port_arg].concat(),
        FixId::HttpFallback => [&["serve-doctor", "fix", "http-fallback"], port_arg].concat(),
        FixId::WaitForCert => vec!["serve-doctor", "diagnose"],
        FixId::SshTunnel => {
            let target = format!("{USER}@{NAME}");
            return Some(
                ["ssh", "-N", "-L", "18080:127.0.0.1:18080", &target]
                    .map(String::from)
                    .to_vec(),
            );
        }
        other => panic!("{other} prints a command this test does not know: add it"),
    };
    Some(v.into_iter().map(String::from).collect())
}

#[test]
fn every_printed_command_is_the_argv_it_means_whatever_the_names_hold() {
    let mut seen = std::collections::BTreeSet::new();
    for platform in [Platform::Linux, Platform::MacOs] {
        for (config_port, port_arg) in [(None, &[][..]), (Some(18080), &["--port", "18080"][..])] {
            let ev = evidence(platform, config_port);
            let p = plan(&ev);
            assert_eq!(p.dns_name.as_deref(), Some(NAME));
            for &cause in Cause::ALL {
                for f in advice::fixes(cause, &ev, &p, None) {
                    let Some(cmd) = &f.command else { continue };
                    let Some(want) = intended(f.id, cause, platform, port_arg) else {
                        continue;
                    };
                    assert_eq!(argv_by_sh(cmd), want, "{cause} {}: {cmd}", f.id);
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
        FixId::SshTunnel,
    ] {
        assert!(seen.contains(&id), "{id} was never printed");
    }
}
