//! The plain data between the tray's workers and its menu: what the monitor and the actions
//! worker report for the menu to show, and what a click asks of them.
//!
//! Everything here is data (and a few pure questions about it), so the arrows point one way:
//! the workers (`monitor.rs`, `actions.rs`) and the state machine produce these types, `menu/`
//! reads them, and none of them imports another through this file. The pure transitions the UI
//! thread makes on [`ActionsView`] (pick, confirm, cancel, …) live with the worker they feed, in
//! `actions.rs`.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use crate::config::IconStyle;
use crate::diagnosis::{Cause, Diagnosis, Fix, Health};
use crate::fix::{self, Outcome, Plan};
use crate::targets::{self, Target};

/// Wall-clock time as shown to the user (local offset kept, so history reads right after a move).
pub type Wall = DateTime<FixedOffset>;

/// Everything the UI needs to draw the icon and the status part of the menu: the state
/// machine's snapshot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    /// The confirmed health; `None` before the first result.
    pub health: Option<Health>,
    /// The confirmed cause, its sentence and the served URL: the headline keeps showing them
    /// while a visible run's provisional lines update below.
    pub cause: Option<Cause>,
    pub summary: String,
    pub url: Option<String>,
    /// A run the user is waiting for is in progress.
    pub checking: bool,
    /// What the check lines show: the provisional diagnosis of a visible run, else the confirmed
    /// one.
    pub diagnosis: Option<Diagnosis>,
    pub since: Option<Wall>,
    /// While watching for the admin-console fix: until when, and how often it re-checks.
    pub watching_until: Option<Wall>,
    pub watch_every_secs: u64,
    /// Shown after the watched fix worked.
    pub fixed_note: Option<String>,
    /// The recreate-serve offer that goes with `fixed_note`.
    pub offer_recreate: Option<Fix>,
    /// The other configured targets, in the config file's order (this node is the fields
    /// above).
    pub targets: Vec<TargetView>,
}

impl View {
    /// What the icon shows: the worst health over this node and every other target that has a
    /// result (`targets::worst_of`'s order); `None` until this node has its first result.
    pub fn worst(&self) -> Option<Health> {
        let local = self.health?;
        Some(targets::worst_of(
            std::iter::once(local).chain(self.targets.iter().filter_map(TargetView::health)),
        ))
    }
}

/// One diagnosis of another target: its result, or why it could not be checked at all.
pub type TargetResult = Result<Diagnosis, String>;

/// The health a result shows: one that could not be checked is gray, never green.
pub fn result_health(r: &TargetResult) -> Health {
    r.as_ref().map_or(Health::Gray, |d| d.health)
}

/// Another target as the menu shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetView {
    pub target: Target,
    /// The confirmed result; `None` before the first one.
    pub result: Option<TargetResult>,
    /// A run the user asked for is in progress for it.
    pub checking: bool,
}

impl TargetView {
    pub fn health(&self) -> Option<Health> {
        self.result.as_ref().map(result_health)
    }

    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        self.result.as_ref().and_then(|r| r.as_ref().ok())
    }

    /// The cause's short line, "cannot be checked", or "Checking…" before the first result.
    pub fn headline(&self) -> &str {
        match &self.result {
            Some(Ok(d)) => d.cause.headline(),
            Some(Err(_)) => "cannot be checked",
            None => "Checking…",
        }
    }

    /// The cause's sentence, or why the target cannot be checked.
    pub fn summary(&self) -> String {
        match &self.result {
            Some(Ok(d)) => d.summary.clone(),
            Some(Err(e)) => format!("Cannot be checked: {e}"),
            None => String::new(),
        }
    }
}

/// Settings as the menu shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsView {
    /// The interval in effect, and whether `--interval` set it (then the menu cannot change it).
    pub interval_secs: u64,
    pub interval_flag: bool,
    /// `backend_port` in the config file (`None`: automatic, from the serve config).
    pub config_port: Option<u16>,
    /// `--port`, which wins for this run.
    pub port_flag: Option<u16>,
    pub notifications: bool,
    pub icon_style: IconStyle,
    /// Template icons only mean something in the macOS menu bar.
    pub template_supported: bool,
    pub config_path: PathBuf,
    /// The config file could not be used (defaults in effect; never overwritten).
    pub problem: Option<String>,
}

impl Default for SettingsView {
    fn default() -> Self {
        SettingsView {
            interval_secs: crate::config::DEFAULT_POLL_SECS,
            interval_flag: false,
            config_port: None,
            port_flag: None,
            notifications: true,
            icon_style: IconStyle::Color,
            template_supported: crate::platform::TEMPLATE_ICONS,
            config_path: PathBuf::new(),
            problem: None,
        }
    }
}

/// A write action the menu offers. Plain data; [`WriteKind::fix_action`] is what it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `serve reset` + `serve --bg --https=P TARGET`; `keep_others` puts the other handlers back.
    Recreate {
        keep_others: bool,
    },
    HttpFallback,
    FunnelOn,
    FunnelOff,
    /// The newest backup, as it was (`serve reset` + `serve set-raw`).
    Restore,
}

impl WriteKind {
    pub fn fix_action(self) -> fix::Action {
        match self {
            WriteKind::Recreate { keep_others } => fix::Action::Recreate {
                keep_others,
                https_port: None,
            },
            WriteKind::HttpFallback => fix::Action::HttpFallback,
            WriteKind::FunnelOn => fix::Action::FunnelOn,
            WriteKind::FunnelOff => fix::Action::FunnelOff,
            WriteKind::Restore => fix::Action::Restore {
                backup: None,
                rename_to_current: false,
            },
        }
    }

