//! `funnel-on`: `funnel --bg --https=443 TARGET` — the backend becomes public on the internet.
//!
//! Refused, with the reason, whenever Funnel cannot work: certificates off or failing (Funnel
//! uses the same certificate, so it is never a way around a certificate problem), the node
//! lacking the `funnel` attribute, port 443 not in its `funnel-ports`.

use crate::diagnosis::Cause;
use crate::diagnosis::rules::ADMIN_DNS_URL;
use crate::engine::Engine;
use crate::fix::FixOptions;
use crate::fix::plan::{
    Change, Env, Expect, Next, Proposal, Snapshot, replaced, target, target_and_port, want_proxy,
};
use crate::tailscale::Status;
use crate::tailscale::ports::{PortKind, conflict};
use crate::tailscale::route::Write;

/// The port Funnel is turned on for unless serve already runs elsewhere; the CLI's own Funnel
/// check (`verifyFunnelEnabled`) always looks at 443, so 443 must be allowed in any case.
pub const PORT: u16 = 443;

/// The Funnel port capability: `https://tailscale.com/cap/funnel-ports?ports=443,8443,…`.
const FUNNEL_PORTS_CAP: &str = "https://tailscale.com/cap/funnel-ports?ports=";

const CANNOT_HELP: &str = "Funnel uses the same certificate, so it cannot help; use `serve-doctor fix http-fallback` or `serve-doctor fix tunnel-command` instead";

/// A diagnosis's cause and summary when it says certificates are failing.
pub type CertTrouble = Option<(Cause, String)>;

/// Asks a diagnosis whether certificates work (only when the status alone does not already
/// refuse: a diagnosis costs a handshake).
pub async fn gather(snap: &Snapshot, opts: &FixOptions) -> CertTrouble {
    if precheck(&snap.status).is_some() {
        return None;
    }
    let engine = Engine::new(opts.engine.clone()).ok()?;
    let d = engine.diagnose(|_| {}).await;
    matches!(
        d.cause,
        Cause::HttpsDisabled
            | Cause::MagicdnsDisabled
            | Cause::CertIssuanceFailing
            | Cause::CertPending
            | Cause::CertInvalid
    )
    .then_some((d.cause, d.summary))
}

pub fn plan(snap: &Snapshot, env: &Env, certs: &CertTrouble) -> Proposal {
    if let Some(why) = precheck(&snap.status) {
        return Proposal::refuse(why);
    }
    if let Some((cause, summary)) = certs {
        return Proposal::refuse(format!(
            "certificates are failing ({cause}: {summary}); {CANNOT_HELP}"
        ));
    }
    let dns = &snap.dns;
    // The endpoint the user already has becomes public, with its target as it is: the `/`
    // HTTPS handler (on 443 when there is one there), else the backend on 443.
    let (tgt, port) = match env.port {
        Some(_) => (target(env, &snap.serve, Some(PORT)), PORT),
        None => target_and_port(env, &snap.serve, None),
    };
    if port != PORT
        && let Err(e) = port_allowed(&snap.status, port)
    {
        return Proposal::refuse(format!(
            "serve runs on https://{dns}:{port}/ and {e}: allow it in the funnel nodeAttrs of the tailnet policy file, or serve it on 443 first (serve-doctor fix recreate --https-port 443)"
        ));
    }
    if let Some(why) = conflict(&snap.serve, port, PortKind::Https) {
        return Proposal::refuse(format!(
            "{why}; Funnel can only be turned on for an HTTPS port here"
        ));
    }
    let public = snap.https_url(port);
    let port_arg = format!("--https={port}");
    let mut p = Proposal::draft();
    p.plan.removes = replaced(&snap.serve, dns, port, &public);
    p.plan.notes.push(format!(
        "PUBLIC: {public} becomes reachable by anyone on the internet, not just your tailnet"
    ));
    p.plan
        .undo
        .push("serve-doctor fix funnel-off --yes (keeps tailnet-only serving)".into());
    p.url = Some(public.clone());
    p.next = Next::Write(Change {
        writes: vec![Write::cli(&["funnel", "--bg", &port_arg, &tgt])],
        expect: Expect::has(vec![want_proxy(dns, port, &tgt, false, Some(true))]),
        done: format!(
            "Funnel is on: {public} is public on the internet (undo: serve-doctor fix funnel-off)"
        ),
    });
    p
}

/// What the status alone says against Funnel.
fn precheck(status: &Status) -> Option<String> {
    if !status.has_cap("https") || status.cert_domains.is_empty() {
        return Some(format!(
            "HTTPS certificates are not enabled for this tailnet, and Funnel needs them: enable HTTPS in {ADMIN_DNS_URL} (serve-doctor fix open-admin). Until then {CANNOT_HELP}"
        ));
    }
    if let Some(w) = status
        .health
        .iter()
        .find(|h| h.contains("Fetching TLS certificate"))
    {
        return Some(format!(
            "the certificate is still being issued (\"{w}\"); {CANNOT_HELP} until it is"
        ));
    }
    if !status.has_cap("funnel") {
        return Some(
            "this node lacks the \"funnel\" node attribute: add it to the tailnet policy file (nodeAttrs, see https://tailscale.com/s/no-funnel), then try again".into(),
        );
    }
    port_allowed(status, PORT)
        .err()
        .map(|e| format!("{e}: allow it in the funnel nodeAttrs of the tailnet policy file"))
}

