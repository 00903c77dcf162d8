//! `recreate`: serve the backend at `https://<node>/` again.
//!
//! Over the LocalAPI only this node's `/` handler on that port is replaced (and entries keyed to
//! another node name on the same port removed), in one write conditional on the ETag just read:
//! every other handler, port, TCP forward and Funnel entry stays. The CLI has no such write, so
//! there it is `serve reset`, then (with `--keep-others`) `serve set-raw` of the backup minus
//! our handler, then `serve --bg --https=P TARGET`.

use serde_json::{Map, Value, json};

use crate::fix::edit;
use crate::fix::plan::{
    Change, Env, Expect, Next, Proposal, Snapshot, cli_with_stdin, inventory, port_suffix,
    target_and_port, verify, want_proxy,
};
use crate::tailscale::ServeConfig;
use crate::tailscale::ports::{HTTPS_PORTS, PortKind, conflict, free};
use crate::tailscale::route::{RouteKind, Write};
use crate::tailscale::serve::split_host_port;

pub fn plan(snap: &Snapshot, env: &Env, keep_others: bool, https_port: Option<u16>) -> Proposal {
    let (target, wanted) = target_and_port(env, &snap.serve, https_port);
    // What is still there when our handler is written: tailscaled refuses an HTTPS handler on
    // a port that serves something else (a TCP forward, plain HTTP, a foreground session).
    let stays = match (env.route, keep_others) {
        (RouteKind::LocalApi, _) => snap.serve.clone(),
        (RouteKind::Cli, true) => {
            let others = without_ours(&snap.clean, &snap.dns, wanted);
            ServeConfig::from_json(others.to_string().as_bytes()).unwrap_or_default()
        }
        (RouteKind::Cli, false) => ServeConfig::default(),
    };
    let mut moved = None;
    let port = match conflict(&stays, wanted, PortKind::Https) {
        None => wanted,
        Some(why) if https_port.is_some() => {
            return Proposal::refuse(format!("{why}. Choose another port with --https-port"));
        }
        Some(why) => match free(&stays, PortKind::Https, &HTTPS_PORTS) {
            Some(p) => {
                moved = Some(format!("serves on port {p}, not {wanted}: {why}"));
                p
            }
            None => return Proposal::refuse(why),
        },
    };
    let mut p = match env.route {
        RouteKind::LocalApi => over_api(snap, port, &target),
        RouteKind::Cli => over_cli(snap, keep_others, port, &target),
    };
    if let Some(note) = moved {
        p.plan.notes.insert(0, note);
    }
    p.url = Some(snap.https_url(port));
    p
}

fn over_api(snap: &Snapshot, port: u16, target: &str) -> Proposal {
    let dns = &snap.dns;
    // The raw config, foreground entries included: their sessions are still alive and a
    // LocalAPI write keeps them.
    let original: Value = serde_json::from_str(&snap.raw).unwrap_or(Value::Null);
    let (new, removes) = edited(&original, dns, port, target);
    let mut p = Proposal::draft();
    p.plan.removes = removes;
    p.plan.notes.push(
        "only this node's `/` handler on that port changes; every other handler, port, TCP forward and Funnel entry stays as it is (the write is refused if the config changed since it was read)".into(),
    );
    p.plan
        .undo
        .push("serve-doctor fix restore --yes (restores the backup this run writes)".into());
    let want = Expect::has(vec![want_proxy(dns, port, target, false, None)]);
    let only_replaces = p.plan.removes.iter().all(|l| l.ends_with("(replaced)"));
    p.next = if only_replaces && verify(&want, &snap.serve, &Value::Null).is_ok() {
        Next::Nothing(format!(
            "serve is already set up for {dns} → {target}; nothing to change"
        ))
    } else {
        Next::Write(Change {
            writes: vec![Write::Config {
                body: serde_json::to_vec(&new).unwrap_or_default(),
                if_match: snap.etag.clone(),
                what: format!("https://{dns}{}/ → {target}", port_suffix(port)),
            }],
            expect: want,
            done: format!("serve recreated for {dns} over the LocalAPI (other handlers untouched)"),
        })
    };
    p
}

