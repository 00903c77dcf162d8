//! Which cause applies. The check lines are worded in `checks`, the sentence and the fixes in
//! `advice`; the small readings of the evidence they share are here.
//!
//! Each cause is a three-valued test on the evidence (yes / no / not known yet). Walking the
//! causes in precedence order, the first "yes" whose predecessors are all "no" is certain; a
//! "not known yet" before any "yes" means we must wait. That is what lets the engine stop early:
//! with HTTPS certificates off, the status alone decides, and no handshake is made at all (a
//! stuck issuance would hold it for up to a minute).

use chrono::TimeDelta;

use crate::probe::{HttpOutcome, TcpOutcome, TlsOutcome};
use crate::tailscale::{BackendState, CertCommand, CliFailure, Status, health};

use super::endpoints;
use super::evidence::{Evidence, ProbePlan, ServeFinding, Step};
use super::model::{Cause, CheckStatus};

/// Certificates closer to expiry than this turn the icon yellow.
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// Status `Health` text while a first certificate is being fetched (tailscale ≥ 1.100).
pub const CERT_PENDING_HEALTH: &str = "Fetching TLS certificate via ACME";
pub const ADMIN_DNS_URL: &str = "https://login.tailscale.com/admin/dns";
pub const ADMIN_MACHINES_URL: &str = "https://login.tailscale.com/admin/machines";
pub const ADMIN_POLICY_URL: &str = "https://login.tailscale.com/admin/acls/file";

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
pub(super) fn on<T>(step: &Step<T>, will_run: bool, f: impl FnOnce(&T) -> bool) -> Tri {
    match step {
        Step::Done { value, .. } => f(value).into(),
        Step::Running => Tri::Unknown,
        Step::NotStarted if will_run => Tri::Unknown,
        Step::NotStarted | Step::Cancelled => Tri::No,
    }
}

pub(super) fn state(s: &Status) -> &BackendState {
    &s.backend_state
}

pub(super) fn expired(s: &Status) -> bool {
    s.self_node.as_ref().and_then(|n| n.expired) == Some(true)
}

/// The pending-certificate warning: by its code where the route read the structured health,
/// by its text otherwise (and as well: a code list without it is not proof against the text).
pub(super) fn cert_pending_health(s: &Status) -> bool {
    s.health_codes
        .as_ref()
        .is_some_and(|c| c.iter().any(|c| c == health::TLS_CERT_PENDING))
        || s.health.iter().any(|h| h.contains(CERT_PENDING_HEALTH))
}

pub(super) fn is_stall_or_internal_error(t: &TlsOutcome) -> bool {
    match t {
        TlsOutcome::Stalled { .. } => true,
        TlsOutcome::Alert { description, .. } => description == "internal_error",
        _ => false,
    }
}

pub(super) fn serve_is(ev: &Evidence, p: &ProbePlan, f: impl Fn(&ServeFinding) -> bool) -> Tri {
    match (&ev.serve, &p.serve) {
        (Step::Done { value: Ok(_), .. }, Some(finding)) => f(finding).into(),
        (Step::Done { .. }, _) => Tri::No,
        (s, _) => on(s, true, |_| false),
    }
}

