//! Every endpoint of the serve config, each with its own checks and verdict.
//!
//! The chain of `checks` follows one endpoint, the one a person opens first (this node's `/` on
//! the lowest HTTPS port). A real config has more: other ports and mount paths with their own
//! targets, TCP forwards (some with TLS terminated by serve), Services, Funnel entries, entries
//! keyed to a name that is not this node's. [`list`] names them all; the engine probes those of
//! this node once the certificate is known to work; [`judge`] gives each a status, its evidence
//! and one sentence. The worst of them decides the diagnosis when the main chain is fine.
//!
//! Pure, like the rest of `diagnosis`: the steps are in [`Evidence::endpoint_steps`].

use crate::probe::{HttpOutcome, TcpOutcome, TlsOutcome};
use crate::tailscale::Status;

pub use super::entries::{Endpoint, Steps, list};
use super::evidence::{Evidence, ProbePlan, Step};
use super::model::CheckStatus;
pub use super::model::{
    EndpointCheck as Line, EndpointHost as Host, EndpointKind as Kind, EndpointReport as Report,
};

/// The Tailscale versions whose Funnel answered every connection with 403.
fn funnel_outage(version: &str) -> bool {
    let v = version.split(['-', '+']).next().unwrap_or("");
    matches!(v, "1.102.0" | "1.102.1")
}

/// The Funnel port capability's prefix.
const FUNNEL_PORTS_CAP: &str = "https://tailscale.com/cap/funnel-ports?ports=";

fn funnel_port_allowed(st: &Status, port: u16) -> Option<bool> {
    let node = st.self_node.as_ref()?;
    let spec = node
        .cap_map
        .keys()
        .chain(node.capabilities.iter())
        .find_map(|k| k.strip_prefix(FUNNEL_PORTS_CAP))?;
    Some(spec.split(',').any(|p| match p.split_once('-') {
        Some((a, b)) => {
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= port && port <= b)
        }
        None => p.parse::<u16>() == Ok(port),
    }))
}

