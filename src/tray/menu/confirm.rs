//! The confirmation section: the write action in progress, shown in the menu itself (tao has no
//! dialogs). While a plan is read, a line and "Cancel"; then the plan's exact commands, what
//! they remove, where the backup goes, "Run these commands" and "Cancel"; while it runs, one
//! line; afterwards the outcome with the backup and the consent page.

use crate::fix::Outcome;
use crate::tray::menu::model::Node;
use crate::tray::menu::text::{MAX_LABEL, clip, tilde, wrap, wrap_hard};
use crate::tray::view::{ActionsView, MonitorCmd, Phase, WorkerAction, WriteKind};

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
                WorkerAction::ConfirmWrite,
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

#[cfg(test)]
mod tests {
    use crate::diagnosis::Cause;
    use crate::fix::Outcome;
    use crate::tray::menu::tests::*;
    use crate::tray::menu::{MenuAction, Node, build};
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
        assert_eq!(
            m.action("write.run"),
            Some(&MenuAction::Worker(WorkerAction::ConfirmWrite))
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
