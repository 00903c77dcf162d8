//! The confirmation: the dialog's text ([`dialog`]), and the menu's section for the write action
//! in progress. While a plan is read, a line and "Cancel"; while its dialog is up, a line
//! saying so, "Cancel" (which drops the dialog's answer) and, for a reset that would lose other
//! entries, the plan that keeps them; while it runs, one line; afterwards the outcome with the
//! backup and the consent page.

use crate::fix::Outcome;
use crate::tray::menu::model::Node;
use crate::tray::menu::text::{MAX_LABEL, clip, tilde, wrap};
use crate::tray::view::{ActionsView, Dialog, MonitorCmd, Phase, WorkerAction, WriteKind};

/// The write action in progress: the plan to confirm, the "running" line, or the outcome.
pub fn section(a: &ActionsView) -> Vec<Node> {
    let mut out = Vec::new();
    match &a.phase {
        Phase::Idle => {}
        Phase::Planning(kind) => {
            out.push(Node::info(
                "write.planning",
                format!("{}: reading the current config…", kind.title()),
            ));
            out.push(Node::act(
                "write.cancel",
                "Cancel",
                WorkerAction::CancelWrite,
            ));
            out.push(Node::Separator);
        }
        Phase::Confirm {
            kind,
            plan,
            replanned,
            ..
        } => {
            out.push(Node::info(
                "write.title",
                if *replanned {
                    format!(
                        "{}: the config changed — confirm the new plan in the dialog",
                        kind.title()
                    )
                } else {
                    format!(
                        "{}: confirm in the dialog — nothing has changed yet",
                        kind.title()
                    )
                },
            ));
            let others = plan.removes.len() > 1;
            if *kind == (WriteKind::Recreate { keep_others: false }) && others {
                out.push(Node::act(
                    "write.keep_others",
                    "Keep the other entries instead (show that plan)…",
                    WorkerAction::Write(WriteKind::Recreate { keep_others: true }),
                ));
            }
            out.push(Node::act(
                "write.cancel",
                "Cancel",
                WorkerAction::CancelWrite,
            ));
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
                WorkerAction::Reveal(b.clone()),
            ));
        }
        if let Some(url) = &o.consent_url {
            out.push(Node::act(
                "write.consent",
                "Open consent page…",
                MonitorCmd::Open {
                    url: url.clone(),
                    admin: true,
                },
            ));
        }
        out.push(Node::act(
            "write.dismiss",
            "Dismiss",
            WorkerAction::DismissOutcome,
        ));
        out.push(Node::Separator);
    }
    out
}

