//! The words for a cause: the one-sentence summary and the fixes, in the order to try them.

use crate::probe::{CertProblem, HttpOutcome, TlsOutcome};
use crate::tailscale::ports::{
    HTTPS_PORTS, PortKind, conflict, free, served_target, tunnel_remote, tunnel_url,
};
use crate::tailscale::{BackendState, CertCommand, CliFailure};

use super::endpoints;
use super::evidence::{Evidence, Platform, ProbePlan};
use super::inuse;
use super::model::{Cause, CheckStatus, Fix, FixId, PortSource};
use super::ratelimit;
use super::rules::*;

/// The root cause in one plain sentence.
pub fn summary(cause: Cause, ev: &Evidence, p: &ProbePlan) -> String {
    let name = p.dns_name.as_deref().unwrap_or("this node");
    let st = ev.status_ok();
    use Cause::*;
    // A rate-limited issuance first looks pending (the ACME client waits out Retry-After), then
    // failing: either way the wait and the warning are what the user needs.
    if matches!(cause, CertPending | CertIssuanceFailing)
        && let Some(rl) = rate_limited(ev)
    {
        return ratelimit::sentence(&rl, name, ev.now);
    }
    match cause {
        TailscaleNotFound => match ev.cli.as_ref().err().and_then(|e| e.forced.as_ref()) {
            Some(p) => format!("The tailscale CLI at {} is missing or not executable.", p.display()),
            None => "Tailscale is not installed (no tailscale CLI found).".into(),
        },
        DaemonUnreachable => match ev.status.value() {
            Some(Err(CliFailure::NoConnection { message })) => {
                format!("The node could not be reached: {message}.")
            }
            Some(Err(CliFailure::TimedOut { after_ms })) => format!(
                "The Tailscale daemon did not answer within {}.", secs(*after_ms)),
            _ if ev.api.is_some() => "Tailscale is not running: nothing answers on the daemon's LocalAPI.".into(),
            _ => "Tailscale is not running: the CLI cannot reach the Tailscale daemon.".into(),
        },
        StatusUnparseable => match ev.status.value() {
            Some(Err(e)) if inuse::parse(&e.describe()).is_some() => {
                inuse::sentence(inuse::parse(&e.describe()).as_ref())
            }
            Some(Err(CliFailure::GuiUnavailable { .. })) => "The Tailscale app's CLI could not reach the Tailscale app from here (it printed \"The Tailscale GUI failed to start\"); this is an access problem, not Tailscale being off.".into(),
            Some(Err(e)) => format!("Tailscale's status could not be read: {}.", e.describe()),
            _ => "Tailscale's status could not be read.".into(),
        },
        Stopped => match st.map(state) {
            Some(BackendState::InUseOtherUser) => inuse::sentence(None),
            Some(BackendState::Stopped) => "Tailscale is stopped (turned off); serve only works while it is connected.".into(),
            Some(s) => format!("Tailscale is not connected yet (state {}).", if s.is_known() { s.as_str() } else { "unknown" }),
            None => "Tailscale is not running.".into(),
        },
        NeedsLogin => if st.is_some_and(expired) {
            "This node's key has expired: log in to Tailscale again.".into()
        } else {
            "Tailscale is logged out: log in to use serve.".into()
        },
        NeedsApproval => "This machine is waiting for a tailnet admin to approve it.".into(),
        // Worded by `super::remote`, from its own evidence; never the verdict of this chain.
        PeerNotFound | NameUnresolved | DeviceDns | PeerOffline | PeerUnreachable | PeerNoCert
        | PeerCertStuck | PeerCertInvalid | PeerBackendDown | PeerServeFailing => format!("{}.", cause.headline()),
        MagicdnsDisabled => "MagicDNS is off for the tailnet, and HTTPS certificates need it: turn on MagicDNS, then HTTPS certificates, in the admin console.".into(),
        HttpsDisabled => "HTTPS certificates are off for the tailnet, so serve cannot get a certificate and every HTTPS connection fails; enable them in the admin console.".into(),
        ServeNotConfigured => format!("Serve is not configured for {name}."),
        ServeNameMismatch => format!("The serve config is keyed by an old name, not {name} (after a rename or a move between Tailscale apps), so the handler never matches."),
        ServePlainHttp => format!("Serve is set up for {name} over plain HTTP, not HTTPS."),
        ListenerUnreachable => match ev.tls.value() {
            Some(TlsOutcome::Failed { .. }) | Some(TlsOutcome::Alert { .. }) => format!("Something other than Tailscale's TLS answers on port {} of this node.", p.https_port),
            _ => format!("Nothing accepts connections on HTTPS port {} of this node.", p.https_port),
        },
        CertNeedsControl => "This node is not connected to Tailscale's control server, and without it no certificate can be issued (tailscaled publishes the ACME DNS-01 record through control): the handshake fails because of the control connection, not the ACME server or a rate limit.".into(),
        CertPending => "Tailscale is still fetching the first HTTPS certificate; try again in a minute.".into(),
        CertIssuanceFailing => "HTTPS is on, but tailscaled cannot get a certificate (Let's Encrypt rate limit, a stuck ACME order, or a stale identity after a rename or migration), so handshakes stall and end in \"internal error\"; the daemon log says which.".into(),
        CertInvalid => match ev.tls.value() {
            Some(TlsOutcome::CertRejected { problem, .. }) => format!("The certificate served for {name} is not valid: {}.", match problem {
                CertProblem::Expired => "it has expired",
                CertProblem::NotYetValid => "it is not valid yet (check the clock)",
                CertProblem::WrongName => "it is for another name",
                CertProblem::UnknownIssuer => "its issuer is not trusted (a self-signed certificate or an intercepting proxy?)",
                CertProblem::Revoked => "it has been revoked",
                CertProblem::Other => "it was rejected",
            }),
            _ => format!("The certificate served for {name} is not valid."),
        },
        BackendDown => format!("HTTPS works, but nothing answers on the backend {}.", p.backend_addr.as_deref().unwrap_or("port")),
        ServeConfigUnreadable => match ev.serve.value() {
            Some(Err(e)) => format!("The serve config could not be read ({}), so nothing can be said about serve; no port or backend is assumed in its place.", e.describe()),
            _ => "The serve config could not be read.".into(),
        },
        BackendCertRejected => {
            let detail = match ev.backend.value() {
                Some(HttpOutcome::CertRejected { detail, .. }) => detail.as_str(),
                _ => "not trusted",
            };
            format!(
                "serve proxies to {} over verified HTTPS, and that backend's certificate is not accepted ({detail}): serve refuses it too and answers 502.",
                p.backend_addr.as_deref().unwrap_or("the backend")
            )
        }
        EndpointFailing | EndpointDegraded => {
            let want = if cause == EndpointFailing { CheckStatus::Fail } else { CheckStatus::Warn };
            let reports = endpoints::reports(ev, p);
            let bad: Vec<_> = reports.iter().filter(|r| r.status == want).collect();
            match bad.first() {
                Some(r) => {
                    let more = match bad.len() {
                        1 => String::new(),
                        n => format!(" ({} more endpoints like it)", n - 1),
                    };
                    let main = if cause == EndpointFailing { "The main endpoint works, but " } else { "" };
                    format!("{main}{}: {}{more}.", r.url, r.summary)
                }
                None => "An endpoint of the serve config needs attention.".into(),
            }
        }
        BackendNotResponding => format!("The backend {} accepts connections but does not answer HTTP requests.", p.backend_addr.as_deref().unwrap_or("")),
        ServeProxyFailing => {
            let status = match ev.via_serve.value() {
                Some(HttpOutcome::Response { status, .. }) => status.to_string(),
                _ => "5xx".into(),
            };
            format!("Requests through serve get HTTP {status}, although the backend {} answers this machine directly: tailscaled reaches another place (it runs in another network namespace or container, or the backend listens on another address).", p.backend_addr.as_deref().unwrap_or(""))
        }
        CertExpiring => match ev.tls.value() {
            Some(TlsOutcome::Established { cert, .. }) => format!("Serve works, but its certificate expires in {} days and has not been renewed.", (cert.not_after - ev.now).num_days()),
            _ => "Serve works, but its certificate expires soon.".into(),
        },
        ControlUnreachable => "Serve works, but this node cannot reach Tailscale's control server, so certificates cannot be renewed.".into(),
        NotVerified => match &p.dial {
            Err(why) => format!("Serve looks configured for {name}, but the TLS check could not run from here ({why}), so nothing was verified end to end."),
            Ok(_) => format!("The TLS handshake and a request through serve did not both complete for {name}, so serve is not confirmed healthy."),
        },
        Healthy => match p.url() {
            Some(u) => format!("Serve is healthy: {u}"),
            None => "Serve is healthy.".into(),
        },
    }
}

