//! Pure rules: evidence in → checks + cause + fixes out. No I/O, no clocks, no async.
//!
//! [`evidence`] holds what the collectors found and derives the probe plan from it; [`rules`]
//! decides which cause applies; [`checks`] words the check lines and [`advice`] the summary and
//! the fixes; [`help`] explains each check in three sentences (the menu and the README show
//! them); [`assemble`] puts one [`Diagnosis`] together. The engine calls `assemble` after
//! every finished step, so a provisional diagnosis (with `Pending` checks) is always one pure
//! function call away.

pub mod advice;
pub mod checks;
pub mod endpoints;
pub mod entries;
pub mod evidence;
pub mod help;
pub mod inuse;
pub mod model;
pub mod ratelimit;
pub mod remote;
pub mod remote_advice;
pub mod rules;

pub use evidence::{
    Evidence, Inputs, Platform, ProbePlan, ServeFinding, Step, analyze_serve, plan,
};
pub use model::*;

/// Builds the diagnosis for the evidence so far. `complete` marks the final one.
pub fn assemble(
    ev: &Evidence,
    consent_url: Option<String>,
    route: String,
    elapsed_ms: u64,
    complete: bool,
) -> Diagnosis {
    let p = plan(ev);
    let cause = if complete {
        rules::final_cause(ev, &p)
    } else {
        rules::decide(ev, &p).unwrap_or_else(|| rules::final_cause(ev, &p))
    };
    let st = ev.status_ok();
    let node = NodeInfo {
        dns_name: p.dns_name.clone(),
        ips: st.map(|s| s.ips().to_vec()).unwrap_or_default(),
        tailnet: st.and_then(|s| s.tailnet()).map(str::to_string),
        version: st.map(|s| s.version.clone()).filter(|v| !v.is_empty()),
        backend_state: st
            .filter(|s| s.backend_state.is_known())
            .map(|s| s.backend_state.to_string()),
    };
    let (mut checks, mut endpoints) = (checks::checks(ev, &p), endpoints::reports(ev, &p));
    if complete {
        settle(&mut checks, &mut endpoints);
    }
    let certificate = match ev.tls.value() {
        Some(crate::probe::TlsOutcome::Established { cert, .. }) => Some(CertificateInfo {
            issuer: cert.issuer.clone(),
            not_after: cert.not_after,
            days_left: (cert.not_after - ev.now).num_days(),
        }),
        _ => None,
    };
    Diagnosis {
        schema: REPORT_SCHEMA,
        certificate,
        health: cause.health(),
        cause,
        summary: advice::summary(cause, ev, &p),
        url: p.url(),
        node,
        backend_port: p.backend_port,
        backend_port_source: p.backend_port_source,
        checks,
        endpoints,
        fixes: advice::fixes(cause, ev, &p, consent_url.as_deref()),
        consent_url,
        route,
        elapsed_ms,
        complete,
    }
}

/// In the final report a step still running never finished (its probe panicked or was lost):
/// that is an error of the check, not a wait.
fn settle(checks: &mut [Check], endpoints: &mut [endpoints::Report]) {
    let unfinished = |detail: &str| {
        format!(
            "did not finish ({}): an internal error",
            detail.trim_end_matches('…')
        )
    };
    for c in checks
        .iter_mut()
        .filter(|c| c.status == CheckStatus::Pending)
    {
        c.status = CheckStatus::Error;
        c.detail = unfinished(&c.detail);
    }
    for r in endpoints.iter_mut() {
        for l in r
            .checks
            .iter_mut()
            .filter(|l| l.status == CheckStatus::Pending)
        {
            l.status = CheckStatus::Error;
            l.detail = unfinished(&l.detail);
        }
        if r.status == CheckStatus::Pending {
            r.status = CheckStatus::Error;
            r.summary = unfinished(&r.summary);
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod remote_tests;
#[cfg(test)]
mod shell_tests;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_daemon;
