//! What each check line says: one line per step of the chain, in display order, with its
//! status (pass / fail / warn / pending / skipped / error kept apart) and its evidence.

use chrono::TimeDelta;

use crate::probe::{CertProblem, HttpOutcome, TlsOutcome};
use crate::tailscale::{BackendState, CertCommand, CliFailure};

use super::evidence::{Evidence, ProbePlan, ServeFinding, Step};
use super::model::{Check, CheckId, CheckStatus};
use super::rules::*;

/// One check line per step, in display order.
pub fn checks(ev: &Evidence, p: &ProbePlan) -> Vec<Check> {
    let mut out = Vec::new();
    let mut push = |id: CheckId, status: CheckStatus, detail: String, ms: u64| {
        out.push(Check {
            id,
            title: id.title(),
            status,
            detail,
            ms,
        });
    };
    use CheckStatus::*;
    let skip_reason = |step_cancelled: bool, why: &str| -> String {
        if step_cancelled {
            "not needed: the cause is already certain (--full runs it anyway)".to_string()
        } else {
            why.to_string()
        }
    };

    // CLI (or the LocalAPI, which makes the CLI unnecessary)
    match (&ev.api, &ev.cli) {
        (Some(api), cli) => push(
            CheckId::TailscaleCli,
            Pass,
            match cli {
                Ok(l) => format!(
                    "talking to tailscaled over the LocalAPI: {api} (CLI {} for --deep)",
                    l.path.display()
                ),
                Err(_) => format!("talking to tailscaled over the LocalAPI: {api} (no CLI needed)"),
            },
            0,
        ),
        (None, cli) => match cli {
            Ok(l) => push(
                CheckId::TailscaleCli,
                Pass,
                format!("{} ({})", l.path.display(), l.source.describe()),
                0,
            ),
            Err(nf) => match &nf.forced {
                Some(p) => push(
                    CheckId::TailscaleCli,
                    Fail,
                    format!("{} is missing or not executable", p.display()),
                    0,
                ),
                None => push(
                    CheckId::TailscaleCli,
                    Fail,
                    "not installed (searched the usual places and PATH)".into(),
                    0,
                ),
            },
        },
    }

    // Daemon + status
    let status_ms = ev.status.ms();
    let st = ev.status_ok();
    match &ev.status {
        Step::Done { value: Ok(s), .. } => {
            let v = if s.version.is_empty() {
                String::new()
            } else {
                format!("tailscaled {}", s.version)
            };
            push(
                CheckId::Daemon,
                Pass,
                if v.is_empty() {
                    "status read".into()
                } else {
                    v
                },
                status_ms,
            )
        }
        Step::Done { value: Err(e), .. } => {
            let status = match e {
                CliFailure::DaemonUnreachable { .. }
                | CliFailure::TimedOut { .. }
                | CliFailure::NoConnection { .. } => Fail,
                _ => Error,
            };
            push(CheckId::Daemon, status, e.describe(), status_ms)
        }
        Step::Running => push(CheckId::Daemon, Pending, "asking tailscaled…".into(), 0),
        _ => push(CheckId::Daemon, Skip, "no CLI to ask".into(), 0),
    }

    let not_running = |why: &str| why.to_string();
    match st {
        Some(s) => {
            let (status, detail) = match (state(s), expired(s)) {
                (_, true) => (Fail, "node key expired: log in again".to_string()),
                (BackendState::Running, _) => {
                    let who = s.dns_name().unwrap_or("?");
                    (Pass, format!("Running as {who}"))
                }
                (BackendState::NeedsLogin, _) if !s.auth_url.is_empty() => {
                    (Fail, format!("NeedsLogin: log in at {}", s.auth_url))
                }
                (other, _) => (
                    Fail,
                    format!(
                        "BackendState {}",
                        if other.is_known() {
                            other.as_str()
                        } else {
                            "unknown"
                        }
                    ),
                ),
            };
            push(CheckId::LoggedIn, status, detail, 0);
        }
        None => push(
            CheckId::LoggedIn,
            if ev.status.is_running() {
                Pending
            } else {
                Skip
            },
            not_running("no status"),
            0,
        ),
    }
    let running = st.is_some_and(|s| state(s).is_running() && !expired(s));

    // MagicDNS and HTTPS certificates: only meaningful while Running (a logged-out node shows
    // CertDomains null, which is not "HTTPS disabled").
    match st {
        Some(s) if running => {
            let magic = s.current_tailnet.as_ref().and_then(|t| t.magic_dns_enabled);
            match magic {
                Some(true) => push(
                    CheckId::Magicdns,
                    Pass,
                    format!("on for {}", s.tailnet().unwrap_or("the tailnet")),
                    0,
                ),
                Some(false) => push(
                    CheckId::Magicdns,
                    if s.cert_domains.is_empty() {
                        Fail
                    } else {
                        Warn
                    },
                    "off for the tailnet (HTTPS certificates need MagicDNS)".into(),
                    0,
                ),
                None => push(
                    CheckId::Magicdns,
                    Skip,
                    "not reported by this Tailscale version".into(),
                    0,
                ),
            }
            if s.cert_domains.is_empty() {
                push(
                    CheckId::HttpsCerts,
                    Fail,
                    "CertDomains is empty: HTTPS certificates are off for the tailnet".into(),
                    0,
                );
            } else {
                let name = s.dns_name().unwrap_or("");
                if s.cert_domains.iter().any(|d| d == name) {
                    push(
                        CheckId::HttpsCerts,
                        Pass,
                        format!("CertDomains: {}", s.cert_domains.join(", ")),
                        0,
                    );
                } else {
                    push(
                        CheckId::HttpsCerts,
                        Warn,
                        format!(
                            "CertDomains ({}) does not list this node's name {name}",
                            s.cert_domains.join(", ")
                        ),
                        0,
                    );
                }
            }
        }
        _ => {
            let pend = if ev.status.is_running() {
                Pending
            } else {
                Skip
            };
            push(
                CheckId::Magicdns,
                pend,
                not_running("needs a running, logged-in node"),
                0,
            );
            push(
                CheckId::HttpsCerts,
                pend,
                not_running("needs a running, logged-in node"),
                0,
            );
        }
    }

    // Serve config
    let serve_ms = ev.serve.ms();
    match (&ev.serve, &p.serve) {
        (Step::Done { value: Err(e), .. }, _) => {
            push(CheckId::ServeConfig, Error, e.describe(), serve_ms)
        }
        (Step::Done { .. }, Some(f)) => {
            let (status, detail) = match f {
                ServeFinding::NotConfigured { detail } => (Fail, detail.clone()),
                ServeFinding::NameMismatch { hosts } => (
                    Fail,
                    format!(
                        "handlers are keyed by {} but this node is {}",
                        hosts.join(", "),
                        p.dns_name.as_deref().unwrap_or("?")
                    ),
                ),
                ServeFinding::PlainHttp { port } => {
                    (Fail, format!("port {port} serves plain HTTP, not HTTPS"))
                }
                ServeFinding::Https {
                    port,
                    mount,
                    mounts,
                } => {
                    let mut warn = Vec::new();
                    if mount.foreground {
                        warn.push("runs in the foreground only (no --bg): it stops when that terminal closes".to_string());
                    }
                    let target_port = mount
                        .proxy
                        .as_deref()
                        .and_then(crate::tailscale::serve::proxy_target_port);
                    let expected = ev.inputs.port_flag.or(ev.inputs.config_port);
                    if let (Some(t), Some(e)) = (target_port, expected)
                        && t != e
                    {
                        warn.push(format!(
                            "serve proxies to port {t}, but the backend port is {e}"
                        ));
                    }
                    let base = format!(
                        ":{port}{} → {}{}",
                        mount.path,
                        mount.what,
                        if *mounts > 1 {
                            format!(" (+{} more)", mounts - 1)
                        } else {
                            String::new()
                        }
                    );
                    if warn.is_empty() {
                        (Pass, base)
                    } else {
                        (Warn, format!("{base}; {}", warn.join("; ")))
                    }
                }
            };
            push(CheckId::ServeConfig, status, detail, serve_ms)
        }
        (Step::Done { .. }, None) => push(
            CheckId::ServeConfig,
            Skip,
            "needs the node's DNS name".into(),
            serve_ms,
        ),
        (Step::Running, _) => push(
            CheckId::ServeConfig,
            Pending,
            "reading serve config…".into(),
            0,
        ),
        (Step::Cancelled, _) => push(CheckId::ServeConfig, Skip, skip_reason(true, ""), 0),
        (Step::NotStarted, _) => push(
            CheckId::ServeConfig,
            Skip,
            "needs a running, logged-in node".into(),
            0,
        ),
    }

    // Listener + TLS (one probe, two lines)
    let dial = p.dial.as_deref().unwrap_or("?");
    let tls_ms = ev.tls.ms();
    match &ev.tls {
        Step::Done { value, .. } => {
            let (status, detail) = listener_text(value, dial);
            push(CheckId::Listener, status, detail, tls_ms);
            let name = p.dns_name.as_deref().unwrap_or("?");
            match handshake_text(value, name, ev.now) {
                Some((status, detail)) => push(CheckId::TlsHandshake, status, detail, tls_ms),
                None => push(CheckId::TlsHandshake, Skip, "no TLS listener".into(), 0),
            }
        }
        Step::Running => {
            push(CheckId::Listener, Pending, format!("dialing {dial}…"), 0);
            push(CheckId::TlsHandshake, Pending, "handshaking…".into(), 0);
        }
        other => {
            let why = match &p.dial {
                Err(why) if running => why.clone(),
                _ if !running => "needs a running, logged-in node".to_string(),
                _ => "not run".to_string(),
            };
            let r = skip_reason(matches!(other, Step::Cancelled), &why);
            push(CheckId::Listener, Skip, r.clone(), 0);
            push(CheckId::TlsHandshake, Skip, r, 0);
        }
    }

    // Backend
    let baddr = p.backend_addr.as_deref().unwrap_or("?");
    let bdesc = format!(
        "{baddr} (port {}, {})",
        p.backend_port,
        p.backend_port_source.describe()
    );
    match &ev.backend {
        Step::Done { value, ms } => {
            let (status, detail) = match value {
                HttpOutcome::Response { status, .. } => {
                    (Pass, format!("{bdesc} answered HTTP {status}"))
                }
                HttpOutcome::Connect { tcp } => (Fail, tcp_text(tcp, &bdesc)),
                HttpOutcome::NoResponse { after_ms } => (
                    Fail,
                    format!(
                        "{bdesc} accepted the connection but sent no response within {}",
                        secs(*after_ms)
                    ),
                ),
                HttpOutcome::CertRejected { detail, .. } => (
                    Fail,
                    format!(
                        "{bdesc}: its certificate is not accepted ({detail}), and serve verifies it too"
                    ),
                ),
                HttpOutcome::Failed { detail } => {
                    (Fail, format!("{bdesc} did not speak HTTP: {detail}"))
                }
            };
            push(CheckId::Backend, status, detail, *ms)
        }
        Step::Running => push(CheckId::Backend, Pending, format!("asking {bdesc}…"), 0),
        other => {
            let why = match &p.backend_addr {
                Err(why) => why.clone(),
                Ok(_) if !running => "needs a running, logged-in node".into(),
                Ok(_) => "not run".into(),
            };
            push(
                CheckId::Backend,
                Skip,
                skip_reason(matches!(other, Step::Cancelled), &why),
                0,
            )
        }
    }

    // Through serve
    match &ev.via_serve {
        Step::Done { value, ms } => {
            let (status, detail) = match value {
                HttpOutcome::Response { status: 502, .. } => (
                    Fail,
                    "HTTP 502 from serve: it cannot reach the backend".to_string(),
                ),
                HttpOutcome::Response { status, .. } if *status >= 500 => {
                    (Warn, format!("HTTP {status} through serve"))
                }
                HttpOutcome::Response { status, .. } => {
                    (Pass, format!("HTTP {status} through serve"))
                }
                HttpOutcome::NoResponse { after_ms } => (
                    Warn,
                    format!("no response through serve within {}", secs(*after_ms)),
                ),
                HttpOutcome::Connect { tcp } => (Warn, tcp_text(tcp, dial)),
                HttpOutcome::CertRejected { detail, .. } => (Warn, detail.clone()),
                HttpOutcome::Failed { detail } => (Warn, detail.clone()),
            };
            push(CheckId::ServeProxy, status, detail, *ms)
        }
        Step::Running => push(
            CheckId::ServeProxy,
            Pending,
            "requesting / through serve…".into(),
            0,
        ),
        Step::Cancelled => push(CheckId::ServeProxy, Skip, skip_reason(true, ""), 0),
        Step::NotStarted => push(
            CheckId::ServeProxy,
            Skip,
            "runs once the TLS handshake works".into(),
            0,
        ),
    }

    // tailscale cert (--deep)
    match &ev.cert_cmd {
        Step::Done { value, .. } => {
            let (status, detail, ms) = match value {
                CertCommand::Succeeded { message, ms } => (Pass, message.clone(), *ms),
                CertCommand::Failed { message, ms } => (Fail, message.clone(), *ms),
                CertCommand::TimedOut { after_ms } => (
                    Fail,
                    format!(
                        "tailscale cert did not finish within {} (stopped); issuance is stuck",
                        secs(*after_ms)
                    ),
                    *after_ms,
                ),
            };
            push(CheckId::CertCommand, status, detail, ms)
        }
        Step::Running => push(
            CheckId::CertCommand,
            Pending,
            "running tailscale cert…".into(),
            0,
        ),
        Step::Cancelled => push(CheckId::CertCommand, Skip, skip_reason(true, ""), 0),
        Step::NotStarted => push(
            CheckId::CertCommand,
            Skip,
            if ev.inputs.deep {
                "needs HTTPS certificates on".into()
            } else {
                "only with --deep".into()
            },
            0,
        ),
    }

    // Control and health
    match st {
        Some(s) if running => match s.self_node.as_ref().and_then(|n| n.online) {
            Some(false) => push(
                CheckId::Control,
                Warn,
                "Self.Online is false: no control connection, so no certificate renewals".into(),
                0,
            ),
            Some(true) => push(CheckId::Control, Pass, "connected".into(), 0),
            None => push(
                CheckId::Control,
                Skip,
                "not reported by this Tailscale version".into(),
                0,
            ),
        },
        _ => push(
            CheckId::Control,
            Skip,
            "needs a running, logged-in node".into(),
            0,
        ),
    }
    match st {
        Some(s) if s.health.is_empty() => {
            push(CheckId::HealthWarnings, Pass, "no warnings".into(), 0)
        }
        Some(s) => {
            let more = if s.health.len() > 1 {
                format!(" (+{} more)", s.health.len() - 1)
            } else {
                String::new()
            };
            push(
                CheckId::HealthWarnings,
                Warn,
                format!("{}{more}", crate::tailscale::first_line(&s.health[0])),
                0,
            )
        }
        None => push(
            CheckId::HealthWarnings,
            if ev.status.is_running() {
                Pending
            } else {
                Skip
            },
            "no status".into(),
            0,
        ),
    }
    out
}