/// Whether the backend probe will run (the engine starts it once the serve config is known).
pub(super) fn backend_will_run(ev: &Evidence, p: &ProbePlan) -> bool {
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
                Err(CliFailure::DaemonUnreachable { .. }
                    | CliFailure::TimedOut { .. }
                    | CliFailure::NoConnection { .. })
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
        // Only a diagnosis from another device names these (`super::remote`).
        PeerNotFound | NameUnresolved | DeviceDns | PeerOffline | PeerUnreachable | PeerNoCert
        | PeerCertStuck | PeerCertInvalid | PeerBackendDown | PeerServeFailing => Tri::No,
        MagicdnsDisabled => st
            .is_some_and(|s| {
                s.cert_domains.is_empty()
                    && s.current_tailnet.as_ref().and_then(|t| t.magic_dns_enabled) == Some(false)
            })
            .into(),
        HttpsDisabled => st.is_some_and(|s| s.cert_domains.is_empty()).into(),
        // `serve status` failed or printed something that is not a serve config: nothing can be
        // said about serve, and no backend or port is made up in its place.
        ServeConfigUnreadable => match running {
            true => on(&ev.serve, true, |r| r.is_err()),
            false => Tri::No,
        },
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
        // An `https://` backend whose certificate serve would reject as we do (no IP SAN for
        // 127.0.0.1, self-signed): serve answers 502 for it.
        BackendCertRejected => on(&ev.backend, backend_will_run(ev, p), |b| {
            matches!(b, HttpOutcome::CertRejected { .. })
        }),
        // serve answered 5xx although the backend answers this machine directly: tailscaled
        // reaches something else (another network namespace or container, another address).
        ServeProxyFailing => on(
            &ev.via_serve,
            false,
            |v| matches!(v, HttpOutcome::Response { status, .. } if *status >= 500),
        ),
        // The main chain is fine, and another endpoint of the config fails.
        EndpointFailing => endpoints_are(ev, p, CheckStatus::Fail),
        // Something in the config needs attention: an entry keyed to another name, Funnel on
        // without the attribute or the port, a Tailscale with a known Funnel outage.
        EndpointDegraded => endpoints_are(ev, p, CheckStatus::Warn),
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
            // The main chain verified; an endpoint of ours could not be (its probe errored).
            (
                Step::Done {
                    value: TlsOutcome::Established { .. },
                    ..
                },
                Step::Done {
                    value: HttpOutcome::Response { .. },
                    ..
                },
            ) if endpoints_unverified(ev, p) != Tri::No => endpoints_unverified(ev, p),
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

/// Whether some endpoint's verdict is `status` (yes), none is and none can still become it (no),
/// or probes are still out (not known yet).
fn endpoints_are(ev: &Evidence, p: &ProbePlan, status: CheckStatus) -> Tri {
    let reports = endpoints::reports(ev, p);
    if reports.iter().any(|r| r.status == status) {
        Tri::Yes
    } else if endpoints::still_to_probe(ev, p)
        || reports.iter().any(|r| r.status == CheckStatus::Pending)
    {
        Tri::Unknown
    } else {
        Tri::No
    }
}

/// An endpoint of this node whose probes ran but could not tell (an error), or never ran.
fn endpoints_unverified(ev: &Evidence, p: &ProbePlan) -> Tri {
    let reports = endpoints::reports(ev, p);
    if endpoints::still_to_probe(ev, p) || reports.iter().any(|r| r.status == CheckStatus::Pending)
    {
        return Tri::Unknown;
    }
    p.endpoints
        .iter()
        .zip(&reports)
        .any(|(e, r)| e.ours() && matches!(r.status, CheckStatus::Error | CheckStatus::Skip))
        .into()
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

/// The cause once every step has finished or been cancelled (never `None`). A step still out
/// now will never answer (its probe panicked): "not known" is then no evidence, so it can make
/// the verdict "not verified", never healthy.
pub fn final_cause(ev: &Evidence, p: &ProbePlan) -> Cause {
    for &c in Cause::ALL {
        match applies(c, ev, p) {
            Tri::Yes => return c,
            Tri::Unknown if c == Cause::NotVerified => return c,
            _ => {}
        }
    }
    // Nothing certain, not even healthy (a probe that never reported back, e.g. one that
    // panicked): never green without evidence.
    Cause::NotVerified
}

pub(super) fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

pub(super) fn tcp_text(t: &TcpOutcome, addr: &str) -> String {
    match t {
        TcpOutcome::Connected { ms } => format!("{addr} accepted in {ms} ms"),
        TcpOutcome::Refused => format!("{addr} refused the connection (nothing listening)"),
        TcpOutcome::Unreachable { reason } => format!("{addr} unreachable: {reason}"),
        TcpOutcome::TimedOut { after_ms } => {
            format!("{addr}: no answer to connect within {}", secs(*after_ms))
        }
    }
}
