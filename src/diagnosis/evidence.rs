//! What the collectors found, as plain data, and the probe plan derived from it.
//!
//! Everything the rules look at is in [`Evidence`], including the current time, so the rules
//! stay pure and every one of them is a unit test on hand-written data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::DEFAULT_BACKEND_PORT;
use crate::probe::{HttpOutcome, TlsOutcome};
use crate::tailscale::serve::{ProxyTarget, Scheme, WebMount, proxy_target_port};
use crate::tailscale::{CertCommand, CliFailure, Located, NotFound, ServeConfig, Status};

use super::entries::{self, Endpoint, Steps as EndpointSteps};
use super::model::PortSource;

pub use super::model::Step;

/// The system the fixes are written for (their commands name its tools).
pub use crate::platform::Os as Platform;

/// What the user told us (flags merged over the config file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inputs {
    pub port_flag: Option<u16>,
    pub config_port: Option<u16>,
    pub connect: Option<String>,
    /// `--socks5`: the node's tailnet addresses are reachable through this proxy.
    pub socks5: Option<String>,
    pub deep: bool,
    pub ssh_user: Option<String>,
    pub ssh_host: Option<String>,
    pub tunnel_local_port: Option<u16>,
    /// `$USER`, read by the caller so that the rules need no environment.
    pub default_user: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub now: DateTime<Utc>,
    pub platform: Platform,
    pub inputs: Inputs,
    pub cli: Result<Located, NotFound>,
    /// The LocalAPI endpoint this run talked to, when it did (else the CLI was used).
    pub api: Option<String>,
    pub status: Step<Result<Status, CliFailure>>,
    pub serve: Step<Result<ServeConfig, CliFailure>>,
    pub tls: Step<TlsOutcome>,
    pub backend: Step<HttpOutcome>,
    pub via_serve: Step<HttpOutcome>,
    pub cert_cmd: Step<CertCommand>,
    /// The probes of every endpoint but the primary, by [`Endpoint::url`].
    pub endpoint_steps: BTreeMap<String, EndpointSteps>,
}

impl Evidence {
    pub fn new(
        now: DateTime<Utc>,
        platform: Platform,
        inputs: Inputs,
        cli: Result<Located, NotFound>,
    ) -> Evidence {
        Evidence {
            now,
            platform,
            inputs,
            cli,
            api: None,
            status: Step::NotStarted,
            serve: Step::NotStarted,
            tls: Step::NotStarted,
            backend: Step::NotStarted,
            via_serve: Step::NotStarted,
            cert_cmd: Step::NotStarted,
            endpoint_steps: BTreeMap::new(),
        }
    }

    /// The parsed status, when the call succeeded.
    pub fn status_ok(&self) -> Option<&Status> {
        self.status.value().and_then(|r| r.as_ref().ok())
    }

    pub fn serve_ok(&self) -> Option<&ServeConfig> {
        self.serve.value().and_then(|r| r.as_ref().ok())
    }
}

/// What the node's serve config says about *this* node's HTTPS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeFinding {
    /// No web handler at all (maybe TCP forwards or Services, named in `detail`).
    NotConfigured { detail: String },
    /// Web handlers exist, but keyed by other names (stale after a rename or migration).
    NameMismatch { hosts: Vec<String> },
    /// Our name is served, but over plain HTTP only.
    PlainHttp { port: u16 },
    /// Our name is served over HTTPS on `port`; `mount` is the one at "/" (or the first).
    Https {
        port: u16,
        mount: WebMount,
        mounts: usize,
    },
}

/// Looks for this node's HTTPS handler. Prefers port 443, then the lowest HTTPS port.
pub fn analyze_serve(cfg: &ServeConfig, dns_name: &str) -> ServeFinding {
    let mounts = cfg.mounts();
    if mounts.is_empty() {
        let mut what = Vec::new();
        if !cfg.tcp_forwards().is_empty() {
            what.push(format!(
                "TCP forwards on {}",
                join(cfg.tcp_forwards().iter().map(|(p, _)| p.to_string()))
            ));
        }
        if !cfg.services.is_empty() {
            what.push(format!("Services {}", join(cfg.services.keys().cloned())));
        }
        let detail = if what.is_empty() {
            "no serve config".to_string()
        } else {
            format!("no web handler for this node (only {})", what.join(", "))
        };
        return ServeFinding::NotConfigured { detail };
    }
    let ours: Vec<&WebMount> = mounts.iter().filter(|m| m.host == dns_name).collect();
    if ours.is_empty() {
        let mut hosts: Vec<String> = mounts
            .iter()
            .map(|m| format!("{}:{}", m.host, m.port))
            .collect();
        hosts.dedup();
        return ServeFinding::NameMismatch { hosts };
    }
    let https_port = ours
        .iter()
        .filter(|m| m.https)
        .map(|m| m.port)
        .min_by_key(|p| (*p != 443, *p));
    match https_port {
        Some(port) => {
            let on_port: Vec<&&WebMount> = ours.iter().filter(|m| m.port == port).collect();
            let mount = on_port
                .iter()
                .find(|m| m.path == "/" && !m.foreground)
                .or_else(|| on_port.iter().find(|m| m.path == "/"))
                .or_else(|| on_port.first())
                .map(|m| (**m).clone());
            match mount {
                Some(mount) => ServeFinding::Https {
                    port,
                    mount,
                    mounts: on_port.len(),
                },
                None => ServeFinding::NotConfigured {
                    detail: "no handler".into(),
                },
            }
        }
        None => {
            let port = ours.iter().map(|m| m.port).min().unwrap_or(80);
            ServeFinding::PlainHttp { port }
        }
    }
}

fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// Where to probe, derived from the evidence so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePlan {
    pub dns_name: Option<String>,
    pub serve: Option<ServeFinding>,
    /// The HTTPS port our handler uses (443 when there is none yet).
    pub https_port: u16,
    /// "host:port" to dial for the TLS probe, or why there is none.
    pub dial: Result<String, String>,
    pub backend_port: u16,
    pub backend_port_source: PortSource,
    /// "host:port" the backend probe dials (with the scheme when it is not plain HTTP:
    /// "https://127.0.0.1:8443", "unix:/run/app.sock"), or why there is none.
    pub backend_addr: Result<String, String>,
    /// The backend as serve dials it (scheme, address, path), when there is one to probe.
    pub backend_target: Option<ProxyTarget>,
    /// The proxy target serve uses, when it proxies.
    pub proxy_target: Option<String>,
    /// Every endpoint of the serve config (the primary one marked).
    pub endpoints: Vec<Endpoint>,
}

impl ProbePlan {
    pub fn url(&self) -> Option<String> {
        let name = self.dns_name.as_deref()?;
        Some(if self.https_port == 443 {
            format!("https://{name}/")
        } else {
            format!("https://{name}:{}/", self.https_port)
        })
    }
}

/// Derives the plan. Pure: the engine uses it to start probes, the rules to explain them.
pub fn plan(ev: &Evidence) -> ProbePlan {
    let status = ev.status_ok();
    let dns_name = status.and_then(Status::dns_name).map(str::to_string);
    let serve = match (ev.serve_ok(), dns_name.as_deref()) {
        (Some(cfg), Some(name)) => Some(analyze_serve(cfg, name)),
        _ => None,
    };
    let (https_port, proxy_target) = match &serve {
        Some(ServeFinding::Https { port, mount, .. }) => (*port, mount.proxy.clone()),
        _ => (443, None),
    };
    let serve_port = proxy_target.as_deref().and_then(proxy_target_port);
    let (backend_port, backend_port_source) =
        match (ev.inputs.port_flag, ev.inputs.config_port, serve_port) {
            (Some(p), _, _) => (p, PortSource::Flag),
            (None, Some(p), _) => (p, PortSource::ConfigFile),
            (None, None, Some(p)) => (p, PortSource::ServeConfig),
            _ => (DEFAULT_BACKEND_PORT, PortSource::Default),
        };
    let backend_target = match (&serve, &proxy_target) {
        (_, Some(t)) => ProxyTarget::parse(t)
            .ok_or_else(|| format!("serve proxies to {t}, which cannot be probed")),
        (Some(ServeFinding::Https { mount, .. }), None) => {
            Err(format!("serve does not proxy here ({})", mount.what))
        }
        // An unreadable config names no backend: one is probed only when the user named it.
        (None, None)
            if matches!(ev.serve, Step::Done { value: Err(_), .. })
                && backend_port_source == PortSource::Default =>
        {
            Err("the serve config could not be read, so its backend is not known".to_string())
        }
        _ => ProxyTarget::parse(&format!("127.0.0.1:{backend_port}"))
            .ok_or_else(|| format!("port {backend_port} cannot be probed")),
    };
    let backend_addr = backend_target.as_ref().map(|t| match t.scheme {
        Scheme::Http => t.addr.clone(),
        _ => t.describe(),
    });
    let backend_addr = backend_addr.map_err(Clone::clone);
    let backend_target = backend_target.ok();
    let dial = match (&ev.inputs.connect, status) {
        (Some(c), _) => Ok(c.clone()),
        (None, None) => Err("no status".to_string()),
        (None, Some(s)) if s.tun == Some(false) && ev.inputs.socks5.is_none() => Err(
            "userspace networking (TUN off): tailscaled has no local listener to dial; pass --connect or probe from another device"
                .to_string(),
        ),
        (None, Some(s)) => {
            let ips = s.ips();
            let ip = ips.iter().find(|ip| !ip.contains(':')).or_else(|| ips.first());
            match ip {
                Some(ip) if ip.contains(':') => Ok(format!("[{ip}]:{https_port}")),
                Some(ip) => Ok(format!("{ip}:{https_port}")),
                None => Err("the node has no Tailscale IP".to_string()),
            }
        }
    };
    let endpoints = match (ev.serve_ok(), dns_name.as_deref()) {
        (Some(cfg), Some(name)) => {
            let primary = match &serve {
                Some(ServeFinding::Https { port, mount, .. }) => {
                    Some((mount.host.as_str(), *port, mount.path.as_str()))
                }
                _ => None,
            };
            entries::list(cfg, name, primary)
        }
        _ => Vec::new(),
    };
    ProbePlan {
        endpoints,
        dns_name,
        serve,
        https_port,
        dial,
        backend_port,
        backend_port_source,
        backend_addr,
        backend_target,
        proxy_target,
    }
}
