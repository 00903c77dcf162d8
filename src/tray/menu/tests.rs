//! Fixtures for the menu's tests, and the tests of the menu as a whole (its order, unique ids,
//! clipped lines); each section's own tests sit in its file.

use crate::diagnosis::{
    Cause, CheckId, CheckStatus, Diagnosis, EndpointHost, EndpointKind, EndpointReport, Fix, FixId,
    Health,
};
use crate::fix::Outcome;
use crate::targets::{Kind, Target};
use crate::tray::history::Entry;
use crate::tray::menu::{Input, MenuAction, Model, Node, UiAction, build, text::MAX_LABEL};
use crate::tray::state::tests::{diag, wall};
use crate::tray::view::{
    ActionsView, LastWrite, MonitorCmd, SettingsView, TargetResult, TargetView, View, WorkerAction,
    WriteKind,
};

pub(super) fn view(d: Diagnosis) -> View {
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

/// Another target, a URL named after it.
pub(super) fn target(name: &str, result: Option<TargetResult>) -> TargetView {
    TargetView {
        target: Target {
            name: name.into(),
            kind: Kind::Url(format!("https://{name}.tail1234.ts.net/")),
        },
        result,
        checking: false,
    }
}

pub(super) fn labels(m: &Model) -> Vec<&str> {
    m.items.iter().filter_map(Node::label).collect()
}

pub(super) fn https_off() -> Diagnosis {
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

pub(super) static NO_ACTIONS: std::sync::LazyLock<ActionsView> =
    std::sync::LazyLock::new(|| ActionsView {
        login: Some(Ok(false)),
        backups_dir: Some("/home/me/.local/share/serve-doctor/backups".into()),
        logs_dir: Some("/home/me/.local/state/serve-doctor".into()),
        ..ActionsView::default()
    });

pub(super) fn input<'a>(v: &'a View, h: &'a [Entry], s: &'a SettingsView) -> Input<'a> {
    Input {
        view: v,
        history: h,
        settings: s,
        message: None,
        actions: &NO_ACTIONS,
        now: wall(15, 0, 0),
    }
}

pub(super) fn with_actions<'a>(i: Input<'a>, a: &'a ActionsView) -> Input<'a> {
    Input { actions: a, ..i }
}

