//! `funnel-off`: tailnet-only again. For each host:port of this node with Funnel on, one of its
//! handlers is re-created with `serve --bg` (re-running serve for one mount clears Funnel for the
//! whole host:port), so the handlers stay and only public access goes.

use crate::fix::plan::{Change, Expect, Next, Proposal, Snapshot, Want};
use crate::tailscale::route::Write;
use crate::tailscale::serve::{HttpHandler, split_host_port};

pub fn plan(snap: &Snapshot) -> Proposal {
    let (serve, dns) = (&snap.serve, &snap.dns);
    let mut writes = vec![];
    let mut want = vec![];
    let mut removes = vec![];
    for (hp, on) in &serve.allow_funnel {
        let Some((host, port)) = split_host_port(hp) else {
            continue;
        };
        if !*on || host != dns {
            continue;
        }
        let Some(web) = serve.web.get(hp) else {
            continue;
        };
        let Some((path, h)) = web
            .handlers
            .get_key_value("/")
            .or_else(|| web.handlers.iter().next())
        else {
            continue;
        };
        let Some(tgt) = cli_target(h) else {
            return Proposal::refuse(format!(
                "the handler at {hp}{path} ({}) cannot be re-created with `tailscale serve`; turn Funnel off with `tailscale funnel --https={port} off` (this removes the handler)",
                h.describe()
            ));
        };
        let port_arg = format!("--https={port}");
        let set_path = format!("--set-path={path}");
        let mut args = vec!["serve", "--bg", port_arg.as_str()];
        if path != "/" {
            args.push(&set_path);
        }
        args.push(&tgt);
        writes.push(Write::cli(&args));
        removes.push(format!("Funnel (public access) for https://{hp}"));
        want.push(Want {
            host: host.to_string(),
            port,
            path: path.clone(),
            what: h.describe(),
            http: false,
            funnel: Some(false),
        });
    }
    if writes.is_empty() {
        let mut p = Proposal::draft();
        p.next = Next::Nothing(format!("Funnel is not on for {dns}; nothing to change"));
        return p;
    }
    let mut p = Proposal::draft();
    p.plan.removes = removes;
    p.plan
        .notes
        .push("the handlers stay: serving continues inside your tailnet only".into());
    p.plan.undo.push("serve-doctor fix funnel-on --yes".into());
    p.next = Next::Write(Change {
        writes,
        expect: Expect::has(want),
        done: format!("Funnel is off: https://{dns}/ is tailnet-only again"),
    });
    p
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
    fn nothing_to_do_when_funnel_is_off() {
        let p = plan(&snap("{}"));
        assert!(matches!(p.next, Next::Nothing(_)));
    }
}
