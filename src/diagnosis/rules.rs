//! The rules: which cause applies, what each check line says, the sentence, the fixes.
//!
//! Each cause is a three-valued test on the evidence (yes / no / not known yet). Walking the
//! causes in precedence order, the first "yes" whose predecessors are all "no" is certain; a
//! "not known yet" before any "yes" means we must wait. That is what lets the engine stop early:
//! with HTTPS certificates off, the status alone decides, and no handshake is made at all (a
//! stuck issuance would hold it for up to a minute).

use chrono::TimeDelta;

use crate::probe::{CertProblem, HttpOutcome, TcpOutcome, TlsOutcome};
use crate::tailscale::{BackendState, CertCommand, CliFailure, Status};

use super::evidence::{Evidence, Platform, ProbePlan, ServeFinding, Step};
use super::model::{Cause, Check, CheckId, CheckStatus, Fix, FixId, PortSource};

/// Certificates closer to expiry than this turn the icon yellow.
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// Status `Health` text while a first certificate is being fetched (tailscale ≥ 1.100).
pub const CERT_PENDING_HEALTH: &str = "Fetching TLS certificate via ACME";
pub const ADMIN_DNS_URL: &str = "https://login.tailscale.com/admin/dns";
pub const ADMIN_MACHINES_URL: &str = "https://login.tailscale.com/admin/machines";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
}

/// Applies `f` to a step's value; a step that will never run counts as `No`.
fn on<T>(step: &Step<T>, will_run: bool, f: impl FnOnce(&T) -> bool) -> Tri {
    match step {
        Step::Done { value, .. } => f(value).into(),
        Step::Running => Tri::Unknown,
        Step::NotStarted if will_run => Tri::Unknown,
        Step::NotStarted | Step::Cancelled => Tri::No,
    }
}

fn state(s: &Status) -> &BackendState {
    &s.backend_state
}

fn expired(s: &Status) -> bool {
    s.self_node.as_ref().and_then(|n| n.expired) == Some(true)
}

fn cert_pending_health(s: &Status) -> bool {
    s.health.iter().any(|h| h.contains(CERT_PENDING_HEALTH))
}

fn is_stall_or_internal_error(t: &TlsOutcome) -> bool {
    match t {
        TlsOutcome::Stalled { .. } => true,
        TlsOutcome::Alert { description, .. } => description == "internal_error",
        _ => false,
    }
}

fn serve_is(ev: &Evidence, p: &ProbePlan, f: impl Fn(&ServeFinding) -> bool) -> Tri {
    match (&ev.serve, &p.serve) {
        (Step::Done { value: Ok(_), .. }, Some(finding)) => f(finding).into(),
        (Step::Done { .. }, _) => Tri::No,
        (s, _) => on(s, true, |_| false),
    }
}

/// Whether the backend probe will run (the engine starts it once the serve config is known).
fn backend_will_run(ev: &Evidence, p: &ProbePlan) -> bool {
    p.backend_addr.is_ok() && !matches!(ev.serve, Step::Cancelled)
}