/// Whether the funnel-ports capability allows `port` (written "443,8443,10000" or with ranges).
fn port_allowed(st: &Status, port: u16) -> Result<(), String> {
    let Some(node) = st.self_node.as_ref() else {
        return Err("no self node in status".into());
    };
    let spec = node
        .cap_map
        .keys()
        .chain(node.capabilities.iter())
        .find_map(|k| k.strip_prefix(FUNNEL_PORTS_CAP))
        .map(str::to_string);
    let Some(spec) = spec else {
        return Err(format!(
            "port {port} is not allowed for Funnel: the node has no funnel-ports capability"
        ));
    };
    let ok = spec.split(',').any(|p| match p.split_once('-') {
        Some((a, b)) => {
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= port && port <= b)
        }
        None => p.parse::<u16>() == Ok(port),
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "port {port} is not allowed for Funnel; allowed ports are: {spec}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tailscale::ServeConfig;
    use crate::tailscale::route::RouteKind;

    #[test]
    fn funnel_ports_singles_and_ranges() {
        let st = Status::from_json(
            br#"{"Self":{"CapMap":{"https://tailscale.com/cap/funnel-ports?ports=8443,10000-10010":null}}}"#,
        )
        .unwrap();
        assert!(
            port_allowed(&st, 443)
                .unwrap_err()
                .contains("allowed ports are: 8443,10000-10010")
        );
        assert!(port_allowed(&st, 10005).is_ok());
        let none = Status::from_json(br#"{"Self":{}}"#).unwrap();
        assert!(port_allowed(&none, 443).is_err());
    }

    #[test]
    fn refused_without_the_attribute_or_with_failing_certificates_planned_otherwise() {
        let status = |caps: &str| {
            Status::from_json(format!(
                r#"{{"BackendState":"Running","CertDomains":["box.t.ts.net"],"Self":{{"DNSName":"box.t.ts.net.","CapMap":{{{caps}}}}}}}"#
            ).as_bytes())
            .unwrap()
        };
        let env = Env {
            route: RouteKind::Cli,
            cli: "tailscale".into(),
            port: None,
            default_port: None,
        };
        let snap = |st| Snapshot::new(st, ServeConfig::default(), "{}".into(), None).unwrap();
        let no_attr = plan(&snap(status(r#""https":null"#)), &env, &None);
        assert!(
            matches!(&no_attr.next, Next::Refuse(m) if m.contains("\"funnel\" node attribute"))
        );
        let ok = status(
            r#""https":null,"funnel":null,"https://tailscale.com/cap/funnel-ports?ports=443":null"#,
        );
        let failing = Some((Cause::CertIssuanceFailing, "stuck".to_string()));
        let p = plan(&snap(ok.clone()), &env, &failing);
        assert!(matches!(&p.next, Next::Refuse(m) if m.contains("cannot help")));
        let p = plan(&snap(ok.clone()), &env, &None);
        assert!(matches!(&p.next, Next::Write(_)));
        assert!(p.plan.notes[0].starts_with("PUBLIC: https://box.t.ts.net/"));

        // The endpoint the user has, with its target, not a default backend on 443.
        let with = |raw: &str| {
            let c = ServeConfig::from_json(raw.as_bytes()).unwrap();
            Snapshot::new(ok.clone(), c, raw.into(), None).unwrap()
        };
        let on_8443 = with(
            r#"{"TCP":{"8443":{"HTTPS":true}},"Web":{"box.t.ts.net:8443":{"Handlers":{"/":{"Proxy":"https+insecure://127.0.0.1:8443"}}}}}"#,
        );
        let p = plan(&on_8443, &env, &None);
        assert!(
            matches!(&p.next, Next::Refuse(m) if m.contains("port 8443 is not allowed")),
            "{:?}",
            p.next
        );
        let on_443 = with(
            r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000/app"}}}}}"#,
        );
        let p = plan(&on_443, &env, &None);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        assert_eq!(
            c.writes,
            vec![Write::cli(&[
                "funnel",
                "--bg",
                "--https=443",
                "http://127.0.0.1:3000/app"
            ])]
        );
        let forward = with(r#"{"TCP":{"443":{"TCPForward":"127.0.0.1:22"}}}"#);
        let p = plan(&forward, &env, &None);
        assert!(
            matches!(&p.next, Next::Refuse(m) if m.contains("forwards TCP")),
            "{:?}",
            p.next
        );
    }
}
