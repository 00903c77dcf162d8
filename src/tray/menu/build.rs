//! The status part of the menu and the fixes: headline and cause sentence, the check lines (each
//! a submenu explaining it), "Diagnose now", the fixes for the current cause, then (when green)
//! "Open https://…/" for each served endpoint and "Copy URL", the serve actions that apply, the
//! report and the history. Each section is a function of the state it shows; `menu::build`
//! stacks them.

use crate::diagnosis::{
    Cause, Check, CheckStatus, Diagnosis, EndpointHost, EndpointKind, Fix, FixId, Health, help,
};
use crate::fix::offer;
use crate::tray::history::Entry;
use crate::tray::menu::model::{MenuAction, Node, UiAction};
use crate::tray::menu::text::{clip, when, wrap};
use crate::tray::view::{
    ActionsView, MonitorCmd, SettingsView, View, Wall, WorkerAction, WriteKind,
};

/// Width of the wrapped cause sentence under the headline.
pub(super) const SUMMARY_WIDTH: usize = 60;

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

/// Headline, cause sentence, "since", and the lines about the config, the watch and messages.
pub fn status(input: &Input<'_>) -> Vec<Node> {
    let Input {
        view,
        settings,
        message,
        now,
        ..
    } = *input;
    let mut items = vec![Node::info("status.headline", headline(view))];
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
            MonitorCmd::OpenConfig,
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
    items
}

/// One line per check, after a separator (nothing before the first result). Each line opens
/// what the check means ([`help`]), so a red line explains itself without the README.
pub fn checks(view: &View) -> Vec<Node> {
    let mut items = Vec::new();
    if let Some(d) = &view.diagnosis
        && !d.checks.is_empty()
    {
        items.push(Node::Separator);
        for c in &d.checks {
            items.push(check_help(c));
        }
    }
    items
}

/// A check's submenu: what it looks at, what its failure means, the fix, and the README.
fn check_help(c: &Check) -> Node {
    let id = format!("check.{}", c.id);
    let h = c.id.help();
    Node::sub(
        id.clone(),
        clip(&check_line(c)),
        vec![
            Node::info(format!("{id}.looks"), format!("Looks at: {}", h.looks_at)),
            Node::info(
                format!("{id}.failing"),
                format!("Failing means: {}", h.failing),
            ),
            Node::info(format!("{id}.fix"), format!("Fix: {}", h.fix)),
            Node::act(
                format!("{id}.more"),
                "Read more…",
                MonitorCmd::Open {
                    url: help::readme_url(),
                    admin: false,
                },
            ),
        ],
    )
}

/// The HTTPS URLs of this node that answered, the primary one first: its own web endpoints
/// that passed, and `Diagnosis::url` even when the endpoint list is empty.
pub(super) fn served_urls(d: &Diagnosis) -> Vec<String> {
    let mut urls: Vec<String> = d.url.iter().cloned().collect();
    for e in &d.endpoints {
        let ours = e.kind == EndpointKind::Web && e.host == EndpointHost::ThisNode;
        if ours
            && e.status == CheckStatus::Pass
            && e.url.starts_with("https://")
            && !urls.contains(&e.url)
        {
            urls.push(e.url.clone());
        }
    }
    urls
}

/// When green: "Open https://…/" for each served URL and "Copy URL" for the primary one.
fn open_urls(view: &View) -> Vec<Node> {
    let Some(d) = view
        .diagnosis
        .as_ref()
        .filter(|d| d.health == Health::Green && view.health == Some(Health::Green))
    else {
        return Vec::new();
    };
    let urls = served_urls(d);
    let mut items: Vec<Node> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            Node::act(
                format!("open.{i}"),
                clip(&format!("Open {url}")),
                MonitorCmd::Open {
                    url: url.clone(),
                    admin: false,
                },
            )
        })
        .collect();
    if let Some(primary) = urls.first() {
        items.push(Node::act(
            "url.copy",
            "Copy URL",
            UiAction::Copy {
                what: "URL".into(),
                text: primary.clone(),
            },
        ));
    }
    items
}

