//! Everything that changes the node's serve config: recreate with backup/restore, the plain-HTTP
//! and Funnel fallbacks, and the read-only helpers that go with them (backups list, admin page,
//! SSH tunnel command).
//!
//! The menu-bar app and `serve-doctor fix` call the same function, [`run`], twice: first without
//! [`FixOptions::confirmed`] to get the plan (the exact commands, what they remove, how to undo)
//! for the confirmation dialog, then confirmed to carry it out. A confirmed run takes the lock in
//! the data dir (one fix at a time across processes), writes a backup of `serve status --json`
//! before the first write, runs each CLI call bounded, scans its output for the known messages
//! (consent URL, access denied, shields-up, …), and verifies the result by reading the config
//! back, because the CLI's exit code is not to be trusted. When the result is not what was
//! planned, the backup is put back. Everything comes back as plain data in a [`FixReport`].
//!
//! Route: `recreate` uses the LocalAPI when tailscaled answers on it (`POST serve-config` with
//! `If-Match`, replacing only our handler; see `api`), the CLI otherwise (`reset`,
//! `serve --bg`, `set-raw`) and for every other action, which the CLI covers. Each report
//! names its route.

mod actions;
mod api;
pub mod backup;
pub mod edit;
pub mod findings;
pub mod lock;

use std::path::PathBuf;

use serde::Serialize;

use crate::diagnosis::{Cause, Health};
use crate::engine::Options;

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

/// One CLI call that ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    /// `None` when killed (at the deadline).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub ms: u64,
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
    Status(String),
    #[error("cannot read the serve config: {0}")]
    ServeConfig(String),
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
    actions::run(action, opts).await
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
