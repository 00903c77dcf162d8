//! The menu as plain data, built from state in one function ([`build`]).
//!
//! Nothing here touches GTK or AppKit: `render.rs` turns the model into muda items, and the
//! event loop looks up what a click means through the item's id ([`Model::action`]). Keeping the
//! model pure is what lets every line of the menu be a unit test.
//!
//! Write actions (recreate serve, HTTP fallback, Funnel, restore a backup) carry
//! [`Action::Write`]. Their confirmation is part of the menu, built here from
//! [`ActionsView`]: the plan's exact commands, what they remove, where the backup goes, then
//! "Run these commands" and "Cancel". While a plan is read or a fix runs every write item is
//! disabled, so two never run at once.

use std::path::PathBuf;

use chrono::Datelike;

use crate::config::IconStyle;
use crate::diagnosis::{Cause, CheckStatus, Diagnosis, Fix, FixId, Health};
use crate::fix::Outcome;
use crate::tray::actions::{ActionsView, Phase, WriteKind};
use crate::tray::history::Entry;
use crate::tray::state::{View, Wall};

/// Menus wider than this are hard to read; evidence is cut with an ellipsis.
const MAX_LABEL: usize = 76;

/// Width of the wrapped cause sentence under the headline.
const SUMMARY_WIDTH: usize = 60;

/// Poll interval choices offered in Settings (seconds).
pub const INTERVAL_CHOICES: [u64; 5] = [10, 30, 60, 300, 900];

/// What a click on an item does. Plain data: everything the handler needs is in here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    DiagnoseNow,
    /// Open a URL in the browser; `admin` starts the fast re-check afterwards.
    OpenUrl {
        url: String,
        admin: bool,
    },
    /// Put `text` on the clipboard; `what` names it in the confirmation.
    Copy {
        what: String,
        text: String,
    },
    /// Copy the Markdown report of the diagnosis on show.
    CopyReport,
    /// A state-changing fix: read its plan and show it for confirmation.
    Write(WriteKind),
    /// "Run these commands" under the plan on show.
    ConfirmWrite,
    /// "Cancel" under the plan.
    CancelWrite,
    /// Hide the last action's outcome lines.
    DismissOutcome,
    /// Turn launching at login on or off (the check mark follows the read-back).
    SetLaunchAtLogin(bool),
    /// Show the logs folder in the file manager.
    RevealLogs,
    /// Show this file (a backup) in the file manager.
    Reveal(PathBuf),
    SetInterval(u64),
    SetPort(Option<u16>),
    SetNotifications(bool),
    SetIconStyle(IconStyle),
    OpenConfig,
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Item {
        id: String,
        label: String,
        enabled: bool,
        action: Option<Action>,
    },
    Check {
        id: String,
        label: String,
        enabled: bool,
        checked: bool,
        action: Option<Action>,
    },
    Sub {
        id: String,
        label: String,
        enabled: bool,
        children: Vec<Node>,
    },
    Separator,
}

impl Node {
    fn info(id: impl Into<String>, label: impl Into<String>) -> Node {
        Node::Item {
            id: id.into(),
            label: clip(&label.into()),
            enabled: false,
            action: None,
        }
    }

    fn act(id: impl Into<String>, label: impl Into<String>, action: Action) -> Node {
        Node::Item {
            id: id.into(),
            label: label.into(),
            enabled: true,
            action: Some(action),
        }
    }

    fn check(
        id: impl Into<String>,
        label: impl Into<String>,
        enabled: bool,
        checked: bool,
        action: Action,
    ) -> Node {
        Node::Check {
            id: id.into(),
            label: label.into(),
            enabled,
            checked,
            action: Some(action),
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Node::Item { id, .. } | Node::Check { id, .. } | Node::Sub { id, .. } => Some(id),
            Node::Separator => None,
        }
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            Node::Item { label, .. } | Node::Check { label, .. } | Node::Sub { label, .. } => {
                Some(label)
            }
            Node::Separator => None,
        }
    }
}

/// The whole menu, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    pub items: Vec<Node>,
}

impl Model {
    /// The node with this id, searching submenus.
    pub fn find(&self, id: &str) -> Option<&Node> {
        fn walk<'a>(nodes: &'a [Node], id: &str) -> Option<&'a Node> {
            nodes.iter().find_map(|n| match n {
                _ if n.id() == Some(id) => Some(n),
                Node::Sub { children, .. } => walk(children, id),
                _ => None,
            })
        }
        walk(&self.items, id)
    }

    /// What clicking the item with this id does (disabled items do nothing).
    pub fn action(&self, id: &str) -> Option<&Action> {
        match self.find(id)? {
            Node::Item {
                enabled: true,
                action,
                ..
            }
            | Node::Check {
                enabled: true,
                action,
                ..
            } => action.as_ref(),
            _ => None,
        }
    }

    /// Every id, depth first (for the uniqueness test and the renderer's shape comparison).
    pub fn ids(&self) -> Vec<&str> {
        fn walk<'a>(nodes: &'a [Node], out: &mut Vec<&'a str>) {
            for n in nodes {
                out.extend(n.id());
                if let Node::Sub { children, .. } = n {
                    walk(children, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
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
            template_supported: cfg!(target_os = "macos"),
            config_path: PathBuf::new(),
            problem: None,
        }
    }
}

/// Everything the menu is built from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub view: &'a View,
    /// Oldest first, as stored.
    pub history: &'a [Entry],
    pub settings: &'a SettingsView,
    /// A short-lived confirmation ("Copied …", "No browser: URL copied").
    pub message: Option<&'a str>,
    /// Write actions in progress, their last outcome, and the desktop settings' state.
    pub actions: &'a ActionsView,
    pub now: Wall,
}