/// "✓ Title: evidence", one check's line (the menu clips it).
pub(super) fn check_line(c: &Check) -> String {
    if c.detail.is_empty() {
        format!("{} {}", c.status.symbol(), c.title)
    } else {
        format!("{} {}: {}", c.status.symbol(), c.title, c.detail)
    }
}

/// A health as the check symbol of the same colour ("…" before any result).
pub(super) fn health_symbol(h: Option<Health>) -> &'static str {
    match h {
        Some(Health::Green) => CheckStatus::Pass.symbol(),
        Some(Health::Yellow) => CheckStatus::Warn.symbol(),
        Some(Health::Red) => CheckStatus::Fail.symbol(),
        Some(Health::Gray) => CheckStatus::Skip.symbol(),
        None => CheckStatus::Pending.symbol(),
    }
}

/// "Diagnose now", or the line saying a run is on.
pub fn diagnose(view: &View) -> Node {
    if view.checking {
        Node::info("diagnose", "Diagnosing…")
    } else {
        Node::act("diagnose", "Diagnose now", MonitorCmd::DiagnoseNow)
    }
}

/// The fixes for the current cause, first one first, then (green only, so they never push a
/// fix down) the served URLs, the serve actions the fixes did not already offer, and the report.
pub fn fixes(view: &View, actions: &ActionsView) -> Vec<Node> {
    let write_ok = !actions.busy();
    let mut fixes: Vec<Node> = Vec::new();
    if let Some(fix) = &view.offer_recreate {
        fixes.push(fix_item("offer", fix, write_ok));
    }
    if let Some(d) = &view.diagnosis
        && d.health != Health::Green
    {
        for (i, fix) in d.fixes.iter().enumerate() {
            fixes.push(fix_item(&format!("fix.{i}"), fix, write_ok));
        }
    }
    let offered: Vec<WriteKind> = fixes
        .iter()
        .filter_map(|n| match n {
            Node::Item {
                action: Some(MenuAction::Worker(WorkerAction::Write(k))),
                ..
            } => Some(*k),
            _ => None,
        })
        .collect();
    fixes.extend(open_urls(view));
    if let Some(more) = more_actions(view, actions, &offered) {
        fixes.push(more);
    }
    fixes.push(Node::act_if(
        view.diagnosis.is_some() && !view.checking,
        "report.copy",
        "Copy report (Markdown)",
        UiAction::CopyReport,
    ));
    fixes
}

/// The history submenu, newest first.
pub fn history(history: &[Entry], now: Wall) -> Node {
    let mut hist: Vec<Node> = history
        .iter()
        .rev()
        .enumerate()
        .map(|(i, e)| {
            // An entry whose health this version cannot read is shown as unknown.
            let sym = health_symbol(Some(e.health().unwrap_or(Health::Gray)));
            Node::info(
                format!("history.{i}"),
                format!(
                    "{}  {sym} {}",
                    when(e.at, now),
                    e.cause().map(Cause::headline).unwrap_or(e.summary.as_str())
                ),
            )
        })
        .collect();
    if hist.is_empty() {
        hist.push(Node::info("history.empty", "No changes yet"));
    }
    Node::sub("history", "History", hist)
}

/// "Serve healthy — https://…" or the cause in one short sentence.
fn headline(view: &View) -> String {
    match (view.health, view.cause) {
        (Some(Health::Green), _) => match &view.url {
            Some(url) => format!("Serve healthy — {}", url.trim_end_matches('/')),
            None => "Serve healthy".to_string(),
        },
        (Some(_), Some(cause)) => cause.headline().to_string(),
        _ => "Checking…".to_string(),
    }
}

/// The label of a fix that is a write action: it opens the plan, hence the ellipsis.
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