/// The listener line, from the handshake probe that began with the TCP connect.
pub(super) fn listener_text(value: &TlsOutcome, dial: &str) -> (CheckStatus, String) {
    match value {
        TlsOutcome::Connect { tcp } => (CheckStatus::Fail, tcp_text(tcp, dial)),
        TlsOutcome::Failed { detail } => (
            CheckStatus::Fail,
            format!("{dial} accepted but did not speak TLS: {detail}"),
        ),
        _ => (CheckStatus::Pass, format!("{dial} accepted")),
    }
}

/// The handshake line's status and evidence; `None` when no TLS listener answered (the TCP step
/// failed, or the peer did not speak TLS): the listener line says that.
pub(super) fn handshake_text(
    value: &TlsOutcome,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(CheckStatus, String)> {
    use CheckStatus::*;
    Some(match value {
        TlsOutcome::Connect { .. } | TlsOutcome::Failed { .. } => return None,
        TlsOutcome::Established { version, cert, .. } => {
            let left = cert.not_after - now;
            let detail = format!(
                "{version}, issued by {}, expires {} ({} days)",
                cert.issuer,
                cert.not_after.format("%Y-%m-%d"),
                left.num_days()
            );
            let status = if left < TimeDelta::days(EXPIRY_WARNING_DAYS) {
                Warn
            } else {
                Pass
            };
            (status, detail)
        }
        TlsOutcome::Stalled { after_ms } => (
            Fail,
            format!(
                "handshake for {name} stalled: no ServerHello within {}",
                secs(*after_ms)
            ),
        ),
        TlsOutcome::Alert { description, .. } => (
            Fail,
            format!(
                "server sent TLS alert {description} (curl: \"tlsv1 alert {}\")",
                description.replace('_', " ")
            ),
        ),
        TlsOutcome::CertRejected {
            problem,
            detail,
            cert,
        } => {
            let what = match problem {
                CertProblem::Expired => "certificate expired",
                CertProblem::NotYetValid => "certificate not valid yet",
                CertProblem::WrongName => "certificate is for another name",
                CertProblem::UnknownIssuer => "certificate issuer not trusted",
                CertProblem::Revoked => "certificate revoked",
                CertProblem::Other => "certificate rejected",
            };
            let about = cert
                .as_ref()
                .map(|c| {
                    format!(
                        " [subject {}, names {}, issuer {}, valid until {}]",
                        c.subject,
                        c.dns_names.join(" "),
                        c.issuer,
                        c.not_after.format("%Y-%m-%d")
                    )
                })
                .unwrap_or_default();
            (Fail, format!("{what}: {detail}{about}"))
        }
    })
}
