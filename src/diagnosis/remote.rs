//! From another device: what this node saw when it tried a tailnet URL (`serve-doctor diagnose
//! https://name.tailnet.ts.net/`), read into one cause. Pure, like the rest of `diagnosis`.
//!
//! The chain walks outwards from here: this device's Tailscale, the node the name stands for in
//! this node's netmap, the name in MagicDNS and in the resolver a browser here uses, TCP to the
//! node's Tailscale IP, the handshake with the name as SNI, one request through serve. The
//! serving node's own state is out of sight, so its causes are read from how it answers: an
//! immediate `internal_error` alert means it has no certificate and cannot get one, a handshake
//! that stalls means its issuance hangs (both seen on the real daemon, docs/TAILNET.md), a 502
//! means its backend is down. The words (check lines, summary, fixes) and the assembled diagnosis are in
//! `remote_advice`.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};

use crate::probe::{DnsOutcome, HttpOutcome, TlsOutcome};
use crate::tailscale::status::PeerStatus;
use crate::tailscale::{BackendState, CliFailure, Status};

use super::evidence::Step;
use super::model::Cause;
use super::rules::expired;

/// A URL (or a node's name) taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Lowercase, without a trailing dot: a DNS name, a bare node name, or an IP.
    pub host: String,
    pub port: u16,
    /// The path and query, from `/`.
    pub path: String,
}

impl Target {
    pub fn is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }

    /// A single label (`server`), which only a search domain turns into a full name.
    pub fn is_bare(&self) -> bool {
        !self.is_ip() && !self.host.contains('.')
    }
}

