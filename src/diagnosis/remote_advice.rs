//! The words for a diagnosis from another device: one check line per step, the summary, and the
//! fixes — each fix says where it is done: on the serving node, in the admin console, or here.

use std::net::IpAddr;

use crate::probe::{CertProblem, DnsOutcome, HttpOutcome, TcpOutcome, TlsOutcome};

use super::checks::{handshake_text, listener_text};
use super::evidence::Step;
use super::model::{
    Cause, Check, CheckId, CheckStatus, Diagnosis, Fix, FixId, NodeInfo, PortSource,
};
use super::remote::{DnsProblem, Evidence, cause, dns_problem};
use super::rules::{ADMIN_DNS_URL, ADMIN_MACHINES_URL, ADMIN_POLICY_URL, expired, secs};

fn join(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host as the user wrote it, for sentences.
fn host(ev: &Evidence) -> String {
    ev.target
        .as_ref()
        .map(|t| t.host.clone())
        .unwrap_or_else(|_| ev.input.clone())
}

/// The serving node's name, for sentences.
fn node(ev: &Evidence) -> String {
    ev.peer()
        .map(|p| p.name().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| host(ev))
}

fn dns_text(d: &DnsOutcome) -> String {
    match d {
        DnsOutcome::Resolved { ips } => join(ips),
        DnsOutcome::NotFound { detail } => detail.clone(),
        DnsOutcome::NoAnswer { reason } => reason.clone(),
    }
}

/// One check line per step, in display order.
pub fn checks(ev: &Evidence) -> Vec<Check> {
    use CheckStatus::*;
    let mut out = Vec::new();
    let mut push = |id, status, detail, ms| out.push(Check::new(id, status, detail, ms));
    let st = ev.status_ok();
    match &ev.status {
        Step::Done { value: Ok(s), ms } => {
            let me = s.dns_name().unwrap_or("this node");
            let detail = format!(
                "{me}: Tailscale {}, {} peers in its netmap",
                s.version,
                s.peer.len()
            );
            push(CheckId::Daemon, Pass, detail, *ms);
        }
        Step::Done { value: Err(e), ms } => push(CheckId::Daemon, Fail, e.describe(), *ms),
        _ if ev.no_tailscale => push(CheckId::Daemon, Fail, "no Tailscale here".into(), 0),
        _ => push(CheckId::Daemon, Skip, "not asked".into(), 0),
    }
    match st {
        Some(_) if ev.running() => push(CheckId::LoggedIn, Pass, "Running".into(), 0),
        Some(s) if expired(s) => push(CheckId::LoggedIn, Fail, "node key expired".into(), 0),
        Some(s) => push(CheckId::LoggedIn, Fail, s.backend_state.to_string(), 0),
        None => push(
            CheckId::LoggedIn,
            Skip,
            "needs this node's status".into(),
            0,
        ),
    }
    let peer_ips = ev.peer_ips();
    match ev.peer() {
        _ if !ev.running() => push(CheckId::Peer, Skip, "needs a running node".into(), 0),
        None => push(
            CheckId::Peer,
            Fail,
            format!("no node named {} in this node's netmap", host(ev)),
            0,
        ),
        Some(p) => {
            let (status, online) = match p.online {
                Some(true) => (Pass, "online"),
                Some(false) => (Fail, "offline"),
                None => (Pass, "online state not reported"),
            };
            let detail = format!("{} ({}), {online}", p.name(), join(&peer_ips));
            push(CheckId::Peer, status, detail, 0)
        }
    }
    let proxy_note = match &ev.socks5 {
        Some(p) => format!(" (apps that use the SOCKS5 proxy {p} have it resolve names)"),
        None => String::new(),
    };
    let problem = dns_problem(ev);
    let (lookup, server) = (ev.lookup_name(), ev.magicdns_server);
    match &ev.magicdns {
        Step::Done { value, ms } => {
            let status = match value {
                DnsOutcome::Resolved { ips } if ips.iter().any(|ip| peer_ips.contains(ip)) => Pass,
                DnsOutcome::Resolved { .. } => Warn,
                _ if problem == Some(DnsProblem::Unresolved) => Fail,
                _ => Warn,
            };
            let name = lookup.as_deref().unwrap_or("?");
            push(
                CheckId::MagicdnsLookup,
                status,
                format!("{name} at {server}: {}", dns_text(value)),
                *ms,
            )
        }
        _ => push(
            CheckId::MagicdnsLookup,
            Skip,
            match lookup {
                None if ev.target.as_ref().is_ok_and(|t| t.is_ip()) => "an address, not a name",
                _ => "not asked",
            }
            .into(),
            0,
        ),
    }
    match &ev.system {
        Step::Done { value, ms } => {
            let agrees = value.ips().iter().any(|ip| peer_ips.contains(ip));
            let status = match (agrees, ev.socks5.is_some(), &problem) {
                (true, _, _) => Pass,
                (false, true, _) => Warn,
                (false, false, Some(_)) => Fail,
                (false, false, None) => Warn,
            };
            let mut detail = format!("{}: {}", host(ev), dns_text(value));
            if !agrees && !value.ips().is_empty() && !peer_ips.is_empty() {
                detail.push_str(&format!(" (the netmap says {})", join(&peer_ips)));
            }
            if !agrees {
                detail.push_str(&proxy_note);
            }
            push(CheckId::SystemDns, status, detail, *ms)
        }
        _ => push(CheckId::SystemDns, Skip, "not asked".into(), 0),
    }
    let dial = ev.dial().unwrap_or_else(|| "?".into());
    let via = match &ev.socks5 {
        Some(p) => format!("{dial} through {p}"),
        None => dial,
    };
    let skip_why = match ev.peer() {
        _ if !ev.running() => "needs a running node",
        None => "not a node of this netmap",
        Some(p) if p.online == Some(false) => "the node is offline",
        Some(_) => "not run",
    };
    match &ev.tls {
        Step::Done { value, ms } => {
            let (status, detail) = listener_text(value, &via);
            push(CheckId::Listener, status, detail, *ms);
            let sni = ev.server_name().unwrap_or_default();
            match handshake_text(value, &sni, ev.now) {
                Some((status, detail)) => push(
                    CheckId::TlsHandshake,
                    status,
                    format!("SNI {sni}: {detail}"),
                    *ms,
                ),
                None => push(CheckId::TlsHandshake, Skip, "no TLS listener".into(), 0),
            }
        }
        _ => {
            push(CheckId::Listener, Skip, skip_why.into(), 0);
            push(CheckId::TlsHandshake, Skip, skip_why.into(), 0);
        }
    }
    match &ev.request {
        Step::Done { value, ms } => {
            let path = ev.target.as_ref().map(|t| t.path.as_str()).unwrap_or("/");
            let (status, detail) = match value {
                HttpOutcome::Response { status, .. } if *status < 500 => {
                    (Pass, format!("GET {path}: serve answered HTTP {status}"))
                }
                HttpOutcome::Response { status, .. } => {
                    (Fail, format!("GET {path}: serve answered HTTP {status}"))
                }
                HttpOutcome::NoResponse { after_ms } => (
                    Fail,
                    format!("GET {path}: no response within {}", secs(*after_ms)),
                ),
                HttpOutcome::Connect { tcp } => (Fail, format!("a second connection: {tcp:?}")),
                HttpOutcome::CertRejected { detail, .. } | HttpOutcome::Failed { detail } => {
                    (Fail, detail.clone())
                }
            };
            push(CheckId::ServeProxy, status, detail, *ms)
        }
        _ => push(
            CheckId::ServeProxy,
            Skip,
            match &ev.tls {
                Step::Done { .. } => "needs a completed handshake",
                _ => skip_why,
            }
            .into(),
            0,
        ),
    }
    out
}

/// The cause in one plain sentence.
pub fn summary(cause: Cause, ev: &Evidence) -> String {
    let (name, h) = (node(ev), host(ev));
    let port = ev.target.as_ref().map(|t| t.port).unwrap_or(443);
    use Cause::*;
    match cause {
        TailscaleNotFound => "Tailscale is not installed on this device (no CLI, no LocalAPI), so no tailnet node can be reached from here.".into(),
        DaemonUnreachable | StatusUnparseable => match ev.status.value() {
            Some(Err(e)) => format!("Tailscale on this device could not be asked about its netmap: {}.", e.describe()),
            _ => "Tailscale on this device could not be asked about its netmap.".into(),
        },
        Stopped => format!(
            "Tailscale on this device is not connected (state {}): no tailnet node can be reached from here.",
            ev.status_ok().map(|s| s.backend_state.to_string()).unwrap_or_default()
        ),
        NeedsLogin => "Tailscale on this device is logged out (or its key expired): log in to reach the tailnet.".into(),
        NeedsApproval => "This device is waiting for a tailnet admin to approve it.".into(),
        PeerNotFound => format!("{h} is not a node of this tailnet (or not visible to this node by ACLs): this node's netmap has no node of that name or address."),
        NameUnresolved => match &ev.target {
            Err(e) => format!("Nothing to diagnose: {e}."),
            Ok(_) => format!("{h} does not resolve on this device: neither the system resolver nor MagicDNS ({}) has an address for it (MagicDNS off for the tailnet, or this device's Tailscale not answering DNS).", ev.magicdns_server),
        },
        DeviceDns => match dns_problem(ev) {
            Some(DnsProblem::Disagrees { system }) => format!(
                "A DNS problem on this device: the system resolver says {h} is {}, but {name} is {} in the tailnet (an override on this device: a hosts entry, a DoH app or browser setting, Android's Private DNS).",
                join(&system), join(&ev.peer_ips())
            ),
            _ => format!("A DNS problem on this device: MagicDNS knows {h}, the system resolver does not, so this device does not use MagicDNS (DNS not accepted from Tailscale, a DoH app, Android's Private DNS) and a browser here cannot find it."),
        },
        PeerOffline => format!("{name} is offline in this node's netmap: its Tailscale is stopped, logged out, or the machine is asleep or off the network."),
        PeerUnreachable => match ev.tls.value() {
            Some(TlsOutcome::Connect { tcp: TcpOutcome::Refused }) => format!("{name} refuses connections on port {port}: serve is not listening there (not configured for that port, or serve is off)."),
            Some(TlsOutcome::Connect { tcp }) => format!("{name} is in the netmap and online, but port {port} on its Tailscale IP cannot be reached from this node ({}): a tailnet policy that does not let this device reach it, or no working path between the two nodes.", match tcp {
                TcpOutcome::TimedOut { after_ms } => format!("no answer within {}", secs(*after_ms)),
                TcpOutcome::Unreachable { reason } => reason.clone(),
                _ => "no connection".into(),
            }),
            _ => format!("{name} cannot be reached from this node."),
        },
        PeerNoCert => format!("{name} answers the handshake at once with TLS alert internal_error: the serving node can get no certificate (HTTPS off for the tailnet, or issuance failing at once there)."),
        PeerCertStuck => format!("The handshake with {name} stalls: certificate issuance is stuck on the serving node (or a first certificate is still being fetched there; that takes up to a minute)."),
        PeerCertInvalid => match ev.tls.value() {
            Some(TlsOutcome::CertRejected { problem: CertProblem::WrongName, cert, .. }) => format!(
                "{name} presents a certificate for another name{}: serve there is keyed to an old name, or {h} is not the node's name.",
                cert.as_ref().map(|c| format!(" ({})", c.dns_names.join(", "))).unwrap_or_default()
            ),
            Some(TlsOutcome::CertRejected { detail, .. }) => format!("{name}'s certificate is not accepted here: {detail}."),
            _ => format!("{name}'s certificate is not accepted here."),
        },
        PeerBackendDown => format!("HTTPS to {name} works, but serve there answers 502: the app behind serve on that node is down."),
        PeerServeFailing => match (ev.tls.value(), ev.request.value()) {
            (_, Some(HttpOutcome::Response { status, .. })) => format!("HTTPS to {name} works, but serve there answers HTTP {status}."),
            (Some(TlsOutcome::Established { .. }), _) => format!("HTTPS to {name} works, but the request through serve got no proper answer."),
            _ => format!("Something other than Tailscale's serve answers on port {port} of {name}."),
        },
        Healthy => {
            let url = ev.server_name().unwrap_or(h);
            let bare = match ev.target.as_ref().is_ok_and(|t| t.is_bare() || t.is_ip()) {
                true => format!(" Open it by its full name, https://{url}/: the certificate is for that name only."),
                false => String::new(),
            };
            format!("Serve on {name} is healthy from this device: name, handshake and a request through serve all work.{bare} If a browser here still fails, it holds an old answer (its DNS cache, an HSTS or certificate error it remembers): clear those for {url}.")
        }
        _ => format!("Serve on {name} could not be verified from this device."),
    }
}

fn fix(id: FixId, title: String, command: Option<String>, url: Option<&str>) -> Fix {
    Fix {
        id,
        title,
        command,
        url: url.map(str::to_string),
    }
}

/// The fixes for `cause`, in the order to try them.
pub fn fixes(cause: Cause, ev: &Evidence) -> Vec<Fix> {
    let (name, h) = (node(ev), host(ev));
    let word = crate::shell::word(&name);
    let there = |why: &str| {
        fix(
            FixId::DiagnoseThere,
            format!("On {name}: run Serve Doctor there, it reads what {why}"),
            Some("serve-doctor diagnose".into()),
            None,
        )
    };
    use Cause::*;
    match cause {
        TailscaleNotFound => vec![fix(
            FixId::InstallTailscale,
            "Install Tailscale on this device".into(),
            None,
            Some("https://tailscale.com/download"),
        )],
        DaemonUnreachable | StatusUnparseable | Stopped => vec![fix(
            FixId::StartTailscale,
            "Start Tailscale on this device and connect".into(),
            Some("tailscale up".into()),
            None,
        )],
        NeedsLogin => vec![fix(
            FixId::LogIn,
            "Log in to Tailscale on this device".into(),
            Some("tailscale up".into()),
            None,
        )],
        NeedsApproval => vec![fix(
            FixId::ApproveMachine,
            "Approve this device in the admin console".into(),
            None,
            Some(ADMIN_MACHINES_URL),
        )],
        PeerNotFound => vec![
            fix(
                FixId::CheckNetwork,
                "Check the name: list the nodes this one sees".into(),
                Some("tailscale status".into()),
                None,
            ),
            fix(
                FixId::EditPolicy,
                format!("If {h} is a node of the tailnet, let this device see it in the tailnet policy"),
                None,
                Some(ADMIN_POLICY_URL),
            ),
        ],
        NameUnresolved => vec![
            fix(
                FixId::OpenAdminDns,
                "Turn on MagicDNS for the tailnet (admin console, DNS)".into(),
                None,
                Some(ADMIN_DNS_URL),
            ),
            fix(
                FixId::FixDeviceDns,
                "On this device: let Tailscale set its DNS".into(),
                Some("tailscale set --accept-dns=true".into()),
                None,
            ),
        ],
        DeviceDns => {
            let first = match dns_problem(ev) {
                Some(DnsProblem::Disagrees { .. }) => format!(
                    "On this device: remove the override for {h} (a hosts-file line, a DNS override, a DoH app or the browser's secure DNS, Android's Private DNS)"
                ),
                _ => "On this device: use MagicDNS — let Tailscale set the DNS; on Android turn Private DNS off (or to automatic); turn off a DoH app or the browser's secure DNS".into(),
            };
            vec![
                fix(FixId::FixDeviceDns, first, Some("tailscale set --accept-dns=true".into()), None),
                fix(
                    FixId::FixDeviceDns,
                    format!("Check what this device's resolver answers for {h}"),
                    Some(format!("getent hosts {}", crate::shell::word(&h))),
                    None,
                ),
            ]
        }
        PeerOffline => vec![fix(
            FixId::StartTailscale,
            format!("On {name}: start Tailscale and connect (wake the machine if it sleeps)"),
            Some("tailscale up".into()),
            None,
        )],
        PeerUnreachable => vec![
            fix(
                FixId::CheckNetwork,
                format!("Check that this node reaches {name} at all"),
                Some(format!("tailscale ping {word}")),
                None,
            ),
            fix(
                FixId::EditPolicy,
                format!("Check that the tailnet policy lets this device reach {name} on that port"),
                None,
                Some(ADMIN_POLICY_URL),
            ),
            there("serve is set up for on that node"),
        ],
        PeerNoCert => vec![
            fix(
                FixId::OpenAdminDns,
                "Enable HTTPS certificates for the tailnet (admin console, DNS)".into(),
                None,
                Some(ADMIN_DNS_URL),
            ),
            there("tailscaled says about its certificate (HTTPS off, or issuance failing)"),
        ],
        PeerCertStuck => vec![
            there("tailscaled says about the issuance (pending, stuck, rate-limited)"),
            fix(
                FixId::WaitForCert,
                "A first certificate takes up to a minute: try again then".into(),
                Some(format!("serve-doctor diagnose {}", crate::shell::word(&ev.input))),
                None,
            ),
        ],
        PeerCertInvalid => match ev.tls.value() {
            Some(TlsOutcome::CertRejected {
                problem: CertProblem::UnknownIssuer,
                ..
            }) => vec![fix(
                FixId::CheckNetwork,
                "On this device: look for a TLS-intercepting proxy or antivirus; pass --ca-file if you trust a private CA".into(),
                None,
                None,
            )],
            _ => vec![there("its serve config is keyed to and which certificate it holds")],
        },
        PeerBackendDown => vec![
            fix(
                FixId::StartBackend,
                format!("On {name}: start (or restart) the app behind serve"),
                None,
                None,
            ),
            there("serve proxies to"),
        ],
        PeerServeFailing => vec![there("serve is doing")],
        Healthy => {
            let url = ev.server_name().unwrap_or(h);
            vec![fix(
                FixId::ClearBrowserCache,
                format!(
                    "If a browser here still fails: clear its DNS cache and its HSTS entry for {url} (Chrome: chrome://net-internals/#dns and #hsts), then this device's DNS cache (macOS: sudo dscacheutil -flushcache; sudo killall -HUP mDNSResponder), and reopen"
                ),
                None,
                None,
            )]
        }
        _ => vec![there("serve is doing")],
    }
}

/// The diagnosis for the evidence. `route` says how this node's tailscaled was read.
pub fn assemble(ev: &Evidence, route: String, elapsed_ms: u64) -> Diagnosis {
    let cause = cause(ev);
    let peer = ev.peer();
    let target = ev.target.as_ref().ok();
    let name = ev.server_name().or_else(|| target.map(|t| t.host.clone()));
    let url = target.zip(name.as_ref()).map(|(t, n)| {
        let port = match t.port {
            443 => String::new(),
            p => format!(":{p}"),
        };
        format!("https://{n}{port}{}", t.path)
    });
    let from = ev
        .status_ok()
        .and_then(|s| s.dns_name())
        .map(|n| format!(", from {n}"))
        .unwrap_or_default();
    let certificate = match ev.tls.value() {
        Some(TlsOutcome::Established { cert, .. }) => Some(super::model::CertificateInfo {
            issuer: cert.issuer.clone(),
            not_after: cert.not_after,
            days_left: (cert.not_after - ev.now).num_days(),
        }),
        _ => None,
    };
    Diagnosis {
        schema: super::model::REPORT_SCHEMA,
        certificate,
        health: cause.health(),
        cause,
        summary: summary(cause, ev),
        node: NodeInfo {
            dns_name: name,
            ips: peer.map(|p| p.tailscale_ips.clone()).unwrap_or_default(),
            tailnet: ev.status_ok().and_then(|s| s.tailnet()).map(str::to_string),
            version: None,
            backend_state: None,
        },
        url,
        backend_port: 0,
        backend_port_source: PortSource::Unseen,
        checks: checks(ev),
        endpoints: Vec::new(),
        fixes: fixes(cause, ev),
        consent_url: None,
        route: format!("{route}{from}"),
        elapsed_ms,
        complete: true,
    }
}