/// Builds the menu. The one place that decides what the menu says.
pub fn build(input: Input<'_>) -> Model {
    let Input {
        view,
        history,
        settings,
        message,
        actions,
        now,
    } = input;
    let d = view.diagnosis.as_ref();
    let mut items = Vec::new();

    // 1. Headline and "since".
    items.push(Node::info("status.headline", headline(view)));
    if view.health.is_some_and(|h| h != Health::Green) {
        for (i, line) in wrap(&view.summary, SUMMARY_WIDTH, 3)
            .into_iter()
            .enumerate()
        {
            items.push(Node::info(format!("status.summary.{i}"), line));
        }
    }
    if let Some(since) = view.since {
        items.push(Node::info(
            "status.since",
            format!("since {}", when(since, now)),
        ));
    }
    if let Some(p) = &settings.problem {
        items.push(Node::act(
            "status.config",
            clip(&format!("⚠ Config file has problems: {p}")),
            Action::OpenConfig,
        ));
    }
    if let Some(until) = view.watching_until {
        items.push(Node::info(
            "status.watch",
            format!(
                "Re-checking every {} s until {} (waiting for your fix)",
                view.watch_every_secs,
                until.format("%H:%M")
            ),
        ));
    }
    if let Some(note) = &view.fixed_note {
        items.push(Node::info("status.fixed", format!("✓ {note}")));
    }
    if let Some(m) = message {
        items.push(Node::info("status.message", m));
    }

    // 2. One line per check.
    if let Some(d) = d
        && !d.checks.is_empty()
    {
        items.push(Node::Separator);
        for c in &d.checks {
            let text = if c.detail.is_empty() {
                format!("{} {}", c.status.symbol(), c.title)
            } else {
                format!("{} {}: {}", c.status.symbol(), c.title, c.detail)
            };
            items.push(Node::info(format!("check.{}", c.id), text));
        }
    }

    // 3. Diagnose now.
    items.push(Node::Separator);
    items.push(if view.checking {
        Node::info("diagnose", "Diagnosing…")
    } else {
        Node::act("diagnose", "Diagnose now", Action::DiagnoseNow)
    });

    // 4. The write action in progress (its plan to confirm, or its outcome), then the fixes for
    //    the current cause, first one first, then the other serve actions and the report.
    let write_ok = !actions.busy();
    let mut fixes: Vec<Node> = Vec::new();
    if let Some(fix) = &view.offer_recreate {
        fixes.extend(fix_items("offer", fix, write_ok));
    }
    if let Some(d) = d
        && d.health != Health::Green
    {
        for (i, fix) in d.fixes.iter().enumerate() {
            fixes.extend(fix_items(&format!("fix.{i}"), fix, write_ok));
        }
    }
    items.push(Node::Separator);
    items.extend(action_section(actions));
    let offered: Vec<WriteKind> = fixes
        .iter()
        .filter_map(|n| match n {
            Node::Item {
                action: Some(Action::Write(k)),
                ..
            } => Some(*k),
            _ => None,
        })
        .collect();
    items.extend(fixes);
    if let Some(more) = more_actions(view, actions, &offered) {
        items.push(more);
    }
    items.push(Node::Item {
        id: "report.copy".into(),
        label: "Copy report (Markdown)".into(),
        enabled: view.diagnosis.is_some() && !view.checking,
        action: Some(Action::CopyReport),
    });

    // 5. History, newest first.
    items.push(Node::Separator);
    let mut hist: Vec<Node> = history
        .iter()
        .rev()
        .enumerate()
        .map(|(i, e)| {
            let sym = match e.health() {
                Some(Health::Green) => CheckStatus::Pass.symbol(),
                Some(Health::Yellow) => CheckStatus::Warn.symbol(),
                Some(Health::Red) => CheckStatus::Fail.symbol(),
                Some(Health::Gray) | None => CheckStatus::Skip.symbol(),
            };
            Node::info(
                format!("history.{i}"),
                format!(
                    "{}  {sym} {}",
                    when(e.at, now),
                    e.cause().map(short_cause).unwrap_or(e.summary.as_str())
                ),
            )
        })
        .collect();
    if hist.is_empty() {
        hist.push(Node::info("history.empty", "No changes yet"));
    }
    items.push(Node::Sub {
        id: "history".into(),
        label: "History".into(),
        enabled: true,
        children: hist,
    });

    // 6. Settings.
    items.push(Node::Sub {
        id: "settings".into(),
        label: "Settings".into(),
        enabled: true,
        children: settings_items(settings, d, actions),
    });

    // 7. Quit.
    items.push(Node::Separator);
    items.push(Node::act("quit", "Quit Serve Doctor", Action::Quit));
    Model { items }
}

/// "Serve healthy — https://…" or the cause in one short sentence.
fn headline(view: &View) -> String {
    match (view.health, view.cause) {
        (Some(Health::Green), _) => match &view.url {
            Some(url) => format!("Serve healthy — {}", url.trim_end_matches('/')),
            None => "Serve healthy".to_string(),
        },
        (Some(_), Some(cause)) => short_cause(cause).to_string(),
        _ => "Checking…".to_string(),
    }
}

/// The cause as a menu headline: short enough to read at a glance (the engine's full sentence
/// follows on the lines below it).
pub fn short_cause(cause: Cause) -> &'static str {
    match cause {
        Cause::TailscaleNotFound => "Tailscale CLI not found",
        Cause::DaemonUnreachable => "Tailscale daemon not answering",
        Cause::StatusUnparseable => "Tailscale status unreadable",
        Cause::Stopped => "Tailscale is stopped",
        Cause::NeedsLogin => "Tailscale needs you to log in",
        Cause::NeedsApproval => "This machine awaits approval",
        Cause::MagicdnsDisabled => "MagicDNS is off for the tailnet",
        Cause::HttpsDisabled => "HTTPS certificates are off for the tailnet",
        Cause::ServeNotConfigured => "Serve is not configured",
        Cause::ServeNameMismatch => "Serve config is keyed to an old name",
        Cause::ServePlainHttp => "Serve uses plain HTTP, not HTTPS",
        Cause::ListenerUnreachable => "Nothing answers on the HTTPS port",
        Cause::CertNeedsControl => "No certificate without the control server",
        Cause::CertPending => "Waiting for the first certificate",
        Cause::CertIssuanceFailing => "Certificate issuance is failing",
        Cause::CertInvalid => "The certificate is not valid",
        Cause::BackendDown => "Your app behind serve is down",
        Cause::BackendNotResponding => "Your app behind serve does not respond",
        Cause::ServeProxyFailing => "Serve cannot reach your app",
        Cause::CertExpiring => "The certificate expires soon",
        Cause::ControlUnreachable => "Control server unreachable",
        Cause::NotVerified => "Serve could not be verified from here",
        Cause::Healthy => "Serve healthy",
    }
}

/// Word-wraps `s` to lines of at most `width` characters, at most `max` lines (the last one cut
/// with an ellipsis): a menu item cannot wrap by itself.
pub fn wrap(s: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            let keep: String = last.chars().take(width.saturating_sub(1)).collect();
            *last = format!("{}…", keep.trim_end());
        }
    }
    lines.into_iter().map(|l| clip(&l)).collect()
}

