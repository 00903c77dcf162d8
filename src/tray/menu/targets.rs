//! The other targets' part of the menu: one submenu each, under this node's section, titled
//! with the target's health and headline so the closed menu already says which one is broken.
//! Inside: where it is, the cause sentence (or why it cannot be checked), its check lines, and
//! its own "Diagnose now" and "Copy report".

use crate::tray::menu::build::{SUMMARY_WIDTH, check_line, health_symbol};
use crate::tray::menu::model::{Node, UiAction};
use crate::tray::menu::text::{clip, wrap};
use crate::tray::view::{MonitorCmd, TargetView, View};

/// A separator and one submenu per other target; nothing when there are none.
pub fn sections(view: &View) -> Vec<Node> {
    if view.targets.is_empty() {
        return Vec::new();
    }
    let mut items = vec![Node::Separator];
    items.extend(view.targets.iter().map(section));
    items
}

/// "✗ laptop — HTTPS certificates are off for the tailnet", and what is under it. Ids carry the
/// target's name (unique, and limited to characters that read well in an id).
fn section(t: &TargetView) -> Node {
    let name = &t.target.name;
    let id = format!("target.{name}");
    let mut kids = vec![Node::info(format!("{id}.at"), t.target.describe())];
    for (i, line) in wrap(&t.summary(), SUMMARY_WIDTH, 3).into_iter().enumerate() {
        kids.push(Node::info(format!("{id}.summary.{i}"), line));
    }
    if let Some(d) = t.diagnosis()
        && !d.checks.is_empty()
    {
        kids.push(Node::Separator);
        for c in &d.checks {
            kids.push(Node::info(format!("{id}.check.{}", c.id), check_line(c)));
        }
    }
    kids.push(Node::Separator);
    kids.push(if t.checking {
        Node::info(format!("{id}.diagnose"), "Diagnosing…")
    } else {
        Node::act(
            format!("{id}.diagnose"),
            "Diagnose now",
            MonitorCmd::DiagnoseTarget(name.clone()),
        )
    });
    kids.push(Node::act_if(
        t.diagnosis().is_some() && !t.checking,
        format!("{id}.report"),
        "Copy report (Markdown)",
        UiAction::CopyTargetReport(name.clone()),
    ));
    let title = format!("{} {name} — {}", health_symbol(t.health()), t.headline());
    Node::sub(id, clip(&title), kids)
}

#[cfg(test)]
mod tests {
    use crate::diagnosis::{Cause, Health};
    use crate::tray::menu::tests::*;
    use crate::tray::menu::{MenuAction, Model, Node, UiAction, build};
    use crate::tray::state::tests::diag;
    use crate::tray::view::{MonitorCmd, SettingsView, TargetView, View};

    fn children<'a>(m: &'a Model, id: &str) -> Vec<&'a str> {
        match m.find(id) {
            Some(Node::Sub { children, .. }) => children.iter().filter_map(Node::label).collect(),
            other => panic!("{id}: {other:?}"),
        }
    }

    fn with_targets(targets: Vec<TargetView>) -> View {
        View {
            targets,
            ..view(diag(Cause::Healthy))
        }
    }

    #[test]
    fn each_other_target_is_a_submenu_under_this_nodes_section() {
        let v = with_targets(vec![
            target("laptop", Some(Ok(https_off()))),
            target(
                "site",
                Some(Err(
                    "https://site.tail1234.ts.net/ is not a URL this can read".into(),
                )),
            ),
            target("phone", None),
        ]);
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        let l = labels(&m);
        // This node first, as without targets; the targets after its report, before History.
        assert_eq!(l[0], "Serve healthy — https://laptop.tail1234.ts.net");
        let report = l
            .iter()
            .position(|x| *x == "Copy report (Markdown)")
            .unwrap();
        assert_eq!(
            l[report + 1..report + 4],
            [
                "✗ laptop — HTTPS certificates are off for the tailnet",
                "– site — cannot be checked",
                "… phone — Checking…",
            ]
        );
        assert_eq!(l[report + 4], "History");

        assert_eq!(
            children(&m, "target.laptop"),
            [
                "laptop (https://laptop.tail1234.ts.net/)",
                "HTTPS certificates are off for this tailnet, so serve cannot",
                "get a certificate; enable them in the admin console.",
                "✓ Tailscale reachable: /usr/bin/tailscale 1.80.0",
                "✗ HTTPS certificates on: CertDomains: laptop.tail1234.ts.net",
                "Diagnose now",
                "Copy report (Markdown)",
            ]
        );
        assert_eq!(
            m.action("target.laptop.diagnose"),
            Some(&MenuAction::Monitor(MonitorCmd::DiagnoseTarget(
                "laptop".into()
            )))
        );
        assert_eq!(
            m.action("target.laptop.report"),
            Some(&MenuAction::Ui(UiAction::CopyTargetReport("laptop".into())))
        );

        // One that cannot be checked says why, has no checks and no report, and can be retried.
        assert_eq!(
            children(&m, "target.site"),
            [
                "site (https://site.tail1234.ts.net/)",
                "Cannot be checked: https://site.tail1234.ts.net/ is not a",
                "URL this can read",
                "Diagnose now",
                "Copy report (Markdown)",
            ]
        );
        assert_eq!(m.action("target.site.report"), None);
        assert!(m.action("target.site.diagnose").is_some());
    }

    #[test]
    fn a_target_being_checked_for_the_user_says_so() {
        let mut t = target("laptop", Some(Ok(diag(Cause::Healthy))));
        t.checking = true;
        let v = with_targets(vec![t]);
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert_eq!(
            m.find("target.laptop").and_then(Node::label),
            Some("✓ laptop — Serve healthy")
        );
        assert_eq!(
            m.find("target.laptop.diagnose").and_then(Node::label),
            Some("Diagnosing…")
        );
        assert_eq!(m.action("target.laptop.diagnose"), None);
        assert_eq!(m.action("target.laptop.report"), None);
        assert_eq!(v.worst(), Some(Health::Green));
    }

    #[test]
    fn no_targets_no_section() {
        let v = view(diag(Cause::Healthy));
        let s = SettingsView::default();
        let m = build(input(&v, &[], &s));
        assert!(m.ids().iter().all(|id| !id.starts_with("target.")));
    }
}