    /// The menu's kind for a fix action `fix::offer` picked; `None` for what the menu cannot
    /// carry (a chosen port or backup file, the read-only actions).
    pub fn of(action: &fix::Action) -> Option<WriteKind> {
        match action {
            fix::Action::Recreate {
                keep_others,
                https_port: None,
            } => Some(WriteKind::Recreate {
                keep_others: *keep_others,
            }),
            fix::Action::HttpFallback => Some(WriteKind::HttpFallback),
            fix::Action::FunnelOn => Some(WriteKind::FunnelOn),
            fix::Action::FunnelOff => Some(WriteKind::FunnelOff),
            fix::Action::Restore {
                backup: None,
                rename_to_current: false,
            } => Some(WriteKind::Restore),
            fix::Action::Recreate { .. }
            | fix::Action::Restore { .. }
            | fix::Action::Backups
            | fix::Action::OpenAdmin { .. }
            | fix::Action::TunnelCommand { .. } => None,
        }
    }

    /// How the menu names it.
    pub fn title(self) -> &'static str {
        match self {
            WriteKind::Recreate { keep_others: false } => "Recreate serve",
            WriteKind::Recreate { keep_others: true } => "Recreate serve, keeping the others",
            WriteKind::HttpFallback => "Serve over plain HTTP",
            WriteKind::FunnelOn => "Turn on Funnel",
            WriteKind::FunnelOff => "Turn off Funnel",
            WriteKind::Restore => "Restore the last backup",
        }
    }

    /// The line shown while it runs.
    pub fn running(self) -> &'static str {
        match self {
            WriteKind::Recreate { .. } => "Recreating serve…",
            WriteKind::HttpFallback => "Switching serve to plain HTTP…",
            WriteKind::FunnelOn => "Turning Funnel on…",
            WriteKind::FunnelOff => "Turning Funnel off…",
            WriteKind::Restore => "Restoring the backup…",
        }
    }
}

/// Where the write-action flow is.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Phase {
    #[default]
    Idle,
    /// Reading the current config to build the plan (nothing changes).
    Planning(WriteKind),
    /// The plan is in the confirmation dialog; waiting for its answer (or "Cancel" in the menu).
    Confirm {
        kind: WriteKind,
        plan: Plan,
        /// Funnel's public URL, the HTTP fallback's address: the dialog names it.
        url: Option<String>,
        /// The serve config changed between the plan the user read and "Run": this is the new one.
        replanned: bool,
    },
    /// The confirmed run: every write item is disabled.
    Running(WriteKind),
}

/// The confirmation dialog's text, built from the plan on show (`menu::confirm::dialog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Also the window's title.
    pub title: String,
    pub body: String,
}

/// The last write action's result, as the menu shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastWrite {
    pub kind: WriteKind,
    pub outcome: Outcome,
    pub message: String,
    pub backup: Option<PathBuf>,
    pub consent_url: Option<String>,
}

/// Everything about actions and desktop settings that the menu shows. Plain data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionsView {
    pub phase: Phase,
    pub outcome: Option<LastWrite>,
    /// Launch at login as read back from the system; `None` before the first read.
    pub login: Option<Result<bool, String>>,
    /// A toggle is on its way to the system: the item waits for the read-back.
    pub login_busy: bool,
    /// Where backups go (shown in the plan); `None` when there is no data dir.
    pub backups_dir: Option<PathBuf>,
    /// The newest backup, for "Restore last backup…".
    pub newest_backup: Option<PathBuf>,
    /// Where the logs are, for "Reveal logs".
    pub logs_dir: Option<PathBuf>,
}

impl ActionsView {
    /// A plan is being read or a fix runs: no other write may start.
    pub fn busy(&self) -> bool {
        matches!(self.phase, Phase::Planning(_) | Phase::Running(_))
    }
}

/// What a click asks of the monitor (sent over its channel as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorCmd {
    DiagnoseNow,
    /// Diagnose this one other target now (by its name).
    DiagnoseTarget(String),
    /// Open a URL; `admin` starts watching for the fix.
    Open {
        url: String,
        admin: bool,
    },
    OpenConfig,
    SetInterval(u64),
    SetPort(Option<u16>),
    SetNotifications(bool),
    SetIconStyle(IconStyle),
}

/// What a click asks of the write actions and desktop settings: first a step of
/// [`ActionsView`]'s flow on the UI thread, which may then send the worker a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerAction {
    /// A state-changing fix: read its plan and ask for confirmation in a dialog.
    Write(WriteKind),
    /// "Cancel" in the menu while the plan is read or its dialog is up.
    CancelWrite,
    /// Hide the last action's outcome lines.
    DismissOutcome,
    /// Turn launching at login on or off (the check mark follows the read-back).
    SetLaunchAtLogin(bool),
    /// Show the logs folder in the file manager.
    RevealLogs,
    /// Show this file (a backup) in the file manager.
    Reveal(PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_a_writing_fix_and_back() {
        for k in [
            WriteKind::Recreate { keep_others: false },
            WriteKind::Recreate { keep_others: true },
            WriteKind::HttpFallback,
            WriteKind::FunnelOn,
            WriteKind::FunnelOff,
            WriteKind::Restore,
        ] {
            assert!(k.fix_action().writes(), "{k:?}");
            assert_eq!(WriteKind::of(&k.fix_action()), Some(k));
            assert!(k.running().ends_with('…'));
        }
        assert_eq!(WriteKind::of(&fix::Action::Backups), None);
    }
}