/// What is wrong with an endpoint's Funnel, if anything.
fn funnel_line(ep: &Endpoint, st: Option<&Status>) -> Option<Line> {
    if !ep.public {
        return None;
    }
    let st = st?;
    let warn = |detail: String| {
        Some(Line {
            name: "funnel",
            status: CheckStatus::Warn,
            detail,
        })
    };
    if !st.has_cap("funnel") {
        return warn("Funnel is on, but this node lacks the \"funnel\" node attribute: the public URL reaches nothing (add it in the tailnet policy file's nodeAttrs)".into());
    }
    if funnel_port_allowed(st, ep.port) == Some(false) {
        return warn(format!(
            "Funnel is on for port {}, which the node's funnel-ports attribute does not allow",
            ep.port
        ));
    }
    if funnel_outage(&st.version) {
        return warn(format!(
            "Tailscale {} answered every Funnel connection with 403 (fixed in 1.102.2): update Tailscale",
            st.version
        ));
    }
    Some(Line {
        name: "funnel",
        status: CheckStatus::Pass,
        detail: "public on the internet (Funnel)".into(),
    })
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn tcp_line(name: &'static str, what: &str, s: &Step<TcpOutcome>) -> Option<Line> {
    let (status, detail) = match s {
        Step::Done { value, .. } => match value {
            TcpOutcome::Connected { ms } => {
                (CheckStatus::Pass, format!("{what} accepted in {ms} ms"))
            }
            TcpOutcome::Refused => (
                CheckStatus::Fail,
                format!("{what} refused the connection (nothing listening)"),
            ),
            TcpOutcome::Unreachable { reason } => {
                (CheckStatus::Fail, format!("{what} unreachable: {reason}"))
            }
            TcpOutcome::TimedOut { after_ms } => (
                CheckStatus::Fail,
                format!("{what}: no answer to connect within {}", secs(*after_ms)),
            ),
        },
        Step::Running => (CheckStatus::Pending, format!("connecting to {what}…")),
        Step::NotStarted | Step::Cancelled => return None,
    };
    Some(Line {
        name,
        status,
        detail,
    })
}

fn tls_line(sni: &str, s: &Step<TlsOutcome>) -> Option<Line> {
    let (status, detail) = match s {
        Step::Done { value, .. } => match value {
            TlsOutcome::Established { cert, .. } => (
                CheckStatus::Pass,
                format!("handshake with {sni} completed (issuer {})", cert.issuer),
            ),
            TlsOutcome::Connect { tcp } => (
                CheckStatus::Fail,
                format!("cannot connect: {}", tcp_text(tcp)),
            ),
            TlsOutcome::Stalled { after_ms } => (
                CheckStatus::Fail,
                format!("handshake with {sni} stalled for {}", secs(*after_ms)),
            ),
            TlsOutcome::Alert { description, .. } => (
                CheckStatus::Fail,
                format!("handshake with {sni} ended in alert {description}"),
            ),
            TlsOutcome::CertRejected { detail, .. } => (
                CheckStatus::Fail,
                format!("certificate for {sni} rejected: {detail}"),
            ),
            TlsOutcome::Failed { detail } => (
                CheckStatus::Fail,
                format!("handshake with {sni} failed: {detail}"),
            ),
        },
        Step::Running => (CheckStatus::Pending, format!("handshake with {sni}…")),
        Step::NotStarted | Step::Cancelled => return None,
    };
    Some(Line {
        name: "tls_handshake",
        status,
        detail,
    })
}

fn tcp_text(t: &TcpOutcome) -> String {
    match t {
        TcpOutcome::Connected { ms } => format!("connected in {ms} ms"),
        TcpOutcome::Refused => "refused (nothing listening)".into(),
        TcpOutcome::Unreachable { reason } => format!("unreachable: {reason}"),
        TcpOutcome::TimedOut { after_ms } => format!("no answer within {}", secs(*after_ms)),
    }
}

fn http_line(name: &'static str, what: &str, s: &Step<HttpOutcome>) -> Option<Line> {
    use CheckStatus::*;
    let (status, detail) = match s {
        Step::Done { value, .. } => match value {
            HttpOutcome::Response { status, .. } if *status >= 500 => {
                (Fail, format!("{what} answered HTTP {status}"))
            }
            HttpOutcome::Response { status, .. } => {
                (Pass, format!("{what} answered HTTP {status}"))
            }
            HttpOutcome::NoResponse { after_ms } => (
                Fail,
                format!(
                    "{what} accepted the request but sent no response within {}",
                    secs(*after_ms)
                ),
            ),
            HttpOutcome::Connect { tcp } => (Fail, format!("{what}: {}", tcp_text(tcp))),
            HttpOutcome::CertRejected { detail, .. } => (
                Fail,
                format!(
                    "{what}: certificate not accepted ({detail}); serve verifies it too, so it answers 502"
                ),
            ),
            HttpOutcome::Failed { detail } => (Error, format!("{what}: {detail}")),
        },
        Step::Running => (Pending, format!("asking {what}…")),
        Step::NotStarted | Step::Cancelled => return None,
    };
    Some(Line {
        name,
        status,
        detail,
    })
}

/// The steps that speak for `ep`: its own, or for the primary (and for the handshake of any web
/// endpoint on the primary's port) the main chain's.
pub fn steps<'a>(ev: &'a Evidence, p: &ProbePlan, ep: &Endpoint, own: &'a Steps) -> StepsView<'a> {
    let same_tls = shares_main_handshake(p, ep);
    StepsView {
        listener: &own.listener,
        tls: if same_tls { &ev.tls } else { &own.tls },
        request: if ep.primary {
            &ev.via_serve
        } else {
            &own.request
        },
        backend: if ep.primary {
            &ev.backend
        } else {
            &own.backend
        },
        forward: &own.forward,
    }
}

/// Whether the main chain's handshake speaks for `ep` too: a web endpoint of this node on the
/// same HTTPS port (same name, same port, same certificate).
pub fn shares_main_handshake(p: &ProbePlan, ep: &Endpoint) -> bool {
    ep.kind == Kind::Web && ep.tls && ep.port == p.https_port && ep.host == Host::ThisNode
}

/// Borrowed steps of one endpoint.
pub struct StepsView<'a> {
    pub listener: &'a Step<TcpOutcome>,
    pub tls: &'a Step<TlsOutcome>,
    pub request: &'a Step<HttpOutcome>,
    pub backend: &'a Step<HttpOutcome>,
    pub forward: &'a Step<TcpOutcome>,
}