/// Every write item in the model and whether it is enabled.
pub(super) fn write_items(m: &Model) -> Vec<(String, bool)> {
    fn walk(nodes: &[Node], out: &mut Vec<(String, bool)>) {
        for n in nodes {
            match n {
                Node::Item {
                    id,
                    enabled,
                    action: Some(MenuAction::Worker(WorkerAction::Write(_))),
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

pub(super) const RECREATE: WriteKind = WriteKind::Recreate { keep_others: false };

pub(super) fn confirming() -> ActionsView {
    let mut a = NO_ACTIONS.clone();
    a.pick(RECREATE);
    a.planned(RECREATE, Ok(crate::tray::actions::tests::planned()));
    a
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
            "Open https://laptop.tail1234.ts.net/",
            "Copy URL",
            "Serve actions",
            "Copy report (Markdown)",
            "History",
            "Settings",
            "Quit Serve Doctor",
        ]
    );
    assert_eq!(
        m.action("diagnose"),
        Some(&MenuAction::Monitor(MonitorCmd::DiagnoseNow))
    );
    assert_eq!(
        m.action("report.copy"),
        Some(&MenuAction::Ui(UiAction::CopyReport))
    );
    assert_eq!(m.action("quit"), Some(&MenuAction::Ui(UiAction::Quit)));
    assert_eq!(
        m.action("status.headline"),
        None,
        "information lines do nothing"
    );
}

#[test]
fn the_arrow_keys_visit_the_enabled_items_in_order() {
    let v = view(https_off());
    let s = SettingsView::default();
    let m = build(input(&v, &[], &s));
    let keys = m.keyboard_order();
    assert_eq!(
        keys[0], "check.tailscale_cli",
        "a check line opens its help"
    );
    let diagnose = keys.iter().position(|k| *k == "diagnose").unwrap();
    assert_eq!(keys[diagnose + 1], "fix.0.open_admin_dns");
    assert!(!keys.contains(&"status.headline"));
    assert_eq!(keys.last(), Some(&"quit"));
}

#[test]
fn ids_are_unique_in_every_state() {
    let mut d = https_off();
    d.fixes.push(d.fixes[1].clone()); // even a repeated fix gets its own id
    let with_targets = View {
        targets: vec![
            target("laptop", Some(Ok(d.clone()))),
            target("site", Some(Err("unreachable".into()))),
            target("phone", None),
        ],
        ..view(d.clone())
    };
    for v in [
        view(d),
        view(diag(Cause::Healthy)),
        View::default(),
        with_targets,
    ] {
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
fn ids_stay_unique_with_a_plan_and_an_outcome() {
    let v = view(https_off());
    let s = SettingsView::default();
    let mut a = confirming();
    a.outcome = Some(LastWrite {
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

fn endpoint(
    url: &str,
    kind: EndpointKind,
    host: EndpointHost,
    status: CheckStatus,
) -> EndpointReport {
    EndpointReport {
        url: url.into(),
        kind,
        handler: "proxy http://127.0.0.1:18080".into(),
        target: None,
        host,
        public: false,
        foreground: false,
        primary: false,
        status,
        summary: String::new(),
        checks: Vec::new(),
    }
}

/// The labels and ids of the items after "Diagnose now", up to the report.
fn actions_after_diagnose(m: &Model) -> Vec<(&str, &str)> {
    m.items
        .iter()
        .skip_while(|n| n.id() != Some("diagnose"))
        .skip(1)
        .filter_map(|n| Some((n.id()?, n.label()?)))
        .take_while(|(id, _)| *id != "report.copy")
        .collect()
}

#[test]
fn green_menu_opens_each_served_url_and_copies_the_primary() {
    let mut d = diag(Cause::Healthy);
    let primary = d.url.clone().unwrap();
    d.endpoints = vec![
        endpoint(
            &primary,
            EndpointKind::Web,
            EndpointHost::ThisNode,
            CheckStatus::Pass,
        ),
        endpoint(
            "https://laptop.tail1234.ts.net:8443/docs/",
            EndpointKind::Web,
            EndpointHost::ThisNode,
            CheckStatus::Pass,
        ),
        // Not offered: it failed, it is not HTTPS, it is not web, it is keyed to another name.
        endpoint(
            "https://laptop.tail1234.ts.net:9443/",
            EndpointKind::Web,
            EndpointHost::ThisNode,
            CheckStatus::Fail,
        ),
        endpoint(
            "http://laptop.tail1234.ts.net:80/",
            EndpointKind::Web,
            EndpointHost::ThisNode,
            CheckStatus::Pass,
        ),
        endpoint(
            "tcp://laptop.tail1234.ts.net:2222",
            EndpointKind::Tcp,
            EndpointHost::ThisNode,
            CheckStatus::Pass,
        ),
        endpoint(
            "https://old.tail1234.ts.net/",
            EndpointKind::Web,
            EndpointHost::OtherNode("old.tail1234.ts.net".into()),
            CheckStatus::Pass,
        ),
    ];
    let v = view(d);
    let s = SettingsView::default();
    let m = build(input(&v, &[], &s));
    assert_eq!(
        actions_after_diagnose(&m),
        vec![
            ("open.0", "Open https://laptop.tail1234.ts.net/"),
            ("open.1", "Open https://laptop.tail1234.ts.net:8443/docs/"),
            ("url.copy", "Copy URL"),
            ("more", "Serve actions"),
        ]
    );
    assert_eq!(
        m.action("open.1"),
        Some(&MenuAction::Monitor(MonitorCmd::Open {
            url: "https://laptop.tail1234.ts.net:8443/docs/".into(),
            admin: false
        }))
    );
    // The same path as "Copy SSH tunnel command": the main thread's clipboard.
    assert_eq!(
        m.action("url.copy"),
        Some(&MenuAction::Ui(UiAction::Copy {
            what: "URL".into(),
            text: primary
        }))
    );
}

#[test]
fn red_menu_leads_with_its_first_fix_and_offers_no_url() {
    let v = view(https_off());
    let s = SettingsView::default();
    let m = build(input(&v, &[], &s));
    let after = actions_after_diagnose(&m);
    assert_eq!(
        after[0],
        ("fix.0.open_admin_dns", "Open admin console (DNS)…")
    );
    assert!(m.find("url.copy").is_none());
    assert!(!m.ids().iter().any(|i| i.starts_with("open.")));
    // A healthy diagnosis the machine does not show yet (the re-check before red) offers none.
    let mut v = view(diag(Cause::Healthy));
    v.health = Some(Health::Red);
    let m = build(input(&v, &[], &s));
    assert!(m.find("url.copy").is_none());
}

#[test]
fn every_check_line_opens_its_explanation() {
    for d in [https_off(), diag(Cause::Healthy)] {
        let v = view(d.clone());
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        for c in &d.checks {
            let id = format!("check.{}", c.id);
            let Some(Node::Sub {
                label, children, ..
            }) = m.find(&id)
            else {
                panic!("{id} is not a submenu")
            };
            assert!(label.contains(c.title));
            let h = c.id.help();
            let lines: Vec<_> = children.iter().filter_map(Node::label).collect();
            assert_eq!(
                lines,
                vec![
                    format!("Looks at: {}", h.looks_at).as_str(),
                    &format!("Failing means: {}", h.failing),
                    &format!("Fix: {}", h.fix),
                    "Read more…",
                ]
            );
            for line in &children[..3] {
                assert!(matches!(
                    line,
                    Node::Item {
                        enabled: false,
                        action: None,
                        ..
                    }
                ));
            }
            assert_eq!(
                m.action(&format!("{id}.more")),
                Some(&MenuAction::Monitor(MonitorCmd::Open {
                    url: crate::diagnosis::help::readme_url(),
                    admin: false
                }))
            );
        }
    }
}

#[test]
fn the_usual_shortcuts_are_on_their_items() {
    use crate::tray::menu::{Key, shortcut};
    let v = view(diag(Cause::Healthy));
    let s = SettingsView::default();
    let m = build(input(&v, &[], &s));
    for (id, key) in [
        ("diagnose", Key::R),
        ("settings.open", Key::Comma),
        ("quit", Key::Q),
        ("report.copy", Key::C),
    ] {
        assert!(m.find(id).is_some(), "no item {id} to carry ⌘{key:?}");
        assert_eq!(shortcut(id), Some(key));
    }
    let with_keys = m
        .ids()
        .into_iter()
        .filter(|i| shortcut(i).is_some())
        .count();
    assert_eq!(with_keys, 4, "one item per shortcut");
}
