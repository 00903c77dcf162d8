//! Carrying a plan out, written once for every write action and both routes: lock, read the
//! snapshot, plan, (confirmed) back up, write, read back and verify, put the backup back when the
//! result is not what was planned.
//!
//! The exit code of a `tailscale serve` call is not trusted (the consent flow exits 0 having
//! done nothing), so every call's output is scanned for the known messages and the result is
//! judged by reading the config back. A write the daemon refuses because the config changed
//! since it was read (LocalAPI, HTTP 412) is planned again on what is there now and retried once.

use std::time::Duration;

use serde_json::Value;

use super::plan::{self, Env, Next, Snapshot};
use super::{Action, FixError, FixOptions, FixReport, Outcome, backup, edit, findings, lock};
use crate::tailscale::localapi::{LocalApi, Roots, discover};
use crate::tailscale::route::{AnyRoute, ApiRoute, CliRoute, Route, Written};
use crate::tailscale::{self, Status};

/// The route for `action`: the one given (an SSH session's); else the LocalAPI when the action
/// can use it, `--tailscale` does not force the CLI and the daemon answers (with the status it
/// gave), else the CLI.
pub(super) async fn pick_route(
    opts: &FixOptions,
    api_ok: bool,
) -> Result<(AnyRoute, Option<Status>), FixError> {
    let e = &opts.engine;
    if let Some(given) = &e.route {
        return Ok((given.clone(), None));
    }
    let timeout = e.timeout.max(Duration::from_millis(100));
    if api_ok && e.tailscale.is_none() {
        let found = discover(e.socket.as_deref(), &Roots::system()).await;
        let api = std::sync::Arc::new(LocalApi::new(found.endpoint.clone(), timeout));
        // A forced socket that does not answer is reported as a status error by the CLI-less
        // path below rather than silently using some other binary.
        if let Ok(status) = api.status().await {
            return Ok((
                AnyRoute::Api(ApiRoute::new(api, found.via.describe())),
                Some(status),
            ));
        }
    }
    let located = tailscale::locate(
        e.tailscale.as_deref(),
        e.config_tailscale.as_deref(),
        std::env::var_os("PATH").as_deref(),
    )?;
    Ok((
        AnyRoute::Cli(CliRoute::new(
            &located.path,
            located.source.describe(),
            timeout,
        )),
        None,
    ))
}

async fn snapshot(route: &impl Route, status: Status) -> Result<Option<Snapshot>, FixError> {
    let read = route.serve_config().await.map_err(FixError::ServeConfig)?;
    Ok(Snapshot::new(status, read.config, read.raw, read.etag))
}

/// Records what a write did; true when it succeeded and said nothing we know to be a failure.
fn record(report: &mut FixReport, written: Written) -> bool {
    let mut ok = false;
    for step in written.steps {
        let text = format!("{}\n{}", step.stdout, step.stderr);
        if report.consent_url.is_none() {
            report.consent_url = findings::consent_url(&text);
        }
        let found = findings::scan(&text, step.timed_out);
        ok = step.succeeded()
            && !found
                .iter()
                .any(|f| f.kind == findings::FindingKind::NotEnabled);
        for f in found {
            if !report.findings.contains(&f) {
                report.findings.push(f);
            }
        }
        report.steps.push(step);
    }
    ok
}