/// Whether tailscaled is held by another OS user: `Some(None)` from the state alone,
/// `Some(Some(who))` when a failed status call's text says who.
fn in_use_other_user(ev: &Evidence) -> Option<Option<inuse::InUse>> {
    match ev.status.value()? {
        Ok(s) => (s.backend_state == BackendState::InUseOtherUser).then_some(None),
        Err(e) => inuse::parse(&e.describe()).map(Some),
    }
}

/// The rate limit `tailscale cert` (`--deep`) reported, if it did.
fn rate_limited(ev: &Evidence) -> Option<ratelimit::RateLimit> {
    match ev.cert_cmd.value()? {
        CertCommand::Failed { message, .. } => ratelimit::parse(message, ev.now),
        _ => None,
    }
}

fn fix(id: FixId, title: impl Into<String>, command: Option<String>, url: Option<&str>) -> Fix {
    Fix {
        id,
        title: title.into(),
        command,
        url: url.map(str::to_string),
    }
}

/// The SSH tunnel fallback, when its parts are valid: aimed where serve aims (its proxy
/// target's host and port, a LAN host or a socket included), else at the backend port on
/// 127.0.0.1.
pub fn tunnel_fix(ev: &Evidence, p: &ProbePlan) -> Option<Fix> {
    let user = ev
        .inputs
        .ssh_user
        .clone()
        .unwrap_or_else(|| ev.inputs.default_user.clone());
    let host = ev.inputs.ssh_host.clone().or_else(|| p.dns_name.clone())?;
    let target = served(ev, p);
    let remote = match &target {
        Some(t) => match tunnel_remote(t) {
            Some(r) => r,
            None => {
                return Some(fix(
                    FixId::SshTunnel,
                    format!(
                        "Fallback: SSH tunnel (not offered: serve proxies to {t}, which a tunnel cannot reach)"
                    ),
                    None,
                    None,
                ));
            }
        },
        None => crate::tunnel::loopback(p.backend_port),
    };
    let remote_port = remote.rsplit_once(':').and_then(|(_, n)| n.parse().ok());
    let local = ev
        .inputs
        .tunnel_local_port
        .or(remote_port)
        .unwrap_or(p.backend_port);
    let url = match &target {
        Some(t) => tunnel_url(t, local),
        None => format!("http://localhost:{local}/"),
    };
    match crate::tunnel::command(&user, &host, local, &remote) {
        Ok(cmd) => Some(fix(
            FixId::SshTunnel,
            format!("Fallback: SSH tunnel, then open {url} on the other device"),
            Some(cmd),
            None,
        )),
        Err(e) => Some(fix(
            FixId::SshTunnel,
            format!("Fallback: SSH tunnel (not offered: {e})"),
            None,
            None,
        )),
    }
}

