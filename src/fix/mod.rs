//! Everything that changes the node's serve config: recreate with backup/restore, the plain-HTTP
//! and Funnel fallbacks, and the read-only helpers that go with them (backups list, admin page,
//! SSH tunnel command).
//!
//! The menu-bar app and `serve-doctor fix` call the same function, [`run`], twice: first without
//! [`FixOptions::confirmed`] to get the plan (the exact commands, what they remove, how to undo)
//! for the confirmation dialog, then confirmed to carry it out. Everything comes back as plain
//! data in a [`FixReport`].
//!
//! The shape: each action is one file in `actions/` with a pure `plan` (a [`plan::Snapshot`] in,
//! a [`plan::Proposal`] out) and, where it needs I/O besides the snapshot, a `gather`;
//! [`exec`] carries any proposal out on either route (lock, backup, write, verify, roll back),
//! written once. This file holds the vocabulary and the one dispatch from [`Action`] to its file.
//!
//! Route: `recreate` uses the LocalAPI when tailscaled answers on it (one `POST serve-config`
//! with `If-Match`, replacing only our handler), the CLI otherwise (`reset`, `serve --bg`,
//! `set-raw`) and for every other action, which the CLI covers. Each report names its route.
//! [`run_ssh`] runs an action on a remote node: the CLI route through one SSH connection.

mod actions {
    pub mod backups;
    pub mod funnel_off;
    pub mod funnel_on;
    pub mod http_fallback;
    pub mod open_admin;
    pub mod recreate;
    pub mod restore;
    pub mod tunnel_command;
}
pub mod backup;
pub mod edit;
mod exec;
pub mod findings;
pub mod lock;
pub mod offer;
pub mod plan;

use std::path::PathBuf;

use serde::Serialize;

use crate::diagnosis::{Cause, Health};
use crate::engine::{Engine, Options};
use crate::tailscale::CliFailure;
use crate::tailscale::ssh::{Session, SshTarget};

pub use crate::tailscale::route::StepRecord;
pub use backup::BackupInfo;
pub use findings::{Finding, FindingKind};

/// What every action needs to know.
#[derive(Debug, Clone)]
pub struct FixOptions {
    /// The diagnose overrides merged over the config file: CLI path, timeout, backend port,
    /// `--connect`, SSH defaults. The re-diagnosis after a change uses them as they are.
    pub engine: Options,
    /// The app's data dir (`Dirs::data`): `backups/` and the lock file live there.
    pub data_dir: PathBuf,
    /// Carry the plan out. Without it nothing is changed and the report holds the plan only.
    pub confirmed: bool,
}

/// The actions, with their own arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Back up, `serve reset`, `serve --bg --https=P TARGET`, re-diagnose.
    Recreate {
        /// Put the other handlers back: restore the backup minus our handler (host names
        /// rewritten to this node) with `set-raw`, then re-add ours.
        keep_others: bool,
        /// The HTTPS port to serve on; default: the port of the existing `/` handler, else 443.
        https_port: Option<u16>,
    },
    /// Back up, `serve reset`, `serve set-raw < BACKUP` (without `Foreground`), verify.
    Restore {
        /// A path, or a file name in the backups dir; default: the newest backup.
        backup: Option<PathBuf>,
        /// Rewrite host keys naming another node to the current `Self.DNSName`.
        rename_to_current: bool,
    },
    /// List the backups.
    Backups,
    /// `serve --bg --http=80 TARGET`.
    HttpFallback,
    /// `funnel --bg --https=443 TARGET`.
    FunnelOn,
    /// `serve --bg --https=P TARGET` for each Funnel handler: tailnet-only again.
    FunnelOff,
    /// Open the admin DNS page, or the consent URL given; print it when no browser opens.
    OpenAdmin {
        url: Option<String>,
        /// Print only; never start a browser.
        print_only: bool,
    },
    /// The SSH tunnel command, validated and shell-quoted.
    TunnelCommand {
        user: Option<String>,
        host: Option<String>,
        local_port: Option<u16>,
    },
}

impl Action {
    /// The stable name, as on the command line (`fix <name>`) and in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Recreate { .. } => "recreate",
            Action::Restore { .. } => "restore",
            Action::Backups => "backups",
            Action::HttpFallback => "http-fallback",
            Action::FunnelOn => "funnel-on",
            Action::FunnelOff => "funnel-off",
            Action::OpenAdmin { .. } => "open-admin",
            Action::TunnelCommand { .. } => "tunnel-command",
        }
    }

    /// Whether it changes the serve config (and so needs confirmation, the lock, a backup).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Action::Recreate { .. }
                | Action::Restore { .. }
                | Action::HttpFallback
                | Action::FunnelOn
                | Action::FunnelOff
        )
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Carried out and verified by reading the config back (or a read-only action done).
    Done,
    /// Not confirmed: the plan only, nothing changed.
    Planned,
    /// Refused before changing anything; `message` says why and what to do.
    Refused,
    /// Ran, but the result is not what was planned (see `steps`, `findings`); the backup was
    /// put back where needed.
    Failed,
    /// Another fix holds the lock; nothing changed.
    Busy,
}

