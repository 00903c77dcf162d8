//! `http-fallback`: `serve --bg --http=80 TARGET` — plain HTTP on the tailnet, for when no
//! certificate can be had. WireGuard still encrypts the hop between devices; the HTTPS handlers
//! are left as they are.

use crate::fix::plan::{
    Change, Env, Expect, Next, Proposal, Snapshot, replaced, target, want_proxy,
};
use crate::tailscale::ports::{HTTP_PORTS, PortKind, conflict, free};
use crate::tailscale::route::Write;

/// The port plain HTTP is served on when it is free.
pub const PORT: u16 = 80;

/// `:port`, or nothing for 80.
fn port_suffix_http(port: u16) -> String {
    if port == 80 {
        String::new()
    } else {
        format!(":{port}")
    }
}

pub fn plan(snap: &Snapshot, env: &Env) -> Proposal {
    let dns = &snap.dns;
    let tgt = target(env, &snap.serve, None);
    // tailscaled refuses plain HTTP on a port that serves something else (HTTPS, a TCP
    // forward): move to a free port rather than plan a write that cannot succeed.
    let mut p = Proposal::draft();
    let port = match conflict(&snap.serve, PORT, PortKind::Http) {
        None => PORT,
        Some(why) => match free(&snap.serve, PortKind::Http, &HTTP_PORTS) {
            Some(other) => {
                p.plan
                    .notes
                    .push(format!("serves on port {other}, not {PORT}: {why}"));
                other
            }
            None => return Proposal::refuse(why),
        },
    };
    let url = format!("http://{dns}{}/", port_suffix_http(port));
    let port_arg = format!("--http={port}");
    p.plan.removes = replaced(&snap.serve, dns, port, &url);
    p.plan.notes.extend([
        format!("the address becomes {url} (plain HTTP on the tailnet; WireGuard still encrypts the hop between your devices)"),
        "browsers will call it \"not secure\"; apps that need a secure context (clipboard, service workers, some web IDE features) may not fully work".into(),
        "the HTTPS handlers are left as they are".into(),
    ]);
    let off = format!("{} serve --http={port} off", env.cli);
    p.plan.undo.push(off.clone());
    p.url = Some(url.clone());
    p.next = Next::Write(Change {
        writes: vec![Write::cli(&["serve", "--bg", &port_arg, &tgt])],
        expect: Expect::has(vec![want_proxy(dns, port, &tgt, true, None)]),
        done: format!("serving over plain HTTP at {url} (undo: {off})"),
    });
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tailscale::route::RouteKind;
    use crate::tailscale::{ServeConfig, Status};

    #[test]
    fn serves_the_configured_port_over_http_and_says_how_to_undo() {
        let st =
            Status::from_json(br#"{"BackendState":"Running","Self":{"DNSName":"box.t.ts.net."}}"#)
                .unwrap();
        let snap = Snapshot::new(st, ServeConfig::default(), String::new(), None).unwrap();
        let env = Env {
            route: RouteKind::Cli,
            cli: "/usr/bin/tailscale".into(),
            port: Some(3000),
            default_port: None,
        };
        let p = plan(&snap, &env);
        let Next::Write(c) = &p.next else { panic!() };
        assert_eq!(
            c.writes,
            vec![Write::cli(&[
                "serve",
                "--bg",
                "--http=80",
                "http://127.0.0.1:3000"
            ])]
        );
        assert_eq!(p.plan.undo, vec!["/usr/bin/tailscale serve --http=80 off"]);
        assert_eq!(p.url.as_deref(), Some("http://box.t.ts.net/"));
    }

    #[test]
    fn keeps_the_served_target_and_steps_around_a_port_tailscaled_would_refuse() {
        let st =
            Status::from_json(br#"{"BackendState":"Running","Self":{"DNSName":"box.t.ts.net."}}"#)
                .unwrap();
        let raw = r#"{"TCP":{"443":{"HTTPS":true},"80":{"TCPForward":"127.0.0.1:8081"}},
            "Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000/app"}}}}}"#;
        let cfg = ServeConfig::from_json(raw.as_bytes()).unwrap();
        let snap = Snapshot::new(st, cfg, raw.into(), None).unwrap();
        let env = Env {
            route: RouteKind::Cli,
            cli: "tailscale".into(),
            port: None,
            default_port: Some(9999),
        };
        let p = plan(&snap, &env);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert_eq!(
            c.writes,
            vec![Write::cli(&[
                "serve",
                "--bg",
                "--http=8080",
                "http://127.0.0.1:3000/app"
            ])]
        );
        assert_eq!(p.url.as_deref(), Some("http://box.t.ts.net:8080/"));
        assert!(p.plan.notes[0].contains("forwards TCP to 127.0.0.1:8081"));
        assert_eq!(p.plan.undo, vec!["tailscale serve --http=8080 off"]);
    }
}