/// The verdict on one endpoint. `blocked` says why its probes did not run when the main chain
/// stopped them (a cause already certain), `None` when nothing held them back.
pub fn judge(
    ev: &Evidence,
    p: &ProbePlan,
    ep: &Endpoint,
    own: &Steps,
    blocked: Option<&str>,
) -> Report {
    let st = ev.status_ok();
    let mut lines: Vec<Line> = Vec::new();
    let (status, summary) = match (&ep.host, ep.kind) {
        (Host::Placeholder(name), _) => (
            CheckStatus::Warn,
            format!(
                "keyed to {name}, a template placeholder that was never filled in: tailscaled matches the name exactly, so this entry serves nothing"
            ),
        ),
        (Host::OtherNode(name), _) => (
            CheckStatus::Warn,
            format!(
                "keyed to {name}, which is not this node ({}): left from a rename, a profile switch or another machine's config, it serves nothing",
                p.dns_name.as_deref().unwrap_or("?")
            ),
        ),
        (_, Kind::Service) => (
            CheckStatus::Skip,
            "a Service: served on the Service's own address, not checked from here".into(),
        ),
        (_, Kind::FunnelEntry) => (
            CheckStatus::Warn,
            "Funnel is on for this port, but no handler serves it: the public URL reaches nothing"
                .into(),
        ),
        _ => {
            let s = steps(ev, p, ep, own);
            let stopped = [
                s.listener.is_cancelled(),
                s.tls.is_cancelled(),
                s.request.is_cancelled(),
                s.backend.is_cancelled(),
                s.forward.is_cancelled(),
            ];
            let blocked = if stopped.contains(&true) {
                Some("stopped once the verdict was certain")
            } else {
                blocked
            };
            let what = if ep.tls {
                format!("https {}", ep.url)
            } else {
                ep.url.clone()
            };
            if ep.kind == Kind::Tcp && !ep.tls {
                lines.extend(tcp_line(
                    "listener",
                    &format!("port {}", ep.port),
                    s.listener,
                ));
            }
            if ep.tls {
                lines.extend(tls_line(&ep.sni, s.tls));
            }
            if ep.kind == Kind::Web {
                lines.extend(http_line(
                    "request",
                    &format!("{what} through serve"),
                    s.request,
                ));
            }
            if let Some(t) = &ep.target {
                lines.extend(http_line("backend", &t.describe(), s.backend));
            }
            if let Some(f) = &ep.forward {
                lines.extend(tcp_line("backend", f, s.forward));
            }
            verdict(ep, &lines, blocked)
        }
    };
    lines.extend(funnel_line(ep, st));
    let status = match (
        status,
        lines
            .iter()
            .any(|l| l.name == "funnel" && l.status == CheckStatus::Warn),
    ) {
        (CheckStatus::Pass, true) => CheckStatus::Warn,
        (s, _) => s,
    };
    let summary = match lines
        .iter()
        .find(|l| l.name == "funnel" && l.status == CheckStatus::Warn)
    {
        Some(l) if status == CheckStatus::Warn && summary.starts_with("works") => l.detail.clone(),
        _ => summary,
    };
    Report {
        url: ep.url.clone(),
        kind: ep.kind,
        handler: ep.handler.clone(),
        target: ep
            .target
            .as_ref()
            .map(|t| t.describe())
            .or_else(|| ep.forward.clone()),
        host: ep.host.clone(),
        public: ep.public,
        foreground: ep.foreground,
        primary: ep.primary,
        status,
        summary,
        checks: lines,
    }
}