/// What a confirmed run would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The exact commands, in order.
    pub commands: Vec<String>,
    /// Everything the change removes or replaces, one line each.
    pub removes: Vec<String>,
    /// What it means, choices made, caveats.
    pub notes: Vec<String>,
    /// How to undo it.
    pub undo: Vec<String>,
}

/// The result of [`run`], plain data for the menu and `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixReport {
    pub action: &'static str,
    pub outcome: Outcome,
    /// How tailscaled was reached ("cli /usr/bin/tailscale").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    pub plan: Plan,
    /// The backup written before the first change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
    pub steps: Vec<StepRecord>,
    /// The config read back is what was planned.
    pub verified: bool,
    /// The backup was put back after a failed change.
    pub rolled_back: bool,
    /// After recreate: the health and cause of a fresh diagnosis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_health: Option<Health>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_cause: Option<Cause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_summary: Option<String>,
    /// A consent page a CLI call printed (`https://login.tailscale.com/f/serve?…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_url: Option<String>,
    pub findings: Vec<Finding>,
    /// The URL involved: Funnel's public URL, the HTTP fallback's address, the page opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `tunnel-command`: the command to paste.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `backups`: newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<Vec<BackupInfo>>,
    /// One or two sentences for the user.
    pub message: String,
}

impl FixReport {
    /// An empty report for `action` (outcome `planned`, nothing filled in yet).
    pub fn new(action: &Action) -> FixReport {
        FixReport {
            action: action.name(),
            outcome: Outcome::Planned,
            route: None,
            plan: Plan::default(),
            backup: None,
            steps: vec![],
            verified: false,
            rolled_back: false,
            new_health: None,
            new_cause: None,
            new_summary: None,
            consent_url: None,
            findings: vec![],
            url: None,
            command: None,
            backups: None,
            message: String::new(),
        }
    }
}