/// The proxy target serve uses for this node's endpoint, else any in the config (a stale-name
/// or plain-HTTP handler is still where the user's backend is).
fn served(ev: &Evidence, p: &ProbePlan) -> Option<String> {
    p.proxy_target.clone().or_else(|| {
        ev.serve_ok()
            .and_then(|c| served_target(c, Some(p.https_port)))
            .map(|(t, _)| t)
    })
}

/// The fixes for `cause`, in the order to try them.
pub fn fixes(cause: Cause, ev: &Evidence, p: &ProbePlan, consent_url: Option<&str>) -> Vec<Fix> {
    let cli = ev
        .cli
        .as_ref()
        .map(|l| l.path.display().to_string())
        .unwrap_or_else(|_| "tailscale".into());
    let cli = crate::shell::word(&cli);
    let port = p.backend_port;
    // Without --port the fix keeps the proxy target the serve config has (scheme, host, port,
    // path); --port N would rewire it to http://127.0.0.1:N. So the printed command names a
    // port only when the user chose one for this run: the config file's port is a default for
    // a node with no target, never a reason to rewire one that has.
    let port_arg = match p.backend_port_source {
        PortSource::Flag => format!(" --port {port}"),
        PortSource::ConfigFile
        | PortSource::ServeConfig
        | PortSource::Default
        | PortSource::Unseen => String::new(),
    };
    let serve_cfg = ev.serve_ok().cloned().unwrap_or_default();
    // The port a new HTTPS handler can take: 443 unless something tailscaled would not let
    // go of holds it (a TCP forward, plain HTTP, a foreground session).
    let free_https = free(&serve_cfg, PortKind::Https, &HTTPS_PORTS).unwrap_or(443);
    let https_flag = if free_https == 443 {
        String::new()
    } else {
        format!(" --https={free_https}")
    };
    let taken_note = conflict(&serve_cfg, 443, PortKind::Https)
        .map(|why| format!(" ({why})"))
        .unwrap_or_default();
    let name = p.dns_name.clone().unwrap_or_else(|| "<this node>".into());
    let name_word = crate::shell::word(&name);
    let recreate = fix(
        FixId::RecreateServe,
        format!("Recreate serve for {name} (backs up the old config first)"),
        Some(format!("serve-doctor fix recreate{port_arg}")),
        None,
    );
    let http_fallback = fix(
        FixId::HttpFallback,
        format!(
            "Fallback: plain-HTTP serve on the tailnet (http://{name}/; WireGuard still encrypts the hop)"
        ),
        Some(format!("serve-doctor fix http-fallback{port_arg}")),
        None,
    );
    let admin = fix(
        FixId::OpenAdminDns,
        if consent_url.is_some() {
            "Open the consent page Tailscale printed to enable HTTPS"
        } else {
            "Open the admin console (DNS) and enable HTTPS certificates"
        },
        None,
        Some(consent_url.unwrap_or(ADMIN_DNS_URL)),
    );
    let logs = match ev.platform {
        Platform::MacOs => fix(FixId::CheckDaemonLogs, "Read the Tailscale logs for certificate errors",
            Some("log show --last 10m --predicate 'process CONTAINS \"Tailscale\" OR process CONTAINS \"IPNExtension\"' | grep -iE 'cert|acme'".into()), None),
        _ => fix(FixId::CheckDaemonLogs, "Read tailscaled's log for certificate errors",
            Some("journalctl -u tailscaled --since -10min | grep -iE 'cert|acme'".into()), None),
    };
    let cert_cmd = fix(
        FixId::RenewCert,
        "Ask for the certificate directly and read the error",
        Some(format!("{cli} cert {name_word}")),
        None,
    );
    let tunnel = tunnel_fix(ev, p);
    use Cause::*;
    let mut v = match cause {
        TailscaleNotFound => vec![fix(
            FixId::InstallTailscale,
            "Install Tailscale, or pass --tailscale PATH",
            None,
            Some("https://tailscale.com/download"),
        )],
        StatusUnparseable | Stopped if in_use_other_user(ev).is_some() => vec![fix(
            FixId::CheckCliAccess,
            inuse::fix_title(in_use_other_user(ev).flatten().as_ref()),
            None,
            None,
        )],
        DaemonUnreachable
            if matches!(
                ev.status.value(),
                Some(Err(CliFailure::NoConnection { .. }))
            ) =>
        {
            vec![fix(
                FixId::CheckCliAccess,
                "Make `ssh` reach the node without a prompt: the address, a key it accepts, its host key in known_hosts",
                None,
                None,
            )]
        }
        DaemonUnreachable | Stopped => vec![match ev.platform {
            Platform::MacOs => fix(
                FixId::StartTailscale,
                "Open Tailscale and connect",
                Some("open -a Tailscale".into()),
                None,
            ),
            _ if cause == DaemonUnreachable => fix(
                FixId::StartTailscale,
                "Start the Tailscale daemon",
                Some("sudo systemctl start tailscaled".into()),
                None,
            ),
            _ => fix(
                FixId::StartTailscale,
                "Connect Tailscale",
                Some(format!("{cli} up")),
                None,
            ),
        }],
        StatusUnparseable => vec![fix(
            FixId::CheckCliAccess,
            "Run the CLI in your login session (or install the Tailscale CLI from the app's settings) and check its output",
            Some(match ev.platform {
                Platform::MacOs => format!("/bin/launchctl asuser $(id -u) {cli} status --json"),
                _ => format!("{cli} status --json"),
            }),
            None,
        )],
        NeedsLogin => {
            let url = ev
                .status_ok()
                .map(|s| s.auth_url.clone())
                .filter(|u| !u.is_empty());
            vec![fix(
                FixId::LogIn,
                "Log in to Tailscale",
                Some(format!("{cli} up")),
                url.as_deref(),
            )]
        }
        NeedsApproval => vec![fix(
            FixId::ApproveMachine,
            "Approve this machine in the admin console",
            None,
            Some(ADMIN_MACHINES_URL),
        )],
        PeerNotFound | NameUnresolved | DeviceDns | PeerOffline | PeerUnreachable | PeerNoCert
        | PeerCertStuck | PeerCertInvalid | PeerBackendDown | PeerServeFailing => vec![],
        MagicdnsDisabled => vec![
            fix(
                FixId::OpenAdminDns,
                "Open the admin console (DNS), turn on MagicDNS, then HTTPS certificates",
                None,
                Some(ADMIN_DNS_URL),
            ),
            recreate,
        ],
        HttpsDisabled => vec![admin, recreate],
        ServeNotConfigured => vec![fix(
            FixId::ConfigureServe,
            format!(
                "Serve the backend on port {port} over HTTPS at https://{name}{}/{taken_note}",
                if free_https == 443 {
                    String::new()
                } else {
                    format!(":{free_https}")
                }
            ),
            Some(format!("{cli} serve --bg{https_flag} {port}")),
            None,
        )],
        ServeNameMismatch => vec![recreate],
        ServePlainHttp => {
            let target = served(ev, p).unwrap_or_else(|| port.to_string());
            vec![fix(
                FixId::ServeHttps,
                format!(
                    "Serve the same backend over HTTPS at https://{name}{}/ (the plain-HTTP handler stays until you turn it off){taken_note}",
                    if free_https == 443 {
                        String::new()
                    } else {
                        format!(":{free_https}")
                    }
                ),
                Some(format!(
                    "{cli} serve --bg --https={free_https} {}",
                    crate::shell::word(&target)
                )),
                None,
            )]
        }
        ListenerUnreachable => vec![logs, recreate],
        CertPending => vec![
            fix(
                FixId::WaitForCert,
                "Wait a minute, then diagnose again",
                Some("serve-doctor diagnose".into()),
                None,
            ),
            logs,
        ],
        CertNeedsControl => vec![fix(
            FixId::CheckNetwork,
            "Check this machine's connection to Tailscale's control server (internet, firewall, proxy)",
            None,
            None,
        )],
        CertIssuanceFailing => vec![logs, cert_cmd],
        CertInvalid => match ev.tls.value() {
            Some(TlsOutcome::CertRejected {
                problem: CertProblem::WrongName,
                ..
            }) => vec![recreate, cert_cmd],
            Some(TlsOutcome::CertRejected {
                problem: CertProblem::UnknownIssuer,
                ..
            }) => vec![
                fix(
                    FixId::CheckNetwork,
                    "Check for a TLS-intercepting proxy or antivirus; pass --ca-file if you trust a private CA",
                    None,
                    None,
                ),
                cert_cmd,
            ],
            _ => vec![cert_cmd, logs],
        },
        ServeProxyFailing => vec![fix(
            FixId::StartBackend,
            format!(
                "Make your app reachable where tailscaled runs (same network namespace or container; listening on {})",
                p.backend_addr.as_deref().unwrap_or("the proxied address")
            ),
            None,
            None,
        )],
        BackendDown | BackendNotResponding => vec![fix(
            FixId::StartBackend,
            format!(
                "Start (or restart) your app so it answers on {}",
                p.backend_addr.as_deref().unwrap_or("its port")
            ),
            None,
            None,
        )],
        BackendCertRejected => {
            let insecure = p
                .backend_target
                .as_ref()
                .map(|t| format!("https+insecure://{}{}", t.addr, t.path));
            vec![fix(
                FixId::ServeInsecureBackend,
                "Serve the backend with https+insecure:// (serve then skips verifying its certificate; the hop stays on this machine)",
                insecure.map(|t| {
                    format!(
                        "{cli} serve --bg --https={} {}",
                        p.https_port,
                        crate::shell::word(&t)
                    )
                }),
                None,
            )]
        }
        EndpointFailing | EndpointDegraded => endpoint_fixes(ev, p, &recreate),
        ServeConfigUnreadable => vec![fix(
            FixId::CheckCliAccess,
            "Read the serve config yourself and check what the CLI says",
            Some(format!("{cli} serve status --json")),
            None,
        )],
        CertExpiring => vec![cert_cmd, logs],
        ControlUnreachable => vec![fix(
            FixId::CheckNetwork,
            "Check this machine's internet connection and firewall (control server unreachable)",
            None,
            None,
        )],
        NotVerified if ev.status_ok().is_some_and(|s| s.tun == Some(false)) && p.dial.is_err() => {
            let url = p.url().unwrap_or_else(|| format!("https://{name}/"));
            vec![
                fix(
                    FixId::CheckNetwork,
                    "Userspace networking has no local listener: run the check through the SOCKS5 proxy tailscaled can run (tailscaled --socks5-server=localhost:1055)",
                    Some("serve-doctor diagnose --socks5 localhost:1055".into()),
                    None,
                ),
                fix(
                    FixId::CheckNetwork,
                    "Or open the site through that proxy (or the HTTP one, --outbound-http-proxy-listen=localhost:1054)",
                    Some(format!(
                        "curl --proxy socks5h://localhost:1055 {}",
                        crate::shell::word(&url)
                    )),
                    None,
                ),
                fix(
                    FixId::CheckNetwork,
                    format!(
                        "Or open {url} from another device of the tailnet, or point --connect at an address that reaches this node's serve port"
                    ),
                    None,
                    None,
                ),
                fix(
                    FixId::RenewCert,
                    "Or run with --deep: it asks tailscaled for the certificate itself (tailscale cert), which needs no listener",
                    Some("serve-doctor diagnose --deep".into()),
                    None,
                ),
            ]
        }
        NotVerified => vec![fix(
            FixId::CheckNetwork,
            "Check it from a device that can reach the node (or point --connect at an address that reaches its serve port)",
            None,
            None,
        )],
        Healthy => vec![],
    };
    if matches!(cause, CertPending | CertIssuanceFailing)
        && let Some(rl) = rate_limited(ev)
    {
        let when = rl.until.map_or("the limit resets".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        });
        v.insert(
            0,
            fix(
                FixId::WaitForCert,
                format!(
                    "Wait until {when} (rate limit); do not reset tailscaled's state meanwhile"
                ),
                Some("serve-doctor diagnose".into()),
                None,
            ),
        );
    }
    // When certificates cannot be had, only fallbacks that do not need one help (not Funnel,
    // which uses the same certificate).
    if matches!(
        cause,
        MagicdnsDisabled | HttpsDisabled | CertNeedsControl | CertIssuanceFailing | CertPending
    ) {
        v.extend(tunnel);
        v.push(http_fallback);
    }
    v
}