/// Does `cause` apply, given the evidence so far?
pub fn applies(cause: Cause, ev: &Evidence, p: &ProbePlan) -> Tri {
    let st = ev.status_ok();
    let running = st.is_some_and(|s| state(s).is_running() && !expired(s));
    let tls_will_run = running && p.dial.is_ok();
    use Cause::*;
    match cause {
        TailscaleNotFound => (ev.cli.is_err() && ev.api.is_none()).into(),
        DaemonUnreachable => on(&ev.status, true, |r| {
            matches!(
                r,
                Err(CliFailure::DaemonUnreachable { .. } | CliFailure::TimedOut { .. })
            )
        }),
        StatusUnparseable => on(&ev.status, true, |r| r.is_err()),
        Stopped => st
            .is_some_and(|s| {
                !matches!(
                    state(s),
                    BackendState::Running
                        | BackendState::NeedsLogin
                        | BackendState::NeedsMachineAuth
                ) && !expired(s)
            })
            .into(),
        NeedsLogin => st
            .is_some_and(|s| *state(s) == BackendState::NeedsLogin || expired(s))
            .into(),
        NeedsApproval => st
            .is_some_and(|s| *state(s) == BackendState::NeedsMachineAuth)
            .into(),
        MagicdnsDisabled => st
            .is_some_and(|s| {
                s.cert_domains.is_empty()
                    && s.current_tailnet.as_ref().and_then(|t| t.magic_dns_enabled) == Some(false)
            })
            .into(),
        HttpsDisabled => st.is_some_and(|s| s.cert_domains.is_empty()).into(),
        ServeNotConfigured => serve_is(ev, p, |f| matches!(f, ServeFinding::NotConfigured { .. })),
        ServeNameMismatch => serve_is(ev, p, |f| matches!(f, ServeFinding::NameMismatch { .. })),
        ServePlainHttp => serve_is(ev, p, |f| matches!(f, ServeFinding::PlainHttp { .. })),
        ListenerUnreachable => on(&ev.tls, tls_will_run, |t| match t {
            TlsOutcome::Connect { .. } | TlsOutcome::Failed { .. } => true,
            TlsOutcome::Alert { description, .. } => description != "internal_error",
            _ => false,
        }),
        // No control connection, no certificate: tailscaled publishes the DNS-01 record through
        // control, so a pending or failing issuance while Self.Online is false is the control
        // connection's doing, not ACME's or a rate limit's (seen on the real-tailnet bench).
        CertNeedsControl => {
            let offline = running
                && st.and_then(|s| s.self_node.as_ref()).and_then(|n| n.online) == Some(false);
            if !offline {
                return Tri::No;
            }
            on(&ev.tls, tls_will_run, is_stall_or_internal_error)
        }
        CertPending => {
            if !st.is_some_and(cert_pending_health) {
                return Tri::No;
            }
            match &ev.tls {
                Step::Done { value, .. } => {
                    (!matches!(value, TlsOutcome::Established { .. })).into()
                }
                Step::Running => Tri::Unknown,
                Step::NotStarted if tls_will_run => Tri::Unknown,
                _ => Tri::Yes,
            }
        }
        CertIssuanceFailing => match &ev.tls {
            Step::Done { value, .. } => is_stall_or_internal_error(value).into(),
            Step::Running => Tri::Unknown,
            Step::NotStarted if tls_will_run => Tri::Unknown,
            // No handshake to look at: `tailscale cert` (--deep) is the remaining witness.
            _ => on(&ev.cert_cmd, false, |c| {
                !matches!(c, CertCommand::Succeeded { .. })
            }),
        },
        CertInvalid => on(&ev.tls, tls_will_run, |t| {
            matches!(t, TlsOutcome::CertRejected { .. })
        }),
        BackendDown => {
            let direct = on(&ev.backend, backend_will_run(ev, p), |b| {
                matches!(b, HttpOutcome::Connect { .. })
            });
            let via = on(&ev.via_serve, false, |v| {
                matches!(v, HttpOutcome::Response { status: 502, .. })
            });
            match (direct, via) {
                (Tri::Yes, _) => Tri::Yes,
                (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
                // serve says 502 and our direct probe could not tell: the backend it is.
                (Tri::No, Tri::Yes) if ev.backend.value().is_none() => Tri::Yes,
                _ => Tri::No,
            }
        }
        BackendNotResponding => on(&ev.backend, backend_will_run(ev, p), |b| {
            matches!(
                b,
                HttpOutcome::NoResponse { .. } | HttpOutcome::Failed { .. }
            )
        }),
        // serve answered 5xx although the backend answers this machine directly: tailscaled
        // reaches something else (another network namespace or container, another address).
        ServeProxyFailing => on(
            &ev.via_serve,
            false,
            |v| matches!(v, HttpOutcome::Response { status, .. } if *status >= 500),
        ),
        CertExpiring => on(&ev.tls, tls_will_run, |t| match t {
            TlsOutcome::Established { cert, .. } => {
                cert.not_after - ev.now < TimeDelta::days(EXPIRY_WARNING_DAYS)
            }
            _ => false,
        }),
        ControlUnreachable => (running
            && st.and_then(|s| s.self_node.as_ref()).and_then(|n| n.online) == Some(false))
        .into(),
        // Green needs evidence: a completed handshake and a request through serve that serve
        // answered. Without them (no local listener on a userspace node, a request that got a
        // 5xx or no answer) the verdict is "not verified", never healthy.
        NotVerified => match (&ev.tls, &ev.via_serve) {
            (Step::Running, _) => Tri::Unknown,
            (Step::NotStarted, _) if tls_will_run => Tri::Unknown,
            (
                Step::Done {
                    value: TlsOutcome::Established { .. },
                    ..
                },
                via,
            ) => match via {
                Step::Running | Step::NotStarted => Tri::Unknown,
                // A 5xx is serve_proxy_failing, earlier in the order.
                Step::Done {
                    value: HttpOutcome::Response { .. },
                    ..
                } => Tri::No,
                _ => Tri::Yes,
            },
            _ => Tri::Yes,
        },
        Healthy => {
            // Healthy must not be declared while a request through serve is still out, nor
            // before it starts: it starts once the handshake worked.
            let tls_ok = matches!(ev.tls.value(), Some(TlsOutcome::Established { .. }));
            match ev.via_serve {
                Step::Running => Tri::Unknown,
                Step::NotStarted if tls_ok => Tri::Unknown,
                _ => Tri::Yes,
            }
        }
    }
}

/// The cause, if the evidence so far makes it certain.
pub fn decide(ev: &Evidence, p: &ProbePlan) -> Option<Cause> {
    for &c in Cause::ALL {
        match applies(c, ev, p) {
            Tri::Yes => return Some(c),
            Tri::No => continue,
            Tri::Unknown => return None,
        }
    }
    None
}

/// The cause once every step has finished or been cancelled (never `None`).
pub fn final_cause(ev: &Evidence, p: &ProbePlan) -> Cause {
    for &c in Cause::ALL {
        if applies(c, ev, p) == Tri::Yes {
            return c;
        }
    }
    Cause::Healthy
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn tcp_text(t: &TcpOutcome, addr: &str) -> String {
    match t {
        TcpOutcome::Connected { ms } => format!("{addr} accepted in {ms} ms"),
        TcpOutcome::Refused => format!("{addr} refused the connection (nothing listening)"),
        TcpOutcome::Unreachable { reason } => format!("{addr} unreachable: {reason}"),
        TcpOutcome::TimedOut { after_ms } => {
            format!("{addr}: no answer to connect within {}", secs(*after_ms))
        }
    }
}

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
                CliFailure::DaemonUnreachable { .. } | CliFailure::TimedOut { .. } => Fail,
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
            match value {
                TlsOutcome::Connect { tcp } => {
                    push(CheckId::Listener, Fail, tcp_text(tcp, dial), tls_ms)
                }
                TlsOutcome::Failed { detail } => push(
                    CheckId::Listener,
                    Fail,
                    format!("{dial} accepted but did not speak TLS: {detail}"),
                    tls_ms,
                ),
                _ => push(CheckId::Listener, Pass, format!("{dial} accepted"), tls_ms),
            }
            let name = p.dns_name.as_deref().unwrap_or("?");
            match value {
                TlsOutcome::Connect { .. } | TlsOutcome::Failed { .. } => {
                    push(CheckId::TlsHandshake, Skip, "no TLS listener".into(), 0)
                }
                TlsOutcome::Established { version, cert, .. } => {
                    let left = cert.not_after - ev.now;
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
                    push(CheckId::TlsHandshake, status, detail, tls_ms)
                }
                TlsOutcome::Stalled { after_ms } => push(
                    CheckId::TlsHandshake,
                    Fail,
                    format!(
                        "handshake for {name} stalled: no ServerHello within {}",
                        secs(*after_ms)
                    ),
                    tls_ms,
                ),
                TlsOutcome::Alert { description, .. } => push(
                    CheckId::TlsHandshake,
                    Fail,
                    format!(
                        "server sent TLS alert {description} (curl: \"tlsv1 alert {}\")",
                        description.replace('_', " ")
                    ),
                    tls_ms,
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
                    push(
                        CheckId::TlsHandshake,
                        Fail,
                        format!("{what}: {detail}{about}"),
                        tls_ms,
                    )
                }
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

/// The root cause in one plain sentence.
pub fn summary(cause: Cause, ev: &Evidence, p: &ProbePlan) -> String {
    let name = p.dns_name.as_deref().unwrap_or("this node");
    let st = ev.status_ok();
    use Cause::*;
    match cause {
        TailscaleNotFound => match ev.cli.as_ref().err().and_then(|e| e.forced.as_ref()) {
            Some(p) => format!("The tailscale CLI at {} is missing or not executable.", p.display()),
            None => "Tailscale is not installed (no tailscale CLI found).".into(),
        },
        DaemonUnreachable => match ev.status.value() {
            Some(Err(CliFailure::TimedOut { after_ms })) => format!(
                "The Tailscale daemon did not answer within {}.", secs(*after_ms)),
            _ if ev.api.is_some() => "Tailscale is not running: nothing answers on the daemon's LocalAPI.".into(),
            _ => "Tailscale is not running: the CLI cannot reach the Tailscale daemon.".into(),
        },
        StatusUnparseable => match ev.status.value() {
            Some(Err(CliFailure::GuiUnavailable { .. })) => "The Tailscale app's CLI could not reach the Tailscale app from here (it printed \"The Tailscale GUI failed to start\"); this is an access problem, not Tailscale being off.".into(),
            Some(Err(e)) => format!("Tailscale's status could not be read: {}.", e.describe()),
            _ => "Tailscale's status could not be read.".into(),
        },
        Stopped => match st.map(state) {
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

fn fix(id: FixId, title: impl Into<String>, command: Option<String>, url: Option<&str>) -> Fix {
    Fix {
        id,
        title: title.into(),
        command,
        url: url.map(str::to_string),
    }
}

/// The SSH tunnel fallback, when its parts are valid.
pub fn tunnel_fix(ev: &Evidence, p: &ProbePlan) -> Option<Fix> {
    let user = ev
        .inputs
        .ssh_user
        .clone()
        .unwrap_or_else(|| ev.inputs.default_user.clone());
    let host = ev.inputs.ssh_host.clone().or_else(|| p.dns_name.clone())?;
    let local = ev.inputs.tunnel_local_port.unwrap_or(p.backend_port);
    match crate::tunnel::command(&user, &host, local, p.backend_port) {
        Ok(cmd) => Some(fix(
            FixId::SshTunnel,
            format!(
                "Fallback: SSH tunnel, then open http://localhost:{local}/ on the other device"
            ),
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
    // port only when the user chose one (flag or config file).
    let port_arg = match p.backend_port_source {
        PortSource::Flag | PortSource::ConfigFile => format!(" --port {port}"),
        PortSource::ServeConfig | PortSource::Default => String::new(),
    };
    let name = p.dns_name.clone().unwrap_or_else(|| "<this node>".into());
    let name_word = crate::shell::word(&name);
    let https = p.https_port;
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
            format!("Serve the backend on port {port} over HTTPS"),
            Some(format!("{cli} serve --bg {port}")),
            None,
        )],
        ServeNameMismatch => vec![recreate],
        ServePlainHttp => vec![fix(
            FixId::ServeHttps,
            "Serve it over HTTPS instead",
            Some(format!("{cli} serve --bg --https={https} {port}")),
            None,
        )],
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
        CertExpiring => vec![cert_cmd, logs],
        ControlUnreachable => vec![fix(
            FixId::CheckNetwork,
            "Check this machine's internet connection and firewall (control server unreachable)",
            None,
            None,
        )],
        NotVerified => vec![fix(
            FixId::CheckNetwork,
            "Check it from a device that can reach the node (or point --connect at an address that reaches its serve port)",
            None,
            None,
        )],
        Healthy => vec![],
    };
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
