//! The Settings submenu: launch at login, backend port, poll interval, notifications, icon
//! style, the config file and the logs. Items the command line or a broken config file pins are
//! shown but disabled.

use crate::config::IconStyle;
use crate::diagnosis::Diagnosis;
use crate::tray::menu::model::Node;
use crate::tray::menu::text::duration_label;
use crate::tray::view::{ActionsView, MonitorCmd, SettingsView, WorkerAction};

/// Poll interval choices offered in Settings (seconds).
pub const INTERVAL_CHOICES: [u64; 5] = [10, 30, 60, 300, 900];

/// The Settings submenu for these settings, the diagnosis on show (it names the automatic
/// port) and the desktop settings' state.
pub fn submenu(s: &SettingsView, d: Option<&Diagnosis>, a: &ActionsView) -> Node {
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
        WorkerAction::SetLaunchAtLogin(!checked),
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
        MonitorCmd::SetPort(None),
    )];
    let pin = s.config_port.or(d.map(|d| d.backend_port));
    if let Some(p) = pin {
        port.push(Node::check(
            "settings.port.pinned",
            format!("Always {p}"),
            editable,
            s.config_port == Some(p),
            MonitorCmd::SetPort(Some(p)),
        ));
    }
    port.push(Node::act(
        "settings.port.edit",
        "Other port: edit the config file…",
        MonitorCmd::OpenConfig,
    ));
    out.push(Node::sub(
        "settings.port",
        format!("Backend port: {effective}"),
        port,
    ));

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
                MonitorCmd::SetInterval(secs),
            )
        })
        .collect();
    out.push(Node::sub(
        "settings.interval",
        format!(
            "Check every: {}{}",
            duration_label(s.interval_secs),
            if s.interval_flag {
                " (from --interval)"
            } else {
                ""
            }
        ),
        interval,
    ));

    // Notifications.
    out.push(Node::check(
        "settings.notifications",
        "Notify when the health changes",
        s.problem.is_none(),
        s.notifications,
        MonitorCmd::SetNotifications(!s.notifications),
    ));

    // Icon style.
    let template_label = if s.template_supported {
        "Monochrome (menu-bar template)"
    } else {
        "Monochrome (macOS only)"
    };
    out.push(Node::sub(
        "settings.icon",
        "Icon style",
        vec![
            Node::check(
                "settings.icon.color",
                "Colour",
                s.problem.is_none(),
                s.icon_style == IconStyle::Color,
                MonitorCmd::SetIconStyle(IconStyle::Color),
            ),
            Node::check(
                "settings.icon.template",
                template_label,
                s.template_supported && s.problem.is_none(),
                s.icon_style == IconStyle::Template,
                MonitorCmd::SetIconStyle(IconStyle::Template),
            ),
        ],
    ));

    out.push(Node::Separator);
    out.push(Node::act(
        "settings.open",
        "Open config file",
        MonitorCmd::OpenConfig,
    ));
    out.push(Node::act_if(
        a.logs_dir.is_some(),
        "settings.logs",
        "Reveal logs",
        WorkerAction::RevealLogs,
    ));
    Node::sub("settings", "Settings", out)
}

#[cfg(test)]
mod tests {
    use crate::diagnosis::Cause;
    use crate::tray::menu::tests::*;
    use crate::tray::menu::{MenuAction, Node, build};
    use crate::tray::state::tests::diag;
    use crate::tray::view::{ActionsView, MonitorCmd, SettingsView, WorkerAction};

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
            Some(&MenuAction::Monitor(MonitorCmd::SetPort(Some(18080))))
        );
        assert!(matches!(
            m.find("settings.interval.30"),
            Some(Node::Check { checked: true, .. })
        ));
        assert_eq!(
            m.action("settings.interval.60"),
            Some(&MenuAction::Monitor(MonitorCmd::SetInterval(60)))
        );
        assert_eq!(
            m.action("settings.notifications"),
            Some(&MenuAction::Monitor(MonitorCmd::SetNotifications(false)))
        );
        assert_eq!(
            m.action("settings.open"),
            Some(&MenuAction::Monitor(MonitorCmd::OpenConfig))
        );
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
        assert_eq!(
            m.action("status.config"),
            Some(&MenuAction::Monitor(MonitorCmd::OpenConfig))
        );
        assert_eq!(m.action("settings.notifications"), None);
        assert_eq!(
            m.action("settings.open"),
            Some(&MenuAction::Monitor(MonitorCmd::OpenConfig))
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
            (
                false,
                true,
                Some(MenuAction::Worker(WorkerAction::SetLaunchAtLogin(true)))
            )
        );
        // Toggled: waits for the read-back, then shows it.
        a.set_login(true);
        assert_eq!(check(&a), (false, false, None));
        a.login_read(Ok(true));
        assert_eq!(
            check(&a),
            (
                true,
                true,
                Some(MenuAction::Worker(WorkerAction::SetLaunchAtLogin(false)))
            )
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
        assert_eq!(
            m.action("settings.logs"),
            Some(&MenuAction::Worker(WorkerAction::RevealLogs))
        );
        a.logs_dir = None;
        let m = build(with_actions(input(&v, &[], &s), &a));
        assert_eq!(m.action("settings.logs"), None);
    }
}
