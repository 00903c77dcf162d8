//! `funnel-off`: tailnet-only again. Every host:port of this node with Funnel on loses it, and
//! what it served stays:
//!
//! - a web server: one of its handlers is re-created with `serve --bg --https=P` (re-running
//!   serve for one mount clears Funnel for the whole host:port, `applyFunnel`);
//! - a TCP forward: `serve --bg --tcp=P TARGET` (or `--tls-terminated-tcp=P`, with its
//!   `--proxy-protocol`), which clears Funnel the same way. Not `funnel --tcp=P off`: that
//!   deletes the forward and leaves the Funnel flag (`removeTCPServe` removes only `TCP[P]`);
//! - a Funnel flag with no handler behind it: the config minus those flags, with `serve set-raw`
//!   first, so nothing can become public later by a handler being added there.
//!
//! The config read back must show each of them private and each handler and forward kept.

use serde_json::Value;

use crate::fix::plan::{Change, Expect, Next, Proposal, Snapshot, Want, cli_with_stdin};
use crate::tailscale::ports::{PortKind, kind};
use crate::tailscale::route::Write;
use crate::tailscale::serve::{HttpHandler, split_host_port};

pub fn plan(snap: &Snapshot) -> Proposal {
    let (serve, dns) = (&snap.serve, &snap.dns);
    let mut writes = vec![];
    let mut want = vec![];
    let mut forwards = vec![];
    let mut private = vec![];
    let mut removes = vec![];
    let mut orphans = vec![];
    for (hp, on) in &serve.allow_funnel {
        let Some((host, port)) = split_host_port(hp) else {
            continue;
        };
        if !*on || host != dns {
            continue;
        }
        let tcp = serve.tcp.get(&port.to_string());
        if let Some(web) = serve.web.get(hp) {
            let Some((path, h)) = web
                .handlers
                .get_key_value("/")
                .or_else(|| web.handlers.iter().next())
            else {
                orphans.push(hp.clone());
                continue;
            };
            let Some(tgt) = cli_target(h) else {
                return Proposal::refuse(format!(
                    "the handler at {hp}{path} ({}) cannot be re-created with `tailscale serve`; turn Funnel off with `tailscale funnel --https={port} off` (this removes the handler)",
                    h.describe()
                ));
            };
            let http = tcp.and_then(kind) == Some(PortKind::Http);
            let port_arg = if http {
                format!("--http={port}")
            } else {
                format!("--https={port}")
            };
            let set_path = format!("--set-path={path}");
            let mut args = vec!["serve", "--bg", port_arg.as_str()];
            if path != "/" {
                args.push(&set_path);
            }
            args.push(&tgt);
            writes.push(Write::cli(&args));
            removes.push(format!(
                "Funnel (public access) for {}://{hp}",
                if http { "http" } else { "https" }
            ));
            want.push(Want {
                host: host.to_string(),
                port,
                path: path.clone(),
                what: h.describe(),
                http,
                funnel: Some(false),
            });
        } else if let Some(t) = tcp.filter(|t| !t.tcp_forward.is_empty()) {
            let flag = if kind(t) == Some(PortKind::TlsTerminatedTcp) {
                format!("--tls-terminated-tcp={port}")
            } else {
                format!("--tcp={port}")
            };
            let proxy = proxy_protocol(&snap.clean, port).map(|v| format!("--proxy-protocol={v}"));
            let mut args = vec!["serve", "--bg", flag.as_str()];
            if let Some(pp) = &proxy {
                args.push(pp);
            }
            args.push(&t.tcp_forward);
            writes.push(Write::cli(&args));
            removes.push(format!(
                "Funnel (public access) for TCP port {port} → {} ({hp})",
                t.tcp_forward
            ));
            forwards.push((port, t.tcp_forward.clone()));
        } else {
            orphans.push(hp.clone());
        }
        private.push(hp.clone());
    }
    if !orphans.is_empty() {
        let mut v = snap.clean.clone();
        if let Some(af) = v.get_mut("AllowFunnel").and_then(Value::as_object_mut) {
            for hp in &orphans {
                af.remove(hp);
            }
        }
        for hp in &orphans {
            removes.push(format!("Funnel entry {hp} (no handler behind it)"));
        }
        writes.insert(
            0,
            cli_with_stdin(
                &["serve", "set-raw"],
                serde_json::to_vec(&v).unwrap_or_default(),
                "<the config without those Funnel entries>",
            ),
        );
    }
    let foreground = serve
        .foreground
        .values()
        .any(|fg| fg.allow_funnel.values().any(|on| *on));
    if writes.is_empty() {
        let mut p = Proposal::draft();
        p.next = Next::Nothing(if foreground {
            format!(
                "Funnel is on only in a foreground `tailscale funnel` session for {dns}: stop that session (Ctrl+C in its terminal)"
            )
        } else {
            format!("Funnel is not on for {dns}; nothing to change")
        });
        return p;
    }
    let mut p = Proposal::draft();
    p.plan.removes = removes;
    p.plan.notes.push(
        "the handlers and TCP forwards stay: serving continues inside your tailnet only".into(),
    );
    if foreground {
        p.plan.notes.push(
            "a foreground `tailscale funnel` session also has Funnel on; it ends with its terminal (Ctrl+C there)".into(),
        );
    }
    p.plan.undo.push("serve-doctor fix funnel-on --yes".into());
    let n = private.len();
    p.next = Next::Write(Change {
        writes,
        expect: Expect::Has {
            want,
            others: vec![],
            forwards,
            private: private.clone(),
        },
        done: format!(
            "Funnel is off for {}: tailnet-only again",
            if n == 1 {
                private[0].clone()
            } else {
                private.join(", ")
            }
        ),
    });
    p
}