/// The fixes for the first endpoint that fails (or warns): what its own evidence points at.
fn endpoint_fixes(ev: &Evidence, p: &ProbePlan, recreate: &Fix) -> Vec<Fix> {
    let reports = endpoints::reports(ev, p);
    let Some(r) = reports
        .iter()
        .find(|r| r.status == CheckStatus::Fail)
        .or_else(|| reports.iter().find(|r| r.status == CheckStatus::Warn))
    else {
        return vec![];
    };
    let failed = |name: &str| {
        r.checks
            .iter()
            .find(|l| l.name == name && l.status != CheckStatus::Pass)
    };
    if matches!(
        r.host,
        endpoints::Host::OtherNode(_) | endpoints::Host::Placeholder(_)
    ) {
        return vec![fix(
            FixId::RecreateServe,
            "Re-key the stale entries to this node (backs up the old config first): they serve nothing as they are",
            Some("serve-doctor fix recreate --keep-others".into()),
            None,
        )];
    }
    if failed("funnel").is_some() {
        return vec![fix(
            FixId::EditPolicy,
            "Allow Funnel for this node and port in the tailnet policy file (nodeAttrs \"funnel\"), or update Tailscale if the version has the known Funnel outage",
            None,
            Some(ADMIN_POLICY_URL),
        )];
    }
    if let Some(l) = failed("backend") {
        if l.detail.contains("certificate not accepted") {
            return vec![fix(
                FixId::ServeInsecureBackend,
                format!(
                    "Serve {} with https+insecure:// (serve then skips verifying its certificate)",
                    r.url
                ),
                None,
                None,
            )];
        }
        return vec![fix(
            FixId::StartBackend,
            format!(
                "Start (or restart) the app behind {} so it answers on {}",
                r.url,
                r.target.as_deref().unwrap_or("its target")
            ),
            None,
            None,
        )];
    }
    if failed("request").is_some() && failed("tls_handshake").is_none() {
        return vec![fix(
            FixId::StartBackend,
            format!(
                "Make the app behind {} answer where tailscaled runs (its backend {} answers this machine directly)",
                r.url,
                r.target.as_deref().unwrap_or("")
            ),
            None,
            None,
        )];
    }
    if r.kind == endpoints::Kind::FunnelEntry {
        return vec![fix(
            FixId::RecreateServe,
            "Turn Funnel off for the port that serves nothing (serve-doctor fix funnel-off)"
                .to_string(),
            Some("serve-doctor fix funnel-off".into()),
            None,
        )];
    }
    vec![recreate.clone()]
}