/// Status and sentence from an endpoint's check lines.
fn verdict(ep: &Endpoint, lines: &[Line], blocked: Option<&str>) -> (CheckStatus, String) {
    if let Some(l) = lines.iter().find(|l| l.status == CheckStatus::Fail) {
        return (CheckStatus::Fail, l.detail.clone());
    }
    if let Some(l) = lines.iter().find(|l| l.status == CheckStatus::Error) {
        return (CheckStatus::Error, l.detail.clone());
    }
    if lines.iter().any(|l| l.status == CheckStatus::Pending) {
        return (CheckStatus::Pending, "being checked…".into());
    }
    // Green needs evidence: the handshake completed and the request through serve answered
    // (web; a request alone over a handshake we did not see proves nothing about the
    // certificate), or serve's port and the forward's target both accepted (TCP) — or serve's
    // handshake completed (TLS forward).
    let needed: &[&str] = match (ep.kind, ep.tls) {
        (Kind::Web, true) => &["tls_handshake", "request"],
        (Kind::Web, false) => &["request"],
        (Kind::Tcp, true) => &["tls_handshake", "backend"],
        _ => &["listener", "backend"],
    };
    let have = needed.iter().all(|n| {
        lines
            .iter()
            .any(|l| l.name == *n && l.status == CheckStatus::Pass)
    });
    if have {
        let mut s = "works".to_string();
        if ep.foreground {
            s.push_str(" (foreground: it ends with the terminal that started it)");
        }
        return (CheckStatus::Pass, s);
    }
    (
        CheckStatus::Skip,
        format!(
            "not checked: {}",
            blocked.unwrap_or("its probes could not run from here")
        ),
    )
}

/// Why the probes of this node's other endpoints cannot run (yet), if they cannot.
pub fn blocked(ev: &Evidence, p: &ProbePlan) -> Option<String> {
    if let Err(why) = &p.dial {
        return Some(why.clone());
    }
    match ev.tls.value() {
        Some(TlsOutcome::Established { .. }) => None,
        Some(_) => Some("the main endpoint's handshake failed first".into()),
        None => Some("they run once the main endpoint's handshake works".into()),
    }
}

/// Every endpoint's verdict, in the order of [`list`].
pub fn reports(ev: &Evidence, p: &ProbePlan) -> Vec<Report> {
    let none = Steps::default();
    let blocked = blocked(ev, p);
    p.endpoints
        .iter()
        .map(|ep| {
            let own = ev.endpoint_steps.get(&ep.url).unwrap_or(&none);
            judge(ev, p, ep, own, blocked.as_deref())
        })
        .collect()
}

/// Whether probes of this node's other endpoints are still to come: the main handshake worked
/// and some endpoint of ours has not been started (the engine starts them right after).
pub fn still_to_probe(ev: &Evidence, p: &ProbePlan) -> bool {
    blocked(ev, p).is_none()
        && p.endpoints.iter().any(|ep| {
            ep.ours()
                && !ep.primary
                && ev
                    .endpoint_steps
                    .get(&ep.url)
                    .is_none_or(|s| *s == Steps::default() || request_to_come(p, ep, s))
        })
}

/// A web endpoint whose request through serve has not started but will: it waits only for a
/// handshake of its own that has worked (or that it does not need). The engine starts it after
/// the step that just finished, so a verdict taken now would miss it.
fn request_to_come(p: &ProbePlan, ep: &Endpoint, s: &Steps) -> bool {
    ep.kind == Kind::Web
        && matches!(s.request, Step::NotStarted)
        && (!ep.tls
            || shares_main_handshake(p, ep)
            || matches!(s.tls.value(), Some(TlsOutcome::Established { .. })))
}

#[cfg(test)]
#[path = "endpoints_tests.rs"]
mod tests;