/// A forward's `ProxyProtocol` (1 or 2), read from the raw config: our model does not carry it.
fn proxy_protocol(clean: &Value, port: u16) -> Option<u64> {
    clean
        .get("TCP")?
        .get(port.to_string())?
        .get("ProxyProtocol")?
        .as_u64()
        .filter(|v| *v == 1 || *v == 2)
}

/// What `serve` needs to re-create a handler: its target argument.
fn cli_target(h: &HttpHandler) -> Option<String> {
    if !h.proxy.is_empty() {
        Some(h.proxy.clone())
    } else if !h.path.is_empty() {
        Some(h.path.clone())
    } else if !h.text.is_empty() {
        Some(format!("text:{}", h.text))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::plan::verify;
    use crate::tailscale::{ServeConfig, Status};

    fn snap(serve: &str) -> Snapshot {
        let st =
            Status::from_json(br#"{"BackendState":"Running","Self":{"DNSName":"box.t.ts.net."}}"#)
                .unwrap();
        let c = ServeConfig::from_json(serve.as_bytes()).unwrap();
        Snapshot::new(st, c, serve.into(), None).unwrap()
    }

    #[test]
    fn each_public_port_is_served_again_and_others_nodes_are_left_alone() {
        let p = plan(&snap(
            r#"{"TCP":{"443":{"HTTPS":true},"8443":{"HTTPS":true}},
                "Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}},
                       "box.t.ts.net:8443":{"Handlers":{"/docs/":{"Path":"/srv/docs"}}}},
                "AllowFunnel":{"box.t.ts.net:443":true,"box.t.ts.net:8443":true,"old.t.ts.net:443":true}}"#,
        ));
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert_eq!(
            c.writes,
            vec![
                Write::cli(&["serve", "--bg", "--https=443", "http://127.0.0.1:3000"]),
                Write::cli(&[
                    "serve",
                    "--bg",
                    "--https=8443",
                    "--set-path=/docs/",
                    "/srv/docs"
                ]),
            ]
        );
    }

    #[test]
    fn public_tcp_forwards_are_served_again_as_forwards_and_checked_private() {
        let raw = r#"{"TCP":{"443":{"HTTPS":true},"10000":{"TCPForward":"127.0.0.1:22","ProxyProtocol":2},
                "8443":{"TCPForward":"127.0.0.1:5432","TerminateTLS":"box.t.ts.net"}},
                "Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}},
                "AllowFunnel":{"box.t.ts.net:443":true,"box.t.ts.net:10000":true,"box.t.ts.net:8443":true,"box.t.ts.net:9999":true}}"#;
        let p = plan(&snap(raw));
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert!(
            matches!(&c.writes[0], Write::Cli { args, stdin: Some(_) } if args == &["serve", "set-raw"])
        );
        assert_eq!(
            c.writes[1..],
            [
                Write::cli(&[
                    "serve",
                    "--bg",
                    "--tcp=10000",
                    "--proxy-protocol=2",
                    "127.0.0.1:22"
                ]),
                Write::cli(&["serve", "--bg", "--https=443", "http://127.0.0.1:3000"]),
                Write::cli(&[
                    "serve",
                    "--bg",
                    "--tls-terminated-tcp=8443",
                    "127.0.0.1:5432"
                ]),
            ]
        );
        let Write::Cli {
            stdin: Some((body, _)),
            ..
        } = &c.writes[0]
        else {
            panic!()
        };
        let v: Value = serde_json::from_slice(body).unwrap();
        assert!(v["AllowFunnel"].get("box.t.ts.net:9999").is_none());
        assert_eq!(v["AllowFunnel"]["box.t.ts.net:443"], true);
        assert_eq!(p.plan.removes.len(), 4, "{:?}", p.plan.removes);
        assert!(p.plan.removes.iter().any(|l| l.contains("TCP port 10000")));

        // Verification: still public anywhere fails; all private with the forwards kept passes.
        let still = ServeConfig::from_json(raw.as_bytes()).unwrap();
        assert!(
            verify(&c.expect, &still, &Value::Null)
                .unwrap_err()
                .contains("still public")
        );
        let after = ServeConfig::from_json(
            br#"{"TCP":{"443":{"HTTPS":true},"10000":{"TCPForward":"127.0.0.1:22"},"8443":{"TCPForward":"127.0.0.1:5432","TerminateTLS":"box.t.ts.net"}},
                "Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}"#,
        )
        .unwrap();
        assert_eq!(verify(&c.expect, &after, &Value::Null), Ok(()));
        let forward_lost = ServeConfig::from_json(
            br#"{"TCP":{"443":{"HTTPS":true},"8443":{"TCPForward":"127.0.0.1:5432","TerminateTLS":"box.t.ts.net"}},
                "Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}"#,
        )
        .unwrap();
        assert!(verify(&c.expect, &forward_lost, &Value::Null).is_err());
    }

    #[test]
    fn nothing_to_do_when_funnel_is_off() {
        let p = plan(&snap("{}"));
        assert!(matches!(p.next, Next::Nothing(_)));
    }
}