/// `https://host[:port][/path]`, or a bare `host[:port]`. Only HTTPS: that is what serve's
/// certificate chain is about, and what this diagnoses.
pub fn parse_target(input: &str) -> Result<Target, String> {
    let s = input.trim();
    let rest = match s.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "{input:?}: only https:// URLs can be diagnosed (not {scheme}://)"
            ));
        }
        None => s,
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(cut);
    let path = match tail.split('#').next().unwrap_or_default() {
        "" => "/".to_string(),
        p if p.starts_with('/') => p.to_string(),
        p => format!("/{p}"),
    };
    if authority.contains('@') {
        return Err(format!(
            "{input:?}: a user name in the URL is not supported"
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (ip, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{input:?}: unclosed [ in the address"))?;
            (ip, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{input:?}: {p:?} is not a port"))?,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let is_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !is_name && host.parse::<IpAddr>().is_err() {
        return Err(format!(
            "{input:?}: {host:?} is not a host name or an address"
        ));
    }
    Ok(Target { host, port, path })
}

/// What the collectors found, from this device.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub now: DateTime<Utc>,
    /// What the user asked about, as given.
    pub input: String,
    pub target: Result<Target, String>,
    /// `--socks5`: the tailnet is reached through this proxy, which also resolves names.
    pub socks5: Option<String>,
    /// Where MagicDNS was asked (100.100.100.100 unless a test points it elsewhere).
    pub magicdns_server: SocketAddr,
    /// Neither a CLI nor the LocalAPI: no Tailscale on this device.
    pub no_tailscale: bool,
    /// This node's status with its peers.
    pub status: Step<Result<Status, CliFailure>>,
    pub magicdns: Step<DnsOutcome>,
    pub system: Step<DnsOutcome>,
    pub tls: Step<TlsOutcome>,
    pub request: Step<HttpOutcome>,
}

impl Evidence {
    /// Nothing gathered yet.
    pub fn new(now: DateTime<Utc>, input: &str, socks5: Option<String>, dns: SocketAddr) -> Self {
        Evidence {
            now,
            input: input.to_string(),
            target: parse_target(input),
            socks5,
            magicdns_server: dns,
            no_tailscale: false,
            status: Step::NotStarted,
            magicdns: Step::NotStarted,
            system: Step::NotStarted,
            tls: Step::NotStarted,
            request: Step::NotStarted,
        }
    }

    pub fn status_ok(&self) -> Option<&Status> {
        self.status.value()?.as_ref().ok()
    }

    /// Running and logged in: only then is there a netmap to look in and a tailnet to dial.
    pub fn running(&self) -> bool {
        self.status_ok()
            .is_some_and(|s| s.backend_state.is_running() && !expired(s))
    }

    /// The node the target stands for: by its name or IP in the netmap, else by an address a
    /// resolver gave for the name.
    pub fn peer(&self) -> Option<&PeerStatus> {
        let (st, t) = (self.status_ok()?, self.target.as_ref().ok()?);
        st.find_node(&t.host).or_else(|| {
            let resolved: Vec<IpAddr> = [&self.magicdns, &self.system]
                .iter()
                .filter_map(|s| s.value())
                .flat_map(|d| d.ips().iter().copied())
                .collect();
            resolved.iter().find_map(|ip| st.find_node(&ip.to_string()))
        })
    }

    /// The peer's Tailscale IPs, parsed.
    pub fn peer_ips(&self) -> Vec<IpAddr> {
        self.peer()
            .map(|p| {
                p.tailscale_ips
                    .iter()
                    .filter_map(|ip| ip.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The name to ask MagicDNS for: the one given, a bare one completed with the tailnet's
    /// suffix (as the search domain would). `None` for an address.
    pub fn lookup_name(&self) -> Option<String> {
        let t = self.target.as_ref().ok()?;
        if t.is_ip() {
            return None;
        }
        if !t.is_bare() {
            return Some(t.host.clone());
        }
        let st = self.status_ok()?;
        let suffix = st
            .current_tailnet
            .as_ref()
            .map(|c| c.magic_dns_suffix.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(st.magic_dns_suffix.as_str())
            .trim_matches('.');
        match suffix.is_empty() {
            true => self.peer().map(|p| p.name().to_string()),
            false => Some(format!("{}.{suffix}", t.host)),
        }
    }

    /// The TLS server name: the full name as given (what a browser sends); the node's own name
    /// for a bare name or an address, which no certificate is issued for.
    pub fn server_name(&self) -> Option<String> {
        let t = self.target.as_ref().ok()?;
        match t.is_bare() || t.is_ip() {
            true => self.peer().map(|p| p.name().to_string()),
            false => Some(t.host.clone()),
        }
    }

    /// Where to dial: the node's first IPv4 Tailscale address (else its first), on the port.
    pub fn dial(&self) -> Option<String> {
        let port = self.target.as_ref().ok()?.port;
        let ips = self.peer_ips();
        let ip = ips.iter().find(|ip| ip.is_ipv4()).or(ips.first())?;
        Some(SocketAddr::new(*ip, port).to_string())
    }

    /// Whether the node is worth dialing: in the netmap and not known to be offline.
    pub fn dialable(&self) -> bool {
        self.running()
            && self.peer().is_some_and(|p| p.online != Some(false))
            && self.dial().is_some()
            && self.server_name().is_some()
    }
}

/// What the two resolvers say about the name, for the browser on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsProblem {
    /// Neither resolver has an address for it.
    Unresolved,
    /// MagicDNS knows it, the system resolver does not: this device does not use MagicDNS.
    NotMagicDns,
    /// The system resolver gives other addresses than the node's (an override, a DoH app,
    /// Android's Private DNS, a stale hosts entry).
    Disagrees { system: Vec<IpAddr> },
}

/// The DNS problem a browser here would meet, if any. Through `--socks5` the proxy resolves
/// names for the apps that use it, so the system resolver is shown, not judged.
pub fn dns_problem(ev: &Evidence) -> Option<DnsProblem> {
    if ev.socks5.is_some() || ev.peer().is_none() {
        return None;
    }
    let system = ev.system.value()?;
    let peer_ips = ev.peer_ips();
    if !system.ips().is_empty() {
        return match system.ips().iter().any(|ip| peer_ips.contains(ip)) {
            true => None,
            false => Some(DnsProblem::Disagrees {
                system: system.ips().to_vec(),
            }),
        };
    }
    match ev.magicdns.value().is_some_and(|m| !m.ips().is_empty()) {
        true => Some(DnsProblem::NotMagicDns),
        false => Some(DnsProblem::Unresolved),
    }
}

/// Whether `cause` applies. Every step has finished (or will not run) when this is asked.
pub fn applies(cause: Cause, ev: &Evidence) -> bool {
    let st = ev.status_ok();
    let state = |want: &[BackendState]| st.is_some_and(|s| want.contains(&s.backend_state));
    let tls = ev.tls.value();
    let req = ev.request.value();
    use Cause::*;
    match cause {
        TailscaleNotFound => ev.no_tailscale,
        DaemonUnreachable => matches!(
            ev.status.value(),
            Some(Err(
                CliFailure::DaemonUnreachable { .. } | CliFailure::TimedOut { .. }
            ))
        ),
        StatusUnparseable => matches!(ev.status.value(), Some(Err(_))),
        Stopped => {
            !ev.running()
                && !state(&[BackendState::NeedsLogin, BackendState::NeedsMachineAuth])
                && st.is_some_and(|s| !expired(s))
        }
        NeedsLogin => st.is_some_and(expired) || state(&[BackendState::NeedsLogin]),
        NeedsApproval => state(&[BackendState::NeedsMachineAuth]),
        // The target is not even a name: nothing can resolve it.
        NameUnresolved if ev.target.is_err() => true,
        PeerNotFound => ev.running() && ev.peer().is_none(),
        NameUnresolved => dns_problem(ev) == Some(DnsProblem::Unresolved),
        DeviceDns => matches!(
            dns_problem(ev),
            Some(DnsProblem::NotMagicDns | DnsProblem::Disagrees { .. })
        ),
        PeerOffline => ev.running() && ev.peer().is_some_and(|p| p.online == Some(false)),
        PeerUnreachable => matches!(tls, Some(TlsOutcome::Connect { .. })),
        PeerNoCert => matches!(
            tls,
            Some(TlsOutcome::Alert { description, .. }) if description == "internal_error"
        ),
        PeerCertStuck => matches!(tls, Some(TlsOutcome::Stalled { .. })),
        PeerCertInvalid => {
            matches!(tls, Some(TlsOutcome::CertRejected { .. }))
                || matches!(req, Some(HttpOutcome::CertRejected { .. }))
        }
        PeerBackendDown => matches!(req, Some(HttpOutcome::Response { status: 502, .. })),
        // Something answers, but not as serve should: not TLS, another alert, a 5xx other than
        // 502, no answer to the request.
        PeerServeFailing => {
            matches!(
                tls,
                Some(TlsOutcome::Failed { .. } | TlsOutcome::Alert { .. })
            ) || matches!(req, Some(HttpOutcome::Response { status, .. }) if *status >= 500)
                || matches!(
                    req,
                    Some(
                        HttpOutcome::NoResponse { .. }
                            | HttpOutcome::Failed { .. }
                            | HttpOutcome::Connect { .. }
                    )
                )
        }
        Healthy => matches!(req, Some(HttpOutcome::Response { status, .. }) if *status < 500),
        // The causes of a diagnosis made on the serving node itself.
        MagicdnsDisabled
        | HttpsDisabled
        | ServeConfigUnreadable
        | ServeNotConfigured
        | ServeNameMismatch
        | ServePlainHttp
        | ListenerUnreachable
        | CertNeedsControl
        | CertPending
        | CertIssuanceFailing
        | CertInvalid
        | BackendDown
        | BackendNotResponding
        | BackendCertRejected
        | ServeProxyFailing
        | EndpointFailing
        | CertExpiring
        | ControlUnreachable
        | EndpointDegraded
        | NotVerified => false,
    }
}

/// The first cause that applies, in precedence order; never green without a request that serve
/// answered.
pub fn cause(ev: &Evidence) -> Cause {
    Cause::ALL
        .iter()
        .copied()
        .find(|c| applies(*c, ev))
        .unwrap_or(Cause::NotVerified)
}