fn over_cli(snap: &Snapshot, keep_others: bool, port: u16, target: &str) -> Proposal {
    let dns = &snap.dns;
    let mut p = Proposal::draft();
    p.plan.removes = inventory(&snap.serve);
    let mut writes = vec![Write::cli(&["serve", "reset"])];
    let mut expect_others = vec![];
    let mut forwards = vec![];
    if keep_others {
        let others = without_ours(&snap.clean, dns, port);
        if !edit::is_empty(&others) {
            let parsed = ServeConfig::from_json(others.to_string().as_bytes()).unwrap_or_default();
            expect_others = parsed
                .mounts()
                .into_iter()
                .map(|m| (m.host, m.port, m.path, m.what))
                .collect();
            forwards = parsed.tcp_forwards();
            writes.push(cli_with_stdin(
                &["serve", "set-raw"],
                serde_json::to_vec(&others).unwrap_or_default(),
                "<the backup without our handler>",
            ));
        }
        p.plan.notes.push(format!(
            "--keep-others: the other handlers are put back by restoring the backup without our handler (host names rewritten to {dns}) with `serve set-raw`, then ours is added; replaying them one by one with `serve --bg` would lose fields the CLI cannot express and fail for path handlers on macOS"
        ));
    } else if p.plan.removes.len() > 1 {
        p.plan.notes.push(
            "The other entries listed are NOT put back: pass --keep-others to keep them, or run `serve-doctor fix restore` afterwards to bring back everything".into(),
        );
    }
    let port_arg = format!("--https={port}");
    writes.push(Write::cli(&["serve", "--bg", &port_arg, target]));
    p.plan.notes.push(format!(
        "serves {target} at https://{dns}{}/ (tailnet only); the certificate is fetched on the first visit",
        port_suffix(port)
    ));
    p.plan.undo.push(
        "serve-doctor fix restore --yes (restores the backup this run writes; `serve-doctor fix backups` lists them)".into(),
    );
    p.next = Next::Write(Change {
        writes,
        expect: Expect::Has {
            want: vec![want_proxy(dns, port, target, false, None)],
            others: expect_others,
            forwards,
            private: vec![],
        },
        done: format!("serve recreated for {dns}"),
    });
    p
}

/// The config minus every `/` handler on `port` (ours, and the ones keyed to an old name),
/// with the other host names rewritten to this node's.
fn without_ours(clean: &Value, dns: &str, port: u16) -> Value {
    let mut others = clean.clone();
    edit::rename_hosts(&mut others, dns);
    for host in edit::host_names(clean) {
        edit::remove_mount(&mut others, &host, port, "/");
    }
    edit::remove_mount(&mut others, dns, port, "/");
    others
}

