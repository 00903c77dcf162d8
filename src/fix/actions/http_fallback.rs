//! `http-fallback`: `serve --bg --http=80 TARGET` — plain HTTP on the tailnet, for when no
//! certificate can be had. WireGuard still encrypts the hop between devices; the HTTPS handlers
//! are left as they are.

use crate::fix::plan::{
    Change, Env, Expect, Next, Proposal, Snapshot, replaced, target, want_proxy,
};
use crate::tailscale::route::Write;

/// The port plain HTTP is served on.
pub const PORT: u16 = 80;

pub fn plan(snap: &Snapshot, env: &Env) -> Proposal {
    let dns = &snap.dns;
    let tgt = target(env, &snap.serve, None);
    let url = format!("http://{dns}/");
    let port_arg = format!("--http={PORT}");
    let mut p = Proposal::draft();
    p.plan.removes = replaced(&snap.serve, dns, PORT, &url);
    p.plan.notes.extend([
        format!("the address becomes {url} (plain HTTP on the tailnet; WireGuard still encrypts the hop between your devices)"),
        "browsers will call it \"not secure\"; apps that need a secure context (clipboard, service workers, some web IDE features) may not fully work".into(),
        "the HTTPS handlers are left as they are".into(),
    ]);
    let off = format!("{} serve --http={PORT} off", env.cli);
    p.plan.undo.push(off.clone());
    p.url = Some(url.clone());
    p.next = Next::Write(Change {
        writes: vec![Write::cli(&["serve", "--bg", &port_arg, &tgt])],
        expect: Expect::has(vec![want_proxy(dns, PORT, &tgt, true, None)]),
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
}