/// Why an action could not even be planned (as opposed to a refusal, which is a report).
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    NoCli(#[from] crate::tailscale::NotFound),
    #[error("cannot read the node's status: {0}")]
    Status(CliFailure),
    #[error("cannot read the serve config: {0}")]
    ServeConfig(CliFailure),
    #[error("cannot write a backup in {dir}: {source}")]
    Backup {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list the backups in {dir}: {source}")]
    Backups {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot take the lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Plans `action` and, when `opts.confirmed`, carries it out. See the module docs.
pub async fn run(action: &Action, opts: &FixOptions) -> Result<FixReport, FixError> {
    let report = FixReport::new(action);
    match action {
        Action::Backups => actions::backups::run(report, opts),
        Action::OpenAdmin { url, print_only } => {
            Ok(actions::open_admin::run(report, url.as_deref(), *print_only).await)
        }
        Action::TunnelCommand {
            user,
            host,
            local_port,
        } => {
            let given = actions::tunnel_command::Given {
                user: user.clone(),
                host: host.clone(),
                local_port: *local_port,
            };
            let route = exec::pick_route(opts, true).await.ok().map(|(r, _)| r);
            Ok(actions::tunnel_command::run(report, opts, &given, route.as_ref()).await)
        }
        _ => {
            let api_ok = matches!(action, Action::Recreate { .. });
            let (route, status) = exec::pick_route(opts, api_ok).await?;
            exec::run(&route, action, opts, report, status).await
        }
    }
}

/// [`run`] on the node `target`, over one SSH connection opened and closed here (the backup is
/// kept on this machine, named after the node). `opts.engine.tailscale` is the node's CLI path.
pub async fn run_ssh(
    action: &Action,
    target: &SshTarget,
    opts: &FixOptions,
) -> Result<FixReport, FixError> {
    let e = &opts.engine;
    let session = Session::open(target, e.tailscale.as_deref(), e.timeout).await;
    let remote = FixOptions {
        engine: crate::engine::over_ssh(e, &session),
        ..opts.clone()
    };
    let report = run(action, &remote).await;
    session.close().await;
    report.map(|mut r| {
        let dest = target.shown();
        for line in r.plan.undo.iter_mut().chain(r.plan.notes.iter_mut()) {
            *line = aimed_at(line, &dest);
        }
        r
    })
}

/// `line` with each of our own commands in it (`serve-doctor fix ACTION …`, but `backups`) given `--ssh DEST`
/// after the action word, so that an undo line pasted as it is acts on the node the change was
/// made on, not on this one.
fn aimed_at(line: &str, dest: &str) -> String {
    const OURS: &str = "serve-doctor fix ";
    let quoted = crate::shell::word(dest);
    let mut out = String::with_capacity(line.len() + dest.len() + 8);
    let mut rest = line;
    while let Some(at) = rest.find(OURS) {
        let after = at + OURS.len();
        let word_end = rest[after..]
            .find(|c: char| c.is_whitespace() || c == '`' || c == ')')
            .map_or(rest.len(), |i| after + i);
        out.push_str(&rest[..word_end]);
        // The backups are kept here, so listing them needs no connection.
        if &rest[after..word_end] != "backups" {
            out.push_str(" --ssh ");
            out.push_str(&quoted);
        }
        rest = &rest[word_end..];
    }
    out.push_str(rest);
    out
}

/// What an action needs to know besides the snapshot, read before planning.
enum Gathered {
    Nothing,
    Backup(Option<actions::restore::Chosen>),
    Certs(actions::funnel_on::CertTrouble),
}

async fn gather(
    action: &Action,
    snap: &plan::Snapshot,
    opts: &FixOptions,
) -> Result<Gathered, FixError> {
    Ok(match action {
        Action::Restore { backup, .. } => {
            Gathered::Backup(actions::restore::gather(opts, backup.as_deref()).await?)
        }
        Action::FunnelOn => Gathered::Certs(actions::funnel_on::gather(snap, opts).await),
        _ => Gathered::Nothing,
    })
}

/// The one dispatch from a write action to its planner.
fn plan_for(
    action: &Action,
    snap: &plan::Snapshot,
    env: &plan::Env,
    gathered: &Gathered,
    opts: &FixOptions,
) -> plan::Proposal {
    match (action, gathered) {
        (
            Action::Recreate {
                keep_others,
                https_port,
            },
            _,
        ) => actions::recreate::plan(snap, env, *keep_others, *https_port),
        (
            Action::Restore {
                rename_to_current, ..
            },
            Gathered::Backup(chosen),
        ) => actions::restore::plan(
            snap,
            chosen.as_ref(),
            &backup::dir(&opts.data_dir),
            *rename_to_current,
        ),
        (Action::HttpFallback, _) => actions::http_fallback::plan(snap, env),
        (Action::FunnelOn, Gathered::Certs(certs)) => actions::funnel_on::plan(snap, env, certs),
        (Action::FunnelOff, _) => actions::funnel_off::plan(snap),
        (other, _) => {
            plan::Proposal::refuse(format!("{} changes nothing and has no plan", other.name()))
        }
    }
}

/// A fresh diagnosis after recreate, so the user sees whether it helped.
async fn rediagnose(report: &mut FixReport, opts: &FixOptions) {
    match Engine::new(opts.engine.clone()) {
        Ok(engine) => {
            let d = engine.diagnose(|_| {}).await;
            report.new_health = Some(d.health);
            report.new_cause = Some(d.cause);
            report.new_summary = Some(d.summary.clone());
            report.message.push_str(&format!(
                "; diagnosis now: {} ({}): {}",
                d.health, d.cause, d.summary
            ));
        }
        Err(e) => report
            .message
            .push_str(&format!("; could not diagnose again: {e}")),
    }
}

/// `recreate`: see [`Action::Recreate`].
pub async fn recreate(
    opts: &FixOptions,
    keep_others: bool,
    https_port: Option<u16>,
) -> Result<FixReport, FixError> {
    run(
        &Action::Recreate {
            keep_others,
            https_port,
        },
        opts,
    )
    .await
}

/// `restore`: see [`Action::Restore`].
pub async fn restore(
    opts: &FixOptions,
    backup: Option<PathBuf>,
    rename_to_current: bool,
) -> Result<FixReport, FixError> {
    run(
        &Action::Restore {
            backup,
            rename_to_current,
        },
        opts,
    )
    .await
}

/// `http-fallback`: see [`Action::HttpFallback`].
pub async fn http_fallback(opts: &FixOptions) -> Result<FixReport, FixError> {
    run(&Action::HttpFallback, opts).await
}

/// `funnel-on`: see [`Action::FunnelOn`].
pub async fn funnel_on(opts: &FixOptions) -> Result<FixReport, FixError> {
    run(&Action::FunnelOn, opts).await
}

/// `funnel-off`: see [`Action::FunnelOff`].
pub async fn funnel_off(opts: &FixOptions) -> Result<FixReport, FixError> {
    run(&Action::FunnelOff, opts).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn undo_lines_of_a_remote_fix_name_the_remote_node() {
        assert_eq!(
            super::aimed_at(
                "serve-doctor fix restore --yes (restores the backup this run writes; `serve-doctor fix backups` lists them)",
                "alice@box:2222"
            ),
            "serve-doctor fix restore --ssh alice@box:2222 --yes (restores the backup this run writes; `serve-doctor fix backups` lists them)"
        );
        assert_eq!(
            super::aimed_at("serve-doctor fix restore", "[::1]:22"),
            "serve-doctor fix restore --ssh '[::1]:22'"
        );
        assert_eq!(
            super::aimed_at("tailscale serve reset", "box"),
            "tailscale serve reset"
        );
    }
}