/// The config with our handler set and stale-name entries on our port removed; also the lines
/// saying what is replaced or removed.
fn edited(original: &Value, dns: &str, port: u16, target: &str) -> (Value, Vec<String>) {
    let mut obj = match original {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut removes = Vec::new();
    let ours = format!("{dns}:{port}");
    for section in ["Web", "AllowFunnel"] {
        if let Some(Value::Object(m)) = obj.get_mut(section) {
            let stale: Vec<String> = m
                .keys()
                .filter(|k| split_host_port(k).is_some_and(|(h, p)| p == port && h != dns))
                .cloned()
                .collect();
            for k in stale {
                m.remove(&k);
                removes.push(format!(
                    "{section} entry for {k} (another node name on port {port})"
                ));
            }
        }
    }
    if let Some(old) = original.pointer(&format!(
        "/Web/{}/Handlers/~1",
        ours.replace('~', "~0").replace('/', "~1")
    )) {
        removes.push(format!("https://{ours}/ → {old} (replaced)"));
    }
    let tcp = obj.entry("TCP").or_insert_with(|| json!({}));
    if let Some(m) = tcp.as_object_mut() {
        m.insert(port.to_string(), json!({"HTTPS": true}));
    }
    let web = obj.entry("Web").or_insert_with(|| json!({}));
    if let Some(m) = web.as_object_mut() {
        let server = m.entry(ours).or_insert_with(|| json!({"Handlers": {}}));
        if let Some(h) = server.as_object_mut() {
            let handlers = h.entry("Handlers").or_insert_with(|| json!({}));
            if let Some(hm) = handlers.as_object_mut() {
                hm.insert("/".into(), json!({"Proxy": target}));
            }
        }
    }
    (Value::Object(obj), removes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tailscale::Status;

    fn snap(serve: Value) -> Snapshot {
        let status =
            Status::from_json(br#"{"BackendState":"Running","Self":{"DNSName":"box.t.ts.net."}}"#)
                .unwrap();
        let raw = serve.to_string();
        let config = ServeConfig::from_json(raw.as_bytes()).unwrap();
        Snapshot::new(status, config, raw, Some("etag-1".into())).unwrap()
    }

    fn serve_bg(port: u16, target: &str) -> Write {
        Write::cli(&["serve", "--bg", &format!("--https={port}"), target])
    }

    fn env(route: RouteKind) -> Env {
        Env {
            route,
            cli: "tailscale".into(),
            port: None,
            default_port: None,
        }
    }

    #[test]
    fn edit_touches_only_our_handler_and_stale_names_on_our_port() {
        let original = json!({
            "TCP": {"443": {"HTTPS": true}, "8443": {"HTTPS": true}, "2222": {"TCPForward": "127.0.0.1:22"}},
            "Web": {
                "box.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}, "/docs/": {"Path": "/srv"}}},
                "box.t.ts.net:8443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18081"}}},
                "old.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}}}
            },
            "AllowFunnel": {"box.t.ts.net:443": true, "old.t.ts.net:443": true}
        });
        let (v, removes) = edited(&original, "box.t.ts.net", 443, "http://127.0.0.1:18080");
        assert_eq!(
            v["Web"]["box.t.ts.net:443"]["Handlers"]["/"]["Proxy"],
            "http://127.0.0.1:18080"
        );
        assert_eq!(
            v["Web"]["box.t.ts.net:443"]["Handlers"]["/docs/"]["Path"],
            "/srv"
        );
        assert_eq!(
            v["Web"]["box.t.ts.net:8443"],
            original["Web"]["box.t.ts.net:8443"]
        );
        assert_eq!(v["TCP"]["2222"], original["TCP"]["2222"]);
        assert_eq!(v["AllowFunnel"]["box.t.ts.net:443"], true);
        assert!(v["Web"].get("old.t.ts.net:443").is_none());
        assert!(v["AllowFunnel"].get("old.t.ts.net:443").is_none());
        assert_eq!(removes.len(), 3, "{removes:?}");
    }

    #[test]
    fn empty_config_gets_just_our_handler() {
        let (v, removes) = edited(&Value::Null, "box.t.ts.net", 443, "http://127.0.0.1:18080");
        assert_eq!(
            v,
            json!({"TCP": {"443": {"HTTPS": true}}, "Web": {"box.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}}})
        );
        assert!(removes.is_empty());
    }

    #[test]
    fn over_the_localapi_one_conditional_write_and_nothing_when_already_right() {
        let s = snap(json!({}));
        let p = plan(&s, &env(RouteKind::LocalApi), false, None);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert!(
            matches!(&c.writes[..], [Write::Config { if_match: Some(e), .. }] if e == "etag-1")
        );
        assert_eq!(p.url.as_deref(), Some("https://box.t.ts.net/"));

        let s = snap(json!({"TCP": {"443": {"HTTPS": true}},
            "Web": {"box.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}}}));
        let p = plan(&s, &env(RouteKind::LocalApi), false, None);
        assert!(matches!(p.next, Next::Nothing(_)), "{:?}", p.next);
    }

    #[test]
    fn a_tcp_forward_on_443_is_kept_and_serve_moves_to_a_free_port() {
        let s = snap(json!({"TCP": {"443": {"TCPForward": "127.0.0.1:22"}}}));
        for (route, keep) in [(RouteKind::LocalApi, false), (RouteKind::Cli, true)] {
            let p = plan(&s, &env(route), keep, None);
            let Next::Write(c) = &p.next else {
                panic!("{:?}", p.next)
            };
            assert_eq!(p.url.as_deref(), Some("https://box.t.ts.net:8443/"));
            assert!(
                p.plan.notes[0].contains("forwards TCP to 127.0.0.1:22"),
                "{:?}",
                p.plan.notes
            );
            if route == RouteKind::Cli {
                assert_eq!(
                    c.writes.last(),
                    Some(&serve_bg(8443, "http://127.0.0.1:18080"))
                );
            } else {
                let Write::Config { body, .. } = &c.writes[0] else {
                    panic!()
                };
                let v: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(v["TCP"]["443"]["TCPForward"], "127.0.0.1:22");
                assert_eq!(v["TCP"]["8443"]["HTTPS"], true);
            }
        }
        // Asked for 443 by name: refused with the reason and the way out, nothing written.
        let p = plan(&s, &env(RouteKind::LocalApi), false, Some(443));
        assert!(
            matches!(&p.next, Next::Refuse(m) if m.contains("already serving \"tcp\"") && m.contains("--tcp=443 off")),
            "{:?}",
            p.next
        );
        // reset removes the forward anyway (and says so): 443 is free then.
        let p = plan(&s, &env(RouteKind::Cli), false, None);
        assert_eq!(p.url.as_deref(), Some("https://box.t.ts.net/"));
        assert!(p.plan.removes.iter().any(|l| l.contains("TCP port 443")));
    }

    #[test]
    fn after_a_rename_the_target_is_kept_not_the_port_default() {
        let s = snap(json!({"TCP": {"443": {"HTTPS": true}},
            "Web": {"old.t.ts.net:443": {"Handlers": {"/": {"Proxy": "https+insecure://192.168.1.20:8443/app"}}}}}));
        let mut e = env(RouteKind::Cli);
        e.default_port = Some(3000);
        let p = plan(&s, &e, false, None);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert_eq!(
            c.writes.last(),
            Some(&serve_bg(443, "https+insecure://192.168.1.20:8443/app"))
        );
        // --port is an explicit rewire.
        e.port = Some(4000);
        let p = plan(&s, &e, false, None);
        let Next::Write(c) = &p.next else { panic!() };
        assert_eq!(
            c.writes.last(),
            Some(&serve_bg(443, "http://127.0.0.1:4000"))
        );
    }

    #[test]
    fn over_the_cli_reset_then_serve_keeping_the_port_and_target_in_use() {
        let s = snap(
            json!({"TCP": {"8443": {"HTTPS": true}, "2222": {"TCPForward": "127.0.0.1:22"}},
            "Web": {"box.t.ts.net:8443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}}}}}),
        );
        let p = plan(&s, &env(RouteKind::Cli), false, None);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert_eq!(
            c.writes,
            vec![
                Write::cli(&["serve", "reset"]),
                Write::cli(&["serve", "--bg", "--https=8443", "http://127.0.0.1:3000"])
            ]
        );
        assert!(p.plan.notes.iter().any(|n| n.contains("NOT put back")));

        let p = plan(&s, &env(RouteKind::Cli), true, None);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert_eq!(c.writes.len(), 3, "reset, set-raw of the others, serve");
        let Expect::Has { forwards, .. } = &c.expect else {
            panic!()
        };
        assert_eq!(forwards, &vec![(2222, "127.0.0.1:22".to_string())]);
    }
}