/// "14:02" today, "Mon 14:02" this week, "12 May 14:02" before.
pub fn when(t: Wall, now: Wall) -> String {
    let t_local = t.with_timezone(&now.timezone());
    let days = now
        .date_naive()
        .signed_duration_since(t_local.date_naive())
        .num_days();
    if days == 0 {
        t_local.format("%H:%M").to_string()
    } else if (1..7).contains(&days) {
        t_local.format("%a %H:%M").to_string()
    } else if t_local.year() == now.year() {
        t_local.format("%-d %b %H:%M").to_string()
    } else {
        t_local.format("%-d %b %Y %H:%M").to_string()
    }
}

/// The write action a diagnosis fix stands for. Configuring serve from nothing and switching
/// plain HTTP to HTTPS are both "reset, then `serve --bg --https`": recreate.
fn write_kind(id: FixId) -> Option<WriteKind> {
    match id {
        FixId::RecreateServe | FixId::ConfigureServe | FixId::ServeHttps => {
            Some(WriteKind::Recreate { keep_others: false })
        }
        FixId::HttpFallback => Some(WriteKind::HttpFallback),
        FixId::Funnel => Some(WriteKind::FunnelOn),
        _ => None,
    }
}

fn write_label(fix: &Fix) -> String {
    match fix.id {
        FixId::RecreateServe => "Recreate serve…".to_string(),
        FixId::ConfigureServe => "Configure serve…".to_string(),
        FixId::ServeHttps => "Switch serve to HTTPS…".to_string(),
        FixId::HttpFallback => "Serve over plain HTTP instead…".to_string(),
        FixId::Funnel => "Turn on Funnel (public)…".to_string(),
        _ => format!("{}…", fix.title),
    }
}

/// The menu items for one fix; write actions are enabled when `write_ok` (none in progress).
fn fix_items(prefix: &str, fix: &Fix, write_ok: bool) -> Vec<Node> {
    let id = format!("{prefix}.{}", fix.id);
    if let Some(kind) = write_kind(fix.id) {
        return vec![Node::Item {
            id,
            label: write_label(fix),
            enabled: write_ok,
            action: Some(Action::Write(kind)),
        }];
    }
    let node = match (fix.id, &fix.url, &fix.command) {
        (FixId::OpenAdminDns, Some(url), _) => Node::act(
            id,
            "Open admin console (DNS)…",
            Action::OpenUrl {
                url: url.clone(),
                admin: true,
            },
        ),
        (FixId::SshTunnel, _, Some(cmd)) => Node::act(
            id,
            "Copy SSH tunnel command",
            Action::Copy {
                what: "SSH tunnel command".into(),
                text: cmd.clone(),
            },
        ),
        (_, Some(url), _) => Node::act(
            id,
            clip(&format!("Open: {}…", fix.title)),
            Action::OpenUrl {
                url: url.clone(),
                admin: fix.id == FixId::ApproveMachine,
            },
        ),
        (_, None, Some(cmd)) => Node::act(
            id,
            clip(&format!("Copy command: {}", fix.title)),
            Action::Copy {
                what: "command".into(),
                text: cmd.clone(),
            },
        ),
        (_, None, None) => Node::info(id, fix.title.clone()),
    };
    vec![node]
}

fn settings_items(s: &SettingsView, d: Option<&Diagnosis>, a: &ActionsView) -> Vec<Node> {
    let mut out = Vec::new();

    // Launch at login: the check mark is what the system says, read back after every toggle.
    let (checked, problem) = match &a.login {
        Some(Ok(on)) => (*on, None),
        Some(Err(e)) => (false, Some(e)),
        None => (false, None),
    };
    out.push(Node::check(
        "settings.login",
        if a.login_busy {
            "Launch at login (changing…)"
        } else {
            "Launch at login"
        },
        a.login.is_some() && !a.login_busy,
        checked,
        Action::SetLaunchAtLogin(!checked),
    ));
    if let Some(e) = problem {
        out.push(Node::info(
            "settings.login.problem",
            format!("⚠ Launch at login: {e}"),
        ));
    }
    out.push(Node::Separator);

    // Backend port.
    let effective = match (s.port_flag, d) {
        (Some(p), _) => format!("{p} (from --port)"),
        (None, Some(d)) => format!("{} ({})", d.backend_port, d.backend_port_source.describe()),
        (None, None) => match s.config_port {
            Some(p) => format!("{p} (from the config file)"),
            None => "automatic".to_string(),
        },
    };
    let editable = s.port_flag.is_none() && s.problem.is_none();
    let mut port = vec![Node::check(
        "settings.port.auto",
        "Automatic (the port serve proxies to)",
        editable,
        s.config_port.is_none(),
        Action::SetPort(None),
    )];
    let pin = s.config_port.or(d.map(|d| d.backend_port));
    if let Some(p) = pin {
        port.push(Node::check(
            "settings.port.pinned",
            format!("Always {p}"),
            editable,
            s.config_port == Some(p),
            Action::SetPort(Some(p)),
        ));
    }
    port.push(Node::act(
        "settings.port.edit",
        "Other port: edit the config file…",
        Action::OpenConfig,
    ));
    out.push(Node::Sub {
        id: "settings.port".into(),
        label: format!("Backend port: {effective}"),
        enabled: true,
        children: port,
    });

    // Poll interval.
    let mut choices: Vec<u64> = INTERVAL_CHOICES.to_vec();
    if !choices.contains(&s.interval_secs) {
        choices.push(s.interval_secs);
        choices.sort_unstable();
    }
    let interval = choices
        .into_iter()
        .map(|secs| {
            Node::check(
                format!("settings.interval.{secs}"),
                duration_label(secs),
                !s.interval_flag && s.problem.is_none(),
                secs == s.interval_secs,
                Action::SetInterval(secs),
            )
        })
        .collect();
    out.push(Node::Sub {
        id: "settings.interval".into(),
        label: format!(
            "Check every: {}{}",
            duration_label(s.interval_secs),
            if s.interval_flag {
                " (from --interval)"
            } else {
                ""
            }
        ),
        enabled: true,
        children: interval,
    });

    // Notifications.
    out.push(Node::check(
        "settings.notifications",
        "Notify when the health changes",
        s.problem.is_none(),
        s.notifications,
        Action::SetNotifications(!s.notifications),
    ));

    // Icon style.
    let template_label = if s.template_supported {
        "Monochrome (menu-bar template)"
    } else {
        "Monochrome (macOS only)"
    };
    out.push(Node::Sub {
        id: "settings.icon".into(),
        label: "Icon style".into(),
        enabled: true,
        children: vec![
            Node::check(
                "settings.icon.color",
                "Colour",
                s.problem.is_none(),
                s.icon_style == IconStyle::Color,
                Action::SetIconStyle(IconStyle::Color),
            ),
            Node::check(
                "settings.icon.template",
                template_label,
                s.template_supported && s.problem.is_none(),
                s.icon_style == IconStyle::Template,
                Action::SetIconStyle(IconStyle::Template),
            ),
        ],
    });

    out.push(Node::Separator);
    out.push(Node::act(
        "settings.open",
        "Open config file",
        Action::OpenConfig,
    ));
    out.push(Node::Item {
        id: "settings.logs".into(),
        label: "Reveal logs".into(),
        enabled: a.logs_dir.is_some(),
        action: Some(Action::RevealLogs),
    });
    out
}

