//! The menu as plain data, built from state in one function ([`build`]).
//!
//! Nothing here touches GTK or AppKit: `render.rs` turns the model into muda items, and the
//! event loop looks up what a click means through the item's id ([`Model::action`]). Keeping the
//! model pure is what lets every line of the menu be a unit test.
//!
//! Write actions (recreate serve, HTTP fallback, Funnel, …) belong to a later issue. Their place is
//! kept: when a diagnosis offers one, the model contains it as a **disabled** item labelled
//! "(coming soon)" carrying [`Action::Write`]; flipping [`WRITE_ACTIONS_ENABLED`] enables them.

use std::path::PathBuf;

use chrono::Datelike;

use crate::config::IconStyle;
use crate::diagnosis::{Cause, CheckStatus, Diagnosis, Fix, FixId, Health};
use crate::tray::history::Entry;
use crate::tray::state::{View, Wall};

/// The write actions are not implemented yet: shown, disabled, "(coming soon)".
pub const WRITE_ACTIONS_ENABLED: bool = false;

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
    /// A state-changing fix (later issue).
    Write(FixId),
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
    pub now: Wall,
}

/// Builds the menu. The one place that decides what the menu says.
pub fn build(input: Input<'_>) -> Model {
    let Input {
        view,
        history,
        settings,
        message,
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
            clip(&format!("⚠ Config file unusable, using defaults: {p}")),
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

    // 4. Fixes for the current cause, first one first, then the report.
    let mut fixes: Vec<Node> = Vec::new();
    if let Some(fix) = &view.offer_recreate {
        fixes.extend(fix_items("offer", fix, true));
    }
    if let Some(d) = d
        && d.health != Health::Green
    {
        for (i, fix) in d.fixes.iter().enumerate() {
            fixes.extend(fix_items(&format!("fix.{i}"), fix, false));
        }
    }
    items.push(Node::Separator);
    items.extend(fixes);
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
        children: settings_items(settings, d),
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
        Cause::CertPending => "Waiting for the first certificate",
        Cause::CertIssuanceFailing => "Certificate issuance is failing",
        Cause::CertInvalid => "The certificate is not valid",
        Cause::BackendDown => "Your app behind serve is down",
        Cause::BackendNotResponding => "Your app behind serve does not respond",
        Cause::CertExpiring => "The certificate expires soon",
        Cause::ControlUnreachable => "Control server unreachable",
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

fn is_write(id: FixId) -> bool {
    matches!(
        id,
        FixId::RecreateServe
            | FixId::ConfigureServe
            | FixId::ServeHttps
            | FixId::HttpFallback
            | FixId::Funnel
    )
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

/// The menu items for one fix.
fn fix_items(prefix: &str, fix: &Fix, offer: bool) -> Vec<Node> {
    let id = format!("{prefix}.{}", fix.id);
    if is_write(fix.id) {
        let mut out = vec![Node::Item {
            id: id.clone(),
            label: if WRITE_ACTIONS_ENABLED {
                write_label(fix)
            } else {
                format!("{} (coming soon)", write_label(fix))
            },
            enabled: WRITE_ACTIONS_ENABLED,
            action: Some(Action::Write(fix.id)),
        }];
        // Until the write actions exist, the command is the next best thing.
        if let Some(cmd) = &fix.command
            && offer
        {
            out.push(Node::act(
                format!("{id}.copy"),
                "Copy recreate-serve command",
                Action::Copy {
                    what: "recreate-serve command".into(),
                    text: cmd.clone(),
                },
            ));
        }
        return out;
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

fn settings_items(s: &SettingsView, d: Option<&Diagnosis>) -> Vec<Node> {
    let mut out = Vec::new();

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
    out
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

    fn input<'a>(v: &'a View, h: &'a [Entry], s: &'a SettingsView) -> Input<'a> {
        Input {
            view: v,
            history: h,
            settings: s,
            message: None,
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
            .position(|x| *x == "Serve over plain HTTP instead… (coming soon)")
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
        // Reserved write action: in the model, disabled, does nothing yet.
        assert!(matches!(
            m.find("fix.2.http_fallback"),
            Some(Node::Item {
                enabled: false,
                action: Some(Action::Write(FixId::HttpFallback)),
                ..
            })
        ));
        assert_eq!(m.action("fix.2.http_fallback"), None);
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
        assert!(labels(&m)[2].starts_with("⚠ Config file unusable"));
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
        assert!(l.contains(&"Recreate serve… (coming soon)"));
        assert_eq!(
            m.action("offer.recreate_serve.copy"),
            Some(&Action::Copy {
                what: "recreate-serve command".into(),
                text: "tailscale serve reset && tailscale serve --bg 18080".into()
            })
        );
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
}
