//! Pure rules: evidence in → checks + cause + fixes out. No I/O, no clocks, no async.
//!
//! [`evidence`] holds what the collectors found and derives the probe plan from it; [`rules`]
//! decides which cause applies; [`checks`] words the check lines and [`advice`] the summary and
//! the fixes; [`assemble`] puts one [`Diagnosis`] together. The engine calls `assemble` after
//! every finished step, so a provisional diagnosis (with `Pending` checks) is always one pure
//! function call away.

pub mod advice;
pub mod checks;
pub mod endpoints;
pub mod evidence;
pub mod inuse;
pub mod model;
pub mod ratelimit;
pub mod remote;
mod remote_advice;
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
    let mut checks = checks::checks(ev, &p);
    let mut endpoints = endpoints::reports(ev, &p);
    if complete {
        // A final report has no "pending": a step that never reported back (its probe
        // panicked) is an error, not a pass and not a wait.
        for c in checks
            .iter_mut()
            .filter(|c| c.status == CheckStatus::Pending)
        {
            c.status = CheckStatus::Error;
            c.detail = format!(
                "did not finish (the probe stopped unexpectedly): {}",
                c.detail
            );
        }
        for e in &mut endpoints {
            if e.status == CheckStatus::Pending {
                e.status = CheckStatus::Error;
                e.summary = "a probe did not finish (it stopped unexpectedly)".into();
            }
            for l in e
                .checks
                .iter_mut()
                .filter(|l| l.status == CheckStatus::Pending)
            {
                l.status = CheckStatus::Error;
            }
        }
    }
    Diagnosis {
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

#[cfg(test)]
mod remote_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_daemon;
