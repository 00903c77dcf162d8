//! Fixtures for the menu's tests, and the tests of the menu as a whole (its order, unique ids,
//! clipped lines); each section's own tests sit in its file.

use crate::diagnosis::{Cause, CheckId, Diagnosis, Fix, FixId};
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