/// The confirmation dialog for the plan on show (`None` unless one is): its title names the
/// action, its text the exact commands, what they remove or replace, where the backup goes,
/// Funnel's public URL, the notes and the undo. Dialogs wrap text themselves: nothing is cut.
pub fn dialog(a: &ActionsView) -> Option<Dialog> {
    let Phase::Confirm {
        kind,
        plan,
        url,
        replanned,
    } = &a.phase
    else {
        return None;
    };
    let mut body = Vec::new();
    if *replanned {
        body.push(
            "The serve config changed since you asked: this is the new plan. Nothing has run."
                .to_string(),
        );
        body.push(String::new());
    }
    body.push("Runs:".into());
    body.extend(plan.commands.iter().map(|c| format!("  $ {c}")));
    body.push(String::new());
    if plan.removes.is_empty() {
        body.push("Removes or replaces nothing.".into());
    } else {
        body.push("Removes or replaces:".into());
        body.extend(plan.removes.iter().map(|r| format!("  – {r}")));
    }
    if *kind == WriteKind::FunnelOn
        && let Some(url) = url
    {
        body.push(String::new());
        body.push(format!(
            "Public URL: {url} — anyone on the internet can reach it."
        ));
    }
    body.push(String::new());
    body.push(match &a.backups_dir {
        Some(dir) => format!("Backs up the current config first, to {}", tilde(dir)),
        None => "No data directory: the backup cannot be written, so it will not run.".into(),
    });
    body.extend(plan.notes.iter().map(|n| format!("Note: {n}")));
    body.extend(plan.undo.iter().map(|u| format!("Undo: {u}")));
    Some(Dialog {
        title: format!("{}?", kind.title()),
        body: body.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use crate::diagnosis::Cause;
    use crate::fix::Outcome;
    use crate::tray::menu::tests::*;
    use crate::tray::menu::{MenuAction, Node, build};

    use super::dialog;
    use crate::tray::state::tests::diag;
    use crate::tray::view::{MonitorCmd, SettingsView, WorkerAction, WriteKind};

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
        assert_eq!(
            m.action("write.cancel"),
            Some(&MenuAction::Worker(WorkerAction::CancelWrite))
        );
        assert!(write_items(&m).iter().all(|(_, on)| !on));

        // While the dialog is up: a line saying so, Cancel, and no plan lines or Run item.
        let a = confirming();
        let m = build(with_actions(input(&v, &[], &s), &a));
        let l = labels(&m);
        let at = |x: &str| {
            l.iter()
                .position(|y| *y == x)
                .unwrap_or_else(|| panic!("{x} in {l:#?}"))
        };
        let title = at("Recreate serve: confirm in the dialog — nothing has changed yet");
        assert!(at("Diagnose now") < title, "the line follows Diagnose now");
        assert!(
            title < at("Open admin console (DNS)…"),
            "…and leads the fixes"
        );
        assert!(title < at("Cancel"));
        assert!(
            !l.iter()
                .any(|x| x.contains("$ tailscale") || *x == "Run these commands")
        );
        assert_eq!(
            m.action("write.cancel"),
            Some(&MenuAction::Worker(WorkerAction::CancelWrite))
        );
        // Other entries would be lost: offer the plan that keeps them.
        assert_eq!(
            m.action("write.keep_others"),
            Some(&MenuAction::Worker(WorkerAction::Write(
                WriteKind::Recreate { keep_others: true }
            )))
        );
    }

    #[test]
    fn the_dialog_names_the_commands_the_removals_the_backup_and_the_undo() {
        assert_eq!(dialog(&NO_ACTIONS), None, "no plan on show, no dialog");
        let d = dialog(&confirming()).unwrap();
        assert_eq!(d.title, "Recreate serve?");
        let lines: Vec<&str> = d.body.lines().collect();
        let at = |x: &str| {
            lines
                .iter()
                .position(|y| *y == x)
                .unwrap_or_else(|| panic!("{x} in {lines:#?}"))
        };
        for line in [
            "Runs:",
            "  $ tailscale serve reset",
            "  $ tailscale serve --bg --https=443 http://127.0.0.1:18080",
            "Removes or replaces:",
            "  – https://box.tail1234.ts.net/ → proxy http://127.0.0.1:18080",
            "  – https://box.tail1234.ts.net:8443/docs → path /srv/docs",
            "  – Funnel (public access) for https://box.tail1234.ts.net:443",
            "Note: The other entries listed are NOT put back",
            "Undo: serve-doctor fix restore --yes",
        ] {
            at(line);
        }
        assert!(at("Runs:") < at("Removes or replaces:"));
        assert!(
            lines
                .iter()
                .any(|x| x.starts_with("Backs up the current config first, to ")
                    && x.ends_with("serve-doctor/backups")),
            "{lines:#?}"
        );
        assert!(!d.body.contains("Public URL"), "only Funnel names one");
    }

    #[test]
    fn a_long_command_is_given_whole_and_funnel_names_its_public_url() {
        let mut a = NO_ACTIONS.clone();
        a.pick(WriteKind::FunnelOn);
        let mut r = crate::tray::actions::tests::planned();
        let long = format!(
            "tailscale funnel --bg --https=443 http://127.0.0.1:18080/{}",
            "x".repeat(90)
        );
        r.plan.commands = vec![long.clone()];
        r.url = Some("https://box.tail1234.ts.net/".into());
        assert!(a.planned(WriteKind::FunnelOn, Ok(r)), "a plan asks");
        let d = dialog(&a).unwrap();
        assert_eq!(d.title, "Turn on Funnel?");
        assert!(d.body.lines().any(|l| l == format!("  $ {long}")));
        assert!(d.body.contains(
            "Public URL: https://box.tail1234.ts.net/ — anyone on the internet can reach it."
        ));

        // The config changed under the confirmed plan: the new one says so first.
        a.confirm();
        let mut changed = crate::tray::actions::tests::planned();
        changed.plan.removes.push("https://box/extra".into());
        assert!(a.finished(
            WriteKind::FunnelOn,
            crate::tray::actions::RunResult::Changed(changed)
        ));
        let d = dialog(&a).unwrap();
        assert!(
            d.body
                .starts_with("The serve config changed since you asked")
        );
        let m = build(with_actions(
            input(&view(https_off()), &[], &SettingsView::default()),
            &a,
        ));
        assert_eq!(
            m.find("write.title").and_then(Node::label),
            Some("Turn on Funnel: the config changed — confirm the new plan in the dialog")
        );
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
            Some(&MenuAction::Worker(WorkerAction::Reveal(
                "/home/me/.local/share/serve-doctor/backups/serve-1.json".into()
            )))
        );
        assert!(m.find("write.consent").is_none());
        assert_eq!(
            m.action("write.dismiss"),
            Some(&MenuAction::Worker(WorkerAction::DismissOutcome))
        );
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
            Some(&MenuAction::Monitor(MonitorCmd::Open {
                url: "https://login.tailscale.com/f/serve?node=abc".into(),
                admin: true
            }))
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
}
