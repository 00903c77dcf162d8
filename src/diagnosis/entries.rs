//! The endpoints of a serve config as data: every entry listed with its kind, whose name it is
//! keyed by, its target, and the probe steps each one gets. Derived from the config alone (pure);
//! `endpoints` judges them.

use crate::tailscale::serve::{ProxyTarget, ServeConfig, split_host_port};

use super::model::{EndpointHost as Host, EndpointKind as Kind, Step};
use crate::probe::{HttpOutcome, TcpOutcome, TlsOutcome};

/// One endpoint, as the config has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Stable within a run and readable: "https://box.t.ts.net:8443/api/", "tcp://box…:2222".
    pub url: String,
    pub kind: Kind,
    pub host: Host,
    pub port: u16,
    pub path: String,
    /// Served over TLS by serve (HTTPS web, or a TCP forward with `TerminateTLS`).
    pub tls: bool,
    /// The SNI a client uses: the host, or `TerminateTLS`'s name.
    pub sni: String,
    /// What the handler does ("proxy http://127.0.0.1:3000", "forward 127.0.0.1:22").
    pub handler: String,
    /// The proxy target, for a proxy handler.
    pub target: Option<ProxyTarget>,
    /// "host:port" a TCP forward dials.
    pub forward: Option<String>,
    /// Funnel is on for its host:port: reachable from the internet.
    pub public: bool,
    /// Lives only as long as the terminal that ran `tailscale serve` without `--bg`.
    pub foreground: bool,
    /// The one the main chain follows.
    pub primary: bool,
}

impl Endpoint {
    /// Whether this node would serve it (and so whether we can probe it).
    pub fn ours(&self) -> bool {
        self.host == Host::ThisNode && matches!(self.kind, Kind::Web | Kind::Tcp)
    }
}

fn host_of(name: &str, dns: &str) -> Host {
    if name == dns {
        Host::ThisNode
    } else if name.contains("${") || name.contains('{') || name.contains('$') {
        Host::Placeholder(name.to_string())
    } else {
        Host::OtherNode(name.to_string())
    }
}

fn web_url(tls: bool, host: &str, port: u16, path: &str) -> String {
    let default = if tls { 443 } else { 80 };
    let scheme = if tls { "https" } else { "http" };
    if port == default {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}:{port}{path}")
    }
}

/// Every endpoint of `cfg` for a node called `dns`: background entries, then foreground ones,
/// then Services. `primary` is (host, port, path) of the one the main chain follows.
pub fn list(cfg: &ServeConfig, dns: &str, primary: Option<(&str, u16, &str)>) -> Vec<Endpoint> {
    let mut out = Vec::new();
    collect(cfg, dns, false, &mut out);
    for fg in cfg.foreground.values() {
        collect(fg, dns, true, &mut out);
    }
    for name in cfg.services.keys() {
        out.push(Endpoint {
            url: name.clone(),
            kind: Kind::Service,
            host: Host::ThisNode,
            port: 0,
            path: String::new(),
            tls: false,
            sni: String::new(),
            handler: "Service".into(),
            target: None,
            forward: None,
            public: false,
            foreground: false,
            primary: false,
        });
    }
    if let Some((h, port, path)) = primary
        && let Some(e) = out.iter_mut().find(|e| {
            e.kind == Kind::Web
                && e.host == Host::ThisNode
                && e.sni == h
                && e.port == port
                && e.path == path
        })
    {
        e.primary = true;
    }
    out
}

fn collect(cfg: &ServeConfig, dns: &str, foreground: bool, out: &mut Vec<Endpoint>) {
    for (hostport, web) in &cfg.web {
        let Some((host, port)) = split_host_port(hostport) else {
            continue;
        };
        let tls = cfg.tcp.get(&port.to_string()).is_some_and(|t| t.https);
        let public = cfg.allow_funnel.get(hostport).copied().unwrap_or(false);
        for (path, h) in &web.handlers {
            out.push(Endpoint {
                url: web_url(tls, host, port, path),
                kind: Kind::Web,
                host: host_of(host, dns),
                port,
                path: path.clone(),
                tls,
                sni: host.to_string(),
                handler: h.describe(),
                target: (!h.proxy.is_empty())
                    .then(|| ProxyTarget::parse(&h.proxy))
                    .flatten(),
                forward: None,
                public,
                foreground,
                primary: false,
            });
        }
    }
    for (port_s, t) in &cfg.tcp {
        let Ok(port) = port_s.parse::<u16>() else {
            continue;
        };
        if t.tcp_forward.is_empty() {
            continue;
        }
        let public = cfg
            .allow_funnel
            .iter()
            .any(|(hp, on)| *on && split_host_port(hp).is_some_and(|(_, p)| p == port));
        let tls = !t.terminate_tls.is_empty();
        let sni = if tls {
            t.terminate_tls.clone()
        } else {
            dns.to_string()
        };
        out.push(Endpoint {
            url: format!("{}://{sni}:{port}", if tls { "tls" } else { "tcp" }),
            kind: Kind::Tcp,
            host: host_of(&sni, dns),
            port,
            path: String::new(),
            tls,
            sni,
            handler: format!(
                "forward {}{}",
                t.tcp_forward,
                if t.proxy_protocol > 0 {
                    format!(" (PROXY protocol v{})", t.proxy_protocol)
                } else {
                    String::new()
                }
            ),
            target: None,
            forward: Some(forward_addr(&t.tcp_forward)),
            public,
            foreground,
            primary: false,
        });
    }
    for (hp, on) in &cfg.allow_funnel {
        let Some((host, port)) = split_host_port(hp) else {
            continue;
        };
        let has_web = cfg.web.contains_key(hp);
        let has_tcp = cfg
            .tcp
            .get(&port.to_string())
            .is_some_and(|t| !t.tcp_forward.is_empty());
        if *on && !has_web && !has_tcp {
            out.push(Endpoint {
                url: format!("funnel://{hp}"),
                kind: Kind::FunnelEntry,
                host: host_of(host, dns),
                port,
                path: String::new(),
                tls: true,
                sni: host.to_string(),
                handler: "nothing (Funnel entry without a handler)".into(),
                target: None,
                forward: None,
                public: true,
                foreground,
                primary: false,
            });
        }
    }
}

/// A TCP forward's target as it is dialed: "127.0.0.1:22", a bare port meaning loopback.
fn forward_addr(t: &str) -> String {
    match t.parse::<u16>() {
        Ok(p) => format!("127.0.0.1:{p}"),
        Err(_) => t.to_string(),
    }
}

/// The probes of one endpoint (the primary's are the main chain's steps).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Steps {
    /// TCP connect to the endpoint's port (TCP forwards without TLS).
    pub listener: Step<TcpOutcome>,
    /// Handshake with the endpoint's SNI on its port (when not the main chain's handshake).
    pub tls: Step<TlsOutcome>,
    /// One request to the endpoint's path through serve.
    pub request: Step<HttpOutcome>,
    /// The proxy target, as serve reaches it.
    pub backend: Step<HttpOutcome>,
    /// TCP connect to a forward's target.
    pub forward: Step<TcpOutcome>,
}