/// Plans `action` on `route` and, when confirmed, carries it out. See the module docs.
pub(super) async fn run(
    route: &AnyRoute,
    action: &Action,
    opts: &FixOptions,
    mut report: FixReport,
    status: Option<Status>,
) -> Result<FixReport, FixError> {
    report.route = Some(route.describe());
    // Taken before reading the state the plan rests on, so nobody changes it in between.
    let Some(_lock) = lock::for_run(&opts.data_dir, opts.confirmed)? else {
        report.outcome = Outcome::Busy;
        report.message = lock::BUSY.into();
        return Ok(report);
    };
    let status = match status {
        Some(s) => s,
        None => route.status().await.map_err(FixError::Status)?,
    };
    if let Some(why) = plan::preflight(&status) {
        report.outcome = Outcome::Refused;
        report.message = why;
        return Ok(report);
    }
    let Some(mut snap) = snapshot(route, status).await? else {
        report.outcome = Outcome::Refused;
        report.message = plan::NO_NAME.into();
        return Ok(report);
    };
    let env = Env {
        route: route.kind(),
        cli: cli_shown(route, opts),
        port: opts.engine.port,
        default_port: opts.engine.config_port,
    };
    let gathered = super::gather(action, &snap, opts).await?;
    let proposal = super::plan_for(action, &snap, &env, &gathered, opts);
    report.plan = proposal.plan;
    report.url = proposal.url;
    let mut change = match proposal.next {
        Next::Refuse(msg) => {
            report.outcome = Outcome::Refused;
            report.message = msg;
            return Ok(report);
        }
        Next::Nothing(msg) => {
            report.outcome = Outcome::Done;
            report.verified = true;
            report.message = msg;
            return Ok(report);
        }
        Next::Write(c) => c,
    };
    report.plan.commands = change.writes.iter().map(|w| route.show(w)).collect();
    if !opts.confirmed {
        report.outcome = Outcome::Planned;
        report.message =
            "nothing changed: confirm (--yes) to back up the config and run these commands".into();
        return Ok(report);
    }

    let path = backup::write(&opts.data_dir, &snap.dns, &snap.raw, chrono::Utc::now()).map_err(
        |source| FixError::Backup {
            dir: backup::dir(&opts.data_dir),
            source,
        },
    )?;
    report.backup = Some(path.clone());

    let mut raced = false;
    let mut failed_at = None;
    let mut i = 0;
    while i < change.writes.len() {
        let written = route.write(&change.writes[i]).await;
        let conflict = written.conflict;
        let ok = record(&mut report, written);
        if conflict && !raced {
            // Someone changed the config between our read and our write: plan again on what
            // is there now (their change is kept) and start over, once.
            raced = true;
            let status = snap.status.clone();
            if let Some(now) = snapshot(route, status).await? {
                snap = now;
                if let Next::Write(c) = super::plan_for(action, &snap, &env, &gathered, opts).next {
                    change = c;
                    i = 0;
                    continue;
                }
            }
        }
        if !ok {
            failed_at = Some(i);
            break;
        }
        i += 1;
    }
    // Verified by reading back, whatever the exit codes said; a failed call fails the run even
    // when the config happens to look right (it may have been like that before).
    let back = read_back(route).await;
    let verdict = match &back {
        Ok((c, v)) => plan::verify(&change.expect, c, v),
        Err(e) => Err(format!("cannot read the config back: {e}")),
    };
    let shown = |i: usize| route.show(&change.writes[i]);
    let verdict = match (verdict, failed_at) {
        (Ok(()), Some(i)) => Err(format!("`{}` did not succeed", shown(i))),
        (v, _) => v,
    };
    if let Err(why) = verdict {
        report.outcome = Outcome::Failed;
        let mut msg = match failed_at {
            Some(i) => format!("`{}` failed; the change is not in place ({why})", shown(i)),
            None => format!("the commands ran but the change is not in place ({why})"),
        };
        if let Some(f) = report.findings.iter().find(|f| f.hint.is_some()) {
            msg.push_str(&format!(
                ": {} — {}",
                f.line,
                f.hint.as_deref().unwrap_or("")
            ));
        }
        msg.push_str(&roll_back(route, &mut report, &snap, back.ok().map(|(_, v)| v), &path).await);
        report.message = msg;
        return Ok(report);
    }
    report.verified = true;
    report.outcome = Outcome::Done;
    report.message = change.done;
    if raced {
        report.message.push_str(
            "; another client changed the serve config between our read and our write (the daemon refused our first write on its ETag): its change is kept and ours was redone on top of it",
        );
    }
    if matches!(action, Action::Recreate { .. }) {
        super::rediagnose(&mut report, opts).await;
    }
    Ok(report)
}

/// The CLI as the user would type it, for undo lines (the route's binary, else the one found).
fn cli_shown(route: &AnyRoute, opts: &FixOptions) -> String {
    match route {
        AnyRoute::Cli(cli) => return cli.shown(),
        AnyRoute::Ssh(ssh) => return ssh.cli_shown(),
        AnyRoute::Api(_) => {}
    }
    tailscale::locate(
        opts.engine.tailscale.as_deref(),
        opts.engine.config_tailscale.as_deref(),
        std::env::var_os("PATH").as_deref(),
    )
    .map(|l| crate::shell::word(&l.path.to_string_lossy()))
    .unwrap_or_else(|_| "tailscale".into())
}

async fn read_back(route: &impl Route) -> Result<(tailscale::ServeConfig, Value), String> {
    let r = route.serve_config().await.map_err(|e| e.describe())?;
    let v: Value = serde_json::from_str(&r.raw).map_err(|e| e.to_string())?;
    Ok((r.config, v))
}

/// Lose nothing: if the config is no longer what it was, put the backup back. Returns the
/// sentence that ends the report's message.
async fn roll_back(
    route: &impl Route,
    report: &mut FixReport,
    snap: &Snapshot,
    got: Option<Value>,
    backup: &std::path::Path,
) -> String {
    // Pasted into a shell: the data dir may hold a space ("Application Support" on macOS).
    let shown = crate::shell::word(&backup.display().to_string());
    let (writes, want) = plan::put_back(route.kind(), snap, &shown);
    let same = |v: &Value| {
        let mut v = v.clone();
        let mut w = want.clone();
        edit::drop_foreground(&mut v);
        edit::drop_foreground(&mut w);
        edit::same(&v, &w)
    };
    if got.as_ref().is_some_and(same) {
        return ". Nothing was changed.".into();
    }
    let mut ok = true;
    for w in &writes {
        ok = record(report, route.write(w).await) && ok;
    }
    let restored = read_back(route).await.is_ok_and(|(_, v)| same(&v));
    report.rolled_back = ok && restored;
    if report.rolled_back {
        ". The previous config was put back from the backup.".into()
    } else {
        format!(
            ". Putting the previous config back FAILED: run `serve-doctor fix restore {shown} --yes`"
        )
    }
}