/// Causes where tailscaled answers and the node is up, so the serve config can be changed.
fn serve_writable(cause: Cause) -> bool {
    !matches!(
        cause,
        Cause::TailscaleNotFound
            | Cause::DaemonUnreachable
            | Cause::StatusUnparseable
            | Cause::Stopped
            | Cause::NeedsLogin
            | Cause::NeedsApproval
    )
}

/// "Serve actions": the write actions the current cause did not already offer, where they apply.
/// Funnel needs a working certificate (it serves the same one), so it is offered only when
/// HTTPS works; turning it off, recreating and restoring need serve to be reachable at all.
fn more_actions(view: &View, a: &ActionsView, offered: &[WriteKind]) -> Option<Node> {
    let cause = view.cause?;
    if !serve_writable(cause) {
        return None;
    }
    let cert_works = matches!(
        cause,
        Cause::Healthy | Cause::BackendDown | Cause::BackendNotResponding | Cause::CertExpiring
    );
    let configured = cause != Cause::ServeNotConfigured;
    let mut kids = Vec::new();
    let mut add = |kind: WriteKind, id: &str, label: String, applies: bool| {
        if applies && !offered.contains(&kind) {
            kids.push(Node::Item {
                id: format!("more.{id}"),
                label,
                enabled: !a.busy(),
                action: Some(Action::Write(kind)),
            });
        }
    };
    add(
        WriteKind::Recreate { keep_others: false },
        "recreate",
        "Recreate serve…".into(),
        true,
    );
    add(
        WriteKind::FunnelOn,
        "funnel_on",
        "Turn on Funnel (public on the internet)…".into(),
        cert_works,
    );
    add(
        WriteKind::FunnelOff,
        "funnel_off",
        "Turn off Funnel (tailnet only)…".into(),
        configured,
    );
    let newest = a.newest_backup.as_ref().map(|p| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    add(
        WriteKind::Restore,
        "restore",
        clip(&format!(
            "Restore last backup… ({})",
            newest.as_deref().unwrap_or("")
        )),
        newest.is_some(),
    );
    (!kids.is_empty()).then(|| Node::Sub {
        id: "more".into(),
        label: "Serve actions".into(),
        enabled: true,
        children: kids,
    })
}

/// The write action in progress: the plan to confirm, the "running" line, or the outcome.
fn action_section(a: &ActionsView) -> Vec<Node> {
    let mut out = Vec::new();
    match &a.phase {
        Phase::Idle => {}
        Phase::Planning(kind) => {
            out.push(Node::info(
                "write.planning",
                format!("{}: reading the current config…", kind.title()),
            ));
            out.push(Node::act("write.cancel", "Cancel", Action::CancelWrite));
            out.push(Node::Separator);
        }
        Phase::Confirm {
            kind,
            plan,
            replanned,
        } => {
            out.push(Node::info(
                "write.title",
                if *replanned {
                    format!(
                        "{}: the serve config changed — this is the new plan, nothing ran:",
                        kind.title()
                    )
                } else {
                    format!("{}: confirm — nothing has changed yet", kind.title())
                },
            ));
            out.push(Node::info("write.runs", "Runs:"));
            for (i, c) in plan.commands.iter().enumerate() {
                push_wrapped(&mut out, &format!("write.cmd.{i}"), "  $ ", c, 4);
            }
            if plan.removes.is_empty() {
                out.push(Node::info("write.removes", "Removes nothing"));
            } else {
                out.push(Node::info("write.removes", "Removes:"));
                for (i, r) in plan.removes.iter().enumerate() {
                    push_wrapped(&mut out, &format!("write.rm.{i}"), "  – ", r, 3);
                }
            }
            match &a.backups_dir {
                Some(dir) => push_wrapped(
                    &mut out,
                    "write.backup",
                    "",
                    &format!("Backs up the current config first, to {}", tilde(dir)),
                    2,
                ),
                None => out.push(Node::info(
                    "write.backup",
                    "⚠ No data directory: the backup cannot be written, so it will not run",
                )),
            }
            for (i, n) in plan.notes.iter().enumerate() {
                push_wrapped(&mut out, &format!("write.note.{i}"), "Note: ", n, 3);
            }
            for (i, u) in plan.undo.iter().enumerate() {
                push_wrapped(&mut out, &format!("write.undo.{i}"), "Undo: ", u, 2);
            }
            out.push(Node::act(
                "write.run",
                "Run these commands",
                Action::ConfirmWrite,
            ));
            let others = plan.removes.len() > 1;
            if *kind == (WriteKind::Recreate { keep_others: false }) && others {
                out.push(Node::act(
                    "write.keep_others",
                    "Keep the other entries instead (show that plan)…",
                    Action::Write(WriteKind::Recreate { keep_others: true }),
                ));
            }
            out.push(Node::act("write.cancel", "Cancel", Action::CancelWrite));
            out.push(Node::Separator);
        }
        Phase::Running(kind) => {
            out.push(Node::info("write.running", kind.running()));
            out.push(Node::Separator);
        }
    }
    if let Some(o) = &a.outcome {
        let (sym, word) = match o.outcome {
            Outcome::Done => ("✓", "done"),
            Outcome::Planned => ("…", "planned"),
            Outcome::Refused => ("⚠", "refused"),
            Outcome::Failed => ("✗", "failed"),
            Outcome::Busy => ("⚠", "busy"),
        };
        let text = if o.message.is_empty() {
            format!("{sym} {}: {word}", o.kind.title())
        } else {
            format!("{sym} {}: {word} — {}", o.kind.title(), o.message)
        };
        for (i, line) in wrap(&text, MAX_LABEL, 4).into_iter().enumerate() {
            out.push(Node::info(format!("write.outcome.{i}"), line));
        }
        if let Some(b) = &o.backup {
            out.push(Node::act(
                "write.backup_saved",
                clip(&format!("Backup: {}", tilde(b))),
                Action::Reveal(b.clone()),
            ));
        }
        if let Some(url) = &o.consent_url {
            out.push(Node::act(
                "write.consent",
                "Open consent page…",
                Action::OpenUrl {
                    url: url.clone(),
                    admin: true,
                },
            ));
        }
        out.push(Node::act(
            "write.dismiss",
            "Dismiss",
            Action::DismissOutcome,
        ));
        out.push(Node::Separator);
    }
    out
}

/// `text` word-wrapped to the menu's width as information lines `id.0`, `id.1`, … (a command
/// or a URL must be readable in full, not cut at the first line).
fn push_wrapped(out: &mut Vec<Node>, id: &str, prefix: &str, text: &str, max: usize) {
    // Continuation lines are indented two more than the prefix.
    let width = MAX_LABEL - prefix.chars().count() - 2;
    for (j, line) in wrap_hard(text, width, max).into_iter().enumerate() {
        let lead = if j == 0 {
            prefix.to_string()
        } else {
            " ".repeat(prefix.chars().count() + 2)
        };
        out.push(Node::info(format!("{id}.{j}"), format!("{lead}{line}")));
    }
}

/// Like [`wrap`], but a word longer than the line (a URL, a path) is split instead of cut.
fn wrap_hard(s: &str, width: usize, max: usize) -> Vec<String> {
    let width = width.max(8);
    let mut words = Vec::new();
    for w in s.split_whitespace() {
        let chars: Vec<char> = w.chars().collect();
        for chunk in chars.chunks(width) {
            words.push(chunk.iter().collect::<String>());
        }
    }
    wrap(&words.join(" "), width, max)
}

/// A path with the home directory shown as `~`, so it fits the menu.
fn tilde(p: &std::path::Path) -> String {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
        && let Ok(rest) = p.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    p.display().to_string()
}

fn duration_label(secs: u64) -> String {
    match secs {
        s if s < 60 || s % 60 != 0 => format!("{s} s"),
        s => format!("{} min", s / 60),
    }
}

/// Cuts a label to [`MAX_LABEL`] characters (not bytes: evidence may be any UTF-8).
fn clip(s: &str) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= MAX_LABEL {
        one_line
    } else {
        let mut out: String = one_line.chars().take(MAX_LABEL - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::CheckId;
    use crate::tray::history::Entry;
    use crate::tray::state::tests::{diag, wall};

    fn view(d: Diagnosis) -> View {
        View {
            health: Some(d.health),
            cause: Some(d.cause),
            summary: d.summary.clone(),
            url: d.url.clone(),
            since: Some(wall(14, 2, 0)),
            diagnosis: Some(d),
            ..View::default()
        }
    }

    fn labels(m: &Model) -> Vec<&str> {
        m.items.iter().filter_map(Node::label).collect()
    }

    fn https_off() -> Diagnosis {
        let mut d = diag(Cause::HttpsDisabled);
        d.summary = "HTTPS certificates are off for this tailnet, so serve cannot get a \
                     certificate; enable them in the admin console."
            .into();
        d.fixes = vec![
            Fix {
                id: FixId::OpenAdminDns,
                title: "Enable HTTPS certificates".into(),
                command: None,
                url: Some("https://login.tailscale.com/admin/dns".into()),
            },
            Fix {
                id: FixId::SshTunnel,
                title: "Use an SSH tunnel".into(),
                command: Some("ssh -N -L 18080:127.0.0.1:18080 me@laptop.tail1234.ts.net".into()),
                url: None,
            },
            Fix {
                id: FixId::HttpFallback,
                title: "Serve over HTTP".into(),
                command: Some("tailscale serve --bg --http 80 18080".into()),
                url: None,
            },
        ];
        d
    }

    static NO_ACTIONS: std::sync::LazyLock<ActionsView> =
        std::sync::LazyLock::new(|| ActionsView {
            login: Some(Ok(false)),
            backups_dir: Some("/home/me/.local/share/serve-doctor/backups".into()),
            logs_dir: Some("/home/me/.local/state/serve-doctor".into()),
            ..ActionsView::default()
        });

    fn input<'a>(v: &'a View, h: &'a [Entry], s: &'a SettingsView) -> Input<'a> {
        Input {
            view: v,
            history: h,
            settings: s,
            message: None,
            actions: &NO_ACTIONS,
            now: wall(15, 0, 0),
        }
    }

    #[test]
    fn healthy_menu_reads_top_to_bottom() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert_eq!(
            labels(&m),
            vec![
                "Serve healthy — https://laptop.tail1234.ts.net",
                "since 14:02",
                "✓ Tailscale reachable: /usr/bin/tailscale 1.80.0",
                "✓ HTTPS certificates on: CertDomains: laptop.tail1234.ts.net",
                "Diagnose now",
                "Serve actions",
                "Copy report (Markdown)",
                "History",
                "Settings",
                "Quit Serve Doctor",
            ]
        );
        assert_eq!(m.action("diagnose"), Some(&Action::DiagnoseNow));
        assert_eq!(m.action("report.copy"), Some(&Action::CopyReport));
        assert_eq!(m.action("quit"), Some(&Action::Quit));
        assert_eq!(
            m.action("status.headline"),
            None,
            "information lines do nothing"
        );
    }

    #[test]
    fn broken_menu_leads_with_the_cause_and_offers_fixes_in_order() {
        let v = view(https_off());
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        let l = labels(&m);
        assert_eq!(l[0], "HTTPS certificates are off for the tailnet");
        assert_eq!(
            l[1],
            "HTTPS certificates are off for this tailnet, so serve cannot"
        );
        assert_eq!(l[2], "get a certificate; enable them in the admin console.");
        assert_eq!(l[3], "since 14:02");
        assert!(l.contains(&"✗ HTTPS certificates on: CertDomains: laptop.tail1234.ts.net"));
        let admin = l
            .iter()
            .position(|x| *x == "Open admin console (DNS)…")
            .unwrap();
        let ssh = l
            .iter()
            .position(|x| *x == "Copy SSH tunnel command")
            .unwrap();
        let http = l
            .iter()
            .position(|x| *x == "Serve over plain HTTP instead…")
            .unwrap();
        let report = l
            .iter()
            .position(|x| *x == "Copy report (Markdown)")
            .unwrap();
        assert!(admin < ssh && ssh < http && http < report);
        assert_eq!(
            m.action("fix.0.open_admin_dns"),
            Some(&Action::OpenUrl {
                url: "https://login.tailscale.com/admin/dns".into(),
                admin: true
            })
        );
        assert_eq!(
            m.action("fix.1.ssh_tunnel"),
            Some(&Action::Copy {
                what: "SSH tunnel command".into(),
                text: "ssh -N -L 18080:127.0.0.1:18080 me@laptop.tail1234.ts.net".into()
            })
        );
        // Write actions are enabled and ask for their plan first.
        assert_eq!(
            m.action("fix.2.http_fallback"),
            Some(&Action::Write(WriteKind::HttpFallback))
        );
    }

    #[test]
    fn consent_url_is_what_the_admin_item_opens() {
        let mut d = https_off();
        d.fixes[0].url = Some("https://login.tailscale.com/f/serve?node=abc".into());
        let v = view(d);
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert_eq!(
            m.action("fix.0.open_admin_dns"),
            Some(&Action::OpenUrl {
                url: "https://login.tailscale.com/f/serve?node=abc".into(),
                admin: true
            })
        );
    }

    #[test]
    fn checking_disables_diagnose_and_shows_pending_lines() {
        let mut d = https_off();
        d.checks[1].status = CheckStatus::Pending;
        d.checks[1].detail.clear();
        let mut v = view(d);
        v.checking = true;
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert_eq!(
            m.find("diagnose").and_then(Node::label),
            Some("Diagnosing…")
        );
        assert_eq!(m.action("diagnose"), None);
        assert_eq!(
            m.find("check.https_certs").and_then(Node::label),
            Some("… HTTPS certificates on")
        );
        assert_eq!(m.action("report.copy"), None);
    }

    #[test]
    fn before_the_first_result() {
        let v = View {
            checking: true,
            ..View::default()
        };
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert_eq!(labels(&m)[0], "Checking…");
        assert!(m.find("status.since").is_none());
        assert_eq!(m.action("report.copy"), None);
    }

    #[test]
    fn history_newest_first_with_time_and_cause() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let h = vec![
            Entry::new(wall(9, 15, 0) - chrono::Duration::days(2), &https_off()),
            Entry::new(wall(14, 2, 0), &diag(Cause::Healthy)),
        ];
        let m = build(input(&v, &h, &s));
        let Some(Node::Sub { children, .. }) = m.find("history") else {
            panic!()
        };
        let l: Vec<_> = children.iter().filter_map(Node::label).collect();
        assert_eq!(
            l,
            vec![
                "14:02  ✓ Serve healthy",
                "Sat 09:15  ✗ HTTPS certificates are off for the tailnet"
            ]
        );
    }

    #[test]
    fn settings_reflect_config_and_flags() {
        let v = view(diag(Cause::Healthy));
        let mut s = SettingsView {
            interval_secs: 30,
            ..SettingsView::default()
        };
        let m = build(input(&v, &[], &s));
        let Some(Node::Sub { label, .. }) = m.find("settings.port") else {
            panic!()
        };
        assert_eq!(label, "Backend port: 18080 (from the serve config)");
        assert!(matches!(
            m.find("settings.port.auto"),
            Some(Node::Check {
                checked: true,
                enabled: true,
                ..
            })
        ));
        assert_eq!(
            m.action("settings.port.pinned"),
            Some(&Action::SetPort(Some(18080)))
        );
        assert!(matches!(
            m.find("settings.interval.30"),
            Some(Node::Check { checked: true, .. })
        ));
        assert_eq!(
            m.action("settings.interval.60"),
            Some(&Action::SetInterval(60))
        );
        assert_eq!(
            m.action("settings.notifications"),
            Some(&Action::SetNotifications(false))
        );
        assert_eq!(m.action("settings.open"), Some(&Action::OpenConfig));
        assert_eq!(
            m.find("settings.interval.60").and_then(Node::label),
            Some("1 min")
        );

        // --interval 1 wins: shown, listed, not changeable.
        s.interval_secs = 1;
        s.interval_flag = true;
        s.port_flag = Some(3000);
        let m = build(input(&v, &[], &s));
        let Some(Node::Sub { label, .. }) = m.find("settings.interval") else {
            panic!()
        };
        assert_eq!(label, "Check every: 1 s (from --interval)");
        assert!(matches!(
            m.find("settings.interval.1"),
            Some(Node::Check {
                checked: true,
                enabled: false,
                ..
            })
        ));
        assert_eq!(m.action("settings.interval.60"), None);
        assert_eq!(
            m.find("settings.port").and_then(Node::label),
            Some("Backend port: 3000 (from --port)")
        );
        assert_eq!(m.action("settings.port.auto"), None);
    }

    #[test]
    fn broken_config_is_a_menu_line_and_freezes_settings() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView {
            problem: Some("config.json is not valid".into()),
            ..SettingsView::default()
        };
        let m = build(input(&v, &[], &s));
        assert!(labels(&m)[2].starts_with("⚠ Config file has problems"));
        assert_eq!(m.action("status.config"), Some(&Action::OpenConfig));
        assert_eq!(m.action("settings.notifications"), None);
        assert_eq!(m.action("settings.open"), Some(&Action::OpenConfig));
    }

    #[test]
    fn after_the_watched_fix_it_says_so_and_offers_recreate() {
        let mut v = view(diag(Cause::Healthy));
        v.fixed_note = Some("HTTPS certificates work now: serve is healthy.".into());
        v.offer_recreate = Some(Fix {
            id: FixId::RecreateServe,
            title: "Recreate serve".into(),
            command: Some("tailscale serve reset && tailscale serve --bg 18080".into()),
            url: None,
        });
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        let l = labels(&m);
        assert!(l.contains(&"✓ HTTPS certificates work now: serve is healthy."));
        assert!(l.contains(&"Recreate serve…"));
        assert_eq!(
            m.action("offer.recreate_serve"),
            Some(&Action::Write(WriteKind::Recreate { keep_others: false }))
        );
        // Not offered twice: the "Serve actions" submenu leaves recreate out.
        assert!(m.find("more.recreate").is_none());
        assert!(m.find("more.funnel_on").is_some());
    }

    #[test]
    fn watching_and_messages_show_as_lines() {
        let mut v = view(https_off());
        v.watching_until = Some(wall(14, 7, 0));
        v.watch_every_secs = 3;
        let s = SettingsView::default();
        let mut i = input(&v, &[], &s);
        i.message = Some("Copied SSH tunnel command");
        let m = build(i);
        let l = labels(&m);
        assert!(l.contains(&"Re-checking every 3 s until 14:07 (waiting for your fix)"));
        assert!(l.contains(&"Copied SSH tunnel command"));
    }

    #[test]
    fn ids_are_unique_in_every_state() {
        let mut d = https_off();
        d.fixes.push(d.fixes[1].clone()); // even a repeated fix gets its own id
        for v in [view(d), view(diag(Cause::Healthy)), View::default()] {
            let s = SettingsView {
                config_port: Some(3000),
                ..SettingsView::default()
            };
            let h = vec![Entry::new(wall(1, 0, 0), &diag(Cause::Healthy)); 20];
            let m = build(input(&v, &h, &s));
            let ids = m.ids();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(ids.len(), sorted.len(), "{ids:?}");
        }
    }

    #[test]
    fn long_evidence_is_clipped_on_one_line() {
        let mut d = diag(Cause::Healthy);
        d.checks[0].detail = format!("line one\nline two {}", "é".repeat(200));
        d.checks[0].id = CheckId::Daemon;
        let v = view(d);
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        let l = m.find("check.daemon").and_then(Node::label).unwrap();
        assert_eq!(l.chars().count(), MAX_LABEL);
        assert!(l.ends_with('…') && !l.contains('\n'));
    }

    #[test]
    fn the_cause_sentence_wraps_under_the_headline() {
        assert_eq!(wrap("a bb ccc", 4, 3), vec!["a bb", "ccc"]);
        assert_eq!(wrap("one two three four", 8, 2), vec!["one two", "three…"]);
        assert!(wrap("", 10, 3).is_empty());
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert!(
            m.find("status.summary.0").is_none(),
            "healthy needs no explanation"
        );
    }

    #[test]
    fn when_formats_relative_to_today() {
        let now = wall(15, 0, 0);
        assert_eq!(when(wall(14, 2, 0), now), "14:02");
        assert_eq!(
            when(wall(14, 2, 0) - chrono::Duration::days(1), now),
            "Sun 14:02"
        );
        assert_eq!(
            when(wall(14, 2, 0) - chrono::Duration::days(30), now),
            "12 Apr 14:02"
        );
        assert_eq!(
            when(wall(14, 2, 0) - chrono::Duration::days(400), now),
            "7 Apr 2024 14:02"
        );
    }

    fn with_actions<'a>(i: Input<'a>, a: &'a ActionsView) -> Input<'a> {
        Input { actions: a, ..i }
    }

    /// Every write item in the model and whether it is enabled.
    fn write_items(m: &Model) -> Vec<(String, bool)> {
        fn walk(nodes: &[Node], out: &mut Vec<(String, bool)>) {
            for n in nodes {
                match n {
                    Node::Item {
                        id,
                        enabled,
                        action: Some(Action::Write(_)),
                        ..
                    } => out.push((id.clone(), *enabled)),
                    Node::Sub { children, .. } => walk(children, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&m.items, &mut out);
        out
    }

    const RECREATE: WriteKind = WriteKind::Recreate { keep_others: false };

    fn confirming() -> ActionsView {
        let mut a = NO_ACTIONS.clone();
        a.pick(RECREATE);
        a.planned(RECREATE, Ok(crate::tray::actions::tests::planned()));
        a
    }

    #[test]
    fn picking_a_write_action_shows_its_plan_with_run_and_cancel() {
        let v = view(https_off());
        let s = SettingsView::default();
        // While the plan is read: a line, Cancel, and every write item disabled.
        let mut a = NO_ACTIONS.clone();
        a.pick(WriteKind::HttpFallback);
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(
            m.find("write.planning").and_then(Node::label),
            Some("Serve over plain HTTP: reading the current config…")
        );
        assert_eq!(m.action("write.cancel"), Some(&Action::CancelWrite));
        assert!(write_items(&m).iter().all(|(_, on)| !on));

        let a = confirming();
        let m = build(with_actions(input(&v, &[], &s), &a));
        let l = labels(&m);
        let at = |x: &str| {
            l.iter()
                .position(|y| *y == x)
                .unwrap_or_else(|| panic!("{x} in {l:#?}"))
        };
        let title = at("Recreate serve: confirm — nothing has changed yet");
        assert!(at("Diagnose now") < title, "the plan follows Diagnose now");
        assert!(
            title < at("Open admin console (DNS)…"),
            "…and leads the fixes"
        );
        // The exact commands, every entry the reset removes, the backup location.
        for line in [
            "  $ tailscale serve reset",
            "  $ tailscale serve --bg --https=443 http://127.0.0.1:18080",
            "Removes:",
            "  – https://box.tail1234.ts.net/ → proxy http://127.0.0.1:18080",
            "  – https://box.tail1234.ts.net:8443/docs → path /srv/docs",
            "  – Funnel (public access) for https://box.tail1234.ts.net:443",
            "Undo: serve-doctor fix restore --yes",
            "Run these commands",
            "Cancel",
        ] {
            at(line);
        }
        assert!(
            l.iter()
                .any(|x| x.starts_with("Backs up the current config first, to"))
        );
        assert!(at("Runs:") < at("Removes:") && at("Removes:") < at("Run these commands"));
        assert!(at("Run these commands") < at("Cancel"));
        assert_eq!(m.action("write.run"), Some(&Action::ConfirmWrite));
        assert_eq!(m.action("write.cancel"), Some(&Action::CancelWrite));
        // Other entries would be lost: offer the plan that keeps them.
        assert_eq!(
            m.action("write.keep_others"),
            Some(&Action::Write(WriteKind::Recreate { keep_others: true }))
        );
        // Plan lines are information, never clickable.
        assert_eq!(m.action("write.cmd.0.0"), None);
    }

    #[test]
    fn long_commands_wrap_instead_of_being_cut() {
        let v = view(https_off());
        let s = SettingsView::default();
        let mut a = NO_ACTIONS.clone();
        a.pick(RECREATE);
        let mut r = crate::tray::actions::tests::planned();
        let long = format!(
            "tailscale serve --bg --https=443 http://127.0.0.1:18080/{}",
            "x".repeat(90)
        );
        r.plan.commands = vec![long.clone()];
        a.planned(RECREATE, Ok(r));
        let m = build(with_actions(input(&v, &[], &s), &a));
        let shown: String = (0..4)
            .filter_map(|j| m.find(&format!("write.cmd.0.{j}")).and_then(Node::label))
            .map(|l| l.trim().trim_start_matches("$ "))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(!shown.contains('…'), "{shown}");
        assert_eq!(shown.replace(' ', ""), long.replace(' ', ""));
    }

    #[test]
    fn while_a_fix_runs_every_write_item_is_disabled() {
        let mut v = view(https_off());
        v.offer_recreate = v.diagnosis.as_ref().unwrap().fixes.first().cloned();
        let s = SettingsView::default();
        let mut a = confirming();
        a.newest_backup = Some("/b/serve-20250101-box.json".into());
        let before = build(with_actions(input(&v, &[], &s), &a));
        assert!(write_items(&before).iter().any(|(_, on)| *on));
        a.confirm();
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(
            m.find("write.running").and_then(Node::label),
            Some("Recreating serve…")
        );
        let items = write_items(&m);
        assert!(items.len() >= 3, "{items:?}");
        assert!(items.iter().all(|(_, on)| !on), "{items:?}");
        assert!(m.find("write.run").is_none() && m.find("write.cancel").is_none());
    }

    #[test]
    fn the_outcome_line_names_the_result_and_the_backup() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let mut a = confirming();
        a.confirm();
        let mut r = crate::tray::actions::tests::report(Outcome::Done);
        r.message = "serve recreated for box.tail1234.ts.net".into();
        r.backup = Some("/home/me/.local/share/serve-doctor/backups/serve-1.json".into());
        a.finished(RECREATE, crate::tray::actions::RunResult::Report(r));
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(
            m.find("write.outcome.0").and_then(Node::label),
            Some("✓ Recreate serve: done — serve recreated for box.tail1234.ts.net")
        );
        assert_eq!(
            m.action("write.backup_saved"),
            Some(&Action::Reveal(
                "/home/me/.local/share/serve-doctor/backups/serve-1.json".into()
            ))
        );
        assert!(m.find("write.consent").is_none());
        assert_eq!(m.action("write.dismiss"), Some(&Action::DismissOutcome));
        assert!(write_items(&m).iter().all(|(_, on)| *on), "writable again");

        // Failed, with the consent page the CLI printed.
        let mut a = confirming();
        a.confirm();
        let mut r = crate::tray::actions::tests::report(Outcome::Failed);
        r.message = "the commands ran but the change is not in place".into();
        r.consent_url = Some("https://login.tailscale.com/f/serve?node=abc".into());
        a.finished(RECREATE, crate::tray::actions::RunResult::Report(r));
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert!(
            m.find("write.outcome.0")
                .and_then(Node::label)
                .is_some_and(|l| l.starts_with("✗ Recreate serve: failed — the commands ran"))
        );
        assert_eq!(
            m.action("write.consent"),
            Some(&Action::OpenUrl {
                url: "https://login.tailscale.com/f/serve?node=abc".into(),
                admin: true
            })
        );
        assert_eq!(
            m.find("write.consent").and_then(Node::label),
            Some("Open consent page…")
        );

        // Refused before anything changed: said, no backup item.
        let mut a = NO_ACTIONS.clone();
        a.pick(WriteKind::FunnelOn);
        let mut r = crate::tray::actions::tests::report(Outcome::Busy);
        r.message = "another fix is running".into();
        a.planned(WriteKind::FunnelOn, Ok(r));
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(
            m.find("write.outcome.0").and_then(Node::label),
            Some("⚠ Turn on Funnel: busy — another fix is running")
        );
        assert!(m.find("write.backup_saved").is_none());
    }

    #[test]
    fn serve_actions_apply_to_their_causes() {
        let s = SettingsView::default();
        let mut a = NO_ACTIONS.clone();
        a.newest_backup = Some("/b/serve-20250101T000000Z-box.json".into());
        let ids = |cause: Cause| {
            let v = view(diag(cause));
            let m = build(with_actions(input(&v, &[], &s), &a));
            let mut ids: Vec<String> = m
                .ids()
                .into_iter()
                .filter(|i| i.starts_with("more."))
                .map(String::from)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(
            ids(Cause::Healthy),
            [
                "more.funnel_off",
                "more.funnel_on",
                "more.recreate",
                "more.restore"
            ]
        );
        // No certificate: Funnel cannot help (it serves the same one).
        assert_eq!(
            ids(Cause::CertIssuanceFailing),
            ["more.funnel_off", "more.recreate", "more.restore"]
        );
        assert_eq!(
            ids(Cause::ServeNotConfigured),
            ["more.recreate", "more.restore"]
        );
        // Nothing can be written while Tailscale is down.
        assert!(ids(Cause::Stopped).is_empty());
        assert!(ids(Cause::DaemonUnreachable).is_empty());
        a.newest_backup = None;
        let v = view(diag(Cause::Healthy));
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert!(m.find("more.restore").is_none(), "nothing to restore");
        assert_eq!(
            m.action("more.funnel_off"),
            Some(&Action::Write(WriteKind::FunnelOff))
        );
    }

    #[test]
    fn launch_at_login_shows_what_the_system_says() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let check = |a: &ActionsView| {
            let m = build(with_actions(input(&v, &[], &s), a));
            match m.find("settings.login") {
                Some(Node::Check {
                    checked, enabled, ..
                }) => (*checked, *enabled, m.action("settings.login").cloned()),
                other => panic!("{other:?}"),
            }
        };
        let mut a = NO_ACTIONS.clone();
        assert_eq!(
            check(&a),
            (false, true, Some(Action::SetLaunchAtLogin(true)))
        );
        // Toggled: waits for the read-back, then shows it.
        a.set_login(true);
        assert_eq!(check(&a), (false, false, None));
        a.login_read(Ok(true));
        assert_eq!(
            check(&a),
            (true, true, Some(Action::SetLaunchAtLogin(false)))
        );
        // The file went away behind our back: the next read-back un-ticks it.
        a.login_read(Ok(false));
        assert!(!check(&a).0);
        // Not read yet: unticked and disabled.
        a.login = None;
        assert_eq!(check(&a), (false, false, None));
        // A failure is a line, not fatal.
        a.login_read(Err("no home directory".into()));
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(
            m.find("settings.login.problem").and_then(Node::label),
            Some("⚠ Launch at login: no home directory")
        );
        assert_eq!(m.action("settings.logs"), Some(&Action::RevealLogs));
        a.logs_dir = None;
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(m.action("settings.logs"), None);
    }

    #[test]
    fn ids_stay_unique_with_a_plan_and_an_outcome() {
        let v = view(https_off());
        let s = SettingsView::default();
        let mut a = confirming();
        a.outcome = Some(crate::tray::actions::Shown {
            kind: RECREATE,
            outcome: Outcome::Failed,
            message: "x ".repeat(200),
            backup: Some("/b".into()),
            consent_url: Some("https://login.tailscale.com/f/serve".into()),
        });
        let m = build(with_actions(input(&v, &[], &s), &a));
        let ids = m.ids();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids.len(), sorted.len(), "{ids:?}");
        assert!(labels(&m).iter().all(|l| l.chars().count() <= MAX_LABEL));
    }
}