/// The menu item for one fix; write actions are enabled when `write_ok` (none in progress).
fn fix_item(prefix: &str, fix: &Fix, write_ok: bool) -> Node {
    let id = format!("{prefix}.{}", fix.id);
    if let Some(kind) = offer::write_action(fix.id).as_ref().and_then(WriteKind::of) {
        return Node::act_if(write_ok, id, write_label(fix), WorkerAction::Write(kind));
    }
    let open = |url: &String, admin| MonitorCmd::Open {
        url: url.clone(),
        admin,
    };
    let copy = |what: &str, cmd: &String| UiAction::Copy {
        what: what.into(),
        text: cmd.clone(),
    };
    match (fix.id, &fix.url, &fix.command) {
        (FixId::OpenAdminDns, Some(url), _) => {
            Node::act(id, "Open admin console (DNS)…", open(url, true))
        }
        (FixId::SshTunnel, _, Some(cmd)) => Node::act(
            id,
            "Copy SSH tunnel command",
            copy("SSH tunnel command", cmd),
        ),
        (_, Some(url), _) => Node::act(
            id,
            clip(&format!("Open: {}…", fix.title)),
            open(url, fix.id == FixId::ApproveMachine),
        ),
        (_, None, Some(cmd)) => Node::act(
            id,
            clip(&format!("Copy command: {}", fix.title)),
            copy("command", cmd),
        ),
        (_, None, None) => Node::info(id, fix.title.clone()),
    }
}

/// "Serve actions": the write actions that apply under the current cause ([`offer`] decides)
/// and that the cause's own fixes did not already offer.
fn more_actions(view: &View, a: &ActionsView, offered: &[WriteKind]) -> Option<Node> {
    let cause = view.cause?;
    let newest = a.newest_backup.as_ref().map(|p| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let kids: Vec<Node> = offer::serve_actions(cause, newest.is_some())
        .iter()
        .filter_map(WriteKind::of)
        .filter(|k| !offered.contains(k))
        .map(|kind| {
            let (id, label) = match kind {
                WriteKind::Recreate { .. } => ("recreate", "Recreate serve…".to_string()),
                WriteKind::FunnelOn => (
                    "funnel_on",
                    "Turn on Funnel (public on the internet)…".to_string(),
                ),
                WriteKind::FunnelOff => {
                    ("funnel_off", "Turn off Funnel (tailnet only)…".to_string())
                }
                WriteKind::Restore => (
                    "restore",
                    clip(&format!(
                        "Restore last backup… ({})",
                        newest.as_deref().unwrap_or("")
                    )),
                ),
                WriteKind::HttpFallback => (
                    "http_fallback",
                    "Serve over plain HTTP instead…".to_string(),
                ),
            };
            Node::act_if(
                !a.busy(),
                format!("more.{id}"),
                label,
                WorkerAction::Write(kind),
            )
        })
        .collect();
    (!kids.is_empty()).then(|| Node::sub("more", "Serve actions", kids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tray::menu::build;
    use crate::tray::menu::tests::*;
    use crate::tray::state::tests::{diag, wall};

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
            Some(&MenuAction::Monitor(MonitorCmd::Open {
                url: "https://login.tailscale.com/admin/dns".into(),
                admin: true
            }))
        );
        assert_eq!(
            m.action("fix.1.ssh_tunnel"),
            Some(&MenuAction::Ui(UiAction::Copy {
                what: "SSH tunnel command".into(),
                text: "ssh -N -L 18080:127.0.0.1:18080 me@laptop.tail1234.ts.net".into()
            }))
        );
        // Write actions are enabled and ask for their plan first.
        assert_eq!(
            m.action("fix.2.http_fallback"),
            Some(&MenuAction::Worker(WorkerAction::Write(
                WriteKind::HttpFallback
            )))
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
            Some(&MenuAction::Monitor(MonitorCmd::Open {
                url: "https://login.tailscale.com/f/serve?node=abc".into(),
                admin: true
            }))
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
            Some(&MenuAction::Worker(WorkerAction::Write(
                WriteKind::Recreate { keep_others: false }
            )))
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
    fn the_cause_sentence_wraps_under_the_headline() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert!(
            m.find("status.summary.0").is_none(),
            "healthy needs no explanation"
        );
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
            Some(&MenuAction::Worker(WorkerAction::Write(
                WriteKind::FunnelOff
            )))
        );
    }
}
