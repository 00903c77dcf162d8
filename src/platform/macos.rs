//! macOS: the app's folders under `~/Library`, SMAppService login items, `osascript`
//! notifications, the confirmation dialog (a system alert through rfd), Finder, a menu-bar-only
//! app with template icons, and `launchctl asuser` for the Tailscale GUI binary.
//!
//! Notifications stay on `osascript`, without buttons: UNUserNotificationCenter
//! (objc2-user-notifications) could send them safely, but a click only reaches an app through
//! the center's delegate, an Objective-C class of our own, and declaring one (`define_class!`,
//! the protocol's `unsafe impl`) needs `unsafe`, which the crate root forbids. Buttons that could
//! never reach the app would be worse than none.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use directories::BaseDirs;

use super::login_item::LoginItem;
use super::{Dirs, Os, osascript};

pub const OS: Os = Os::MacOs;

pub const TEMPLATE_ICONS: bool = true;

/// `~/Library/Application Support/Serve Doctor` for config and data, `~/Library/Logs/Serve Doctor`
/// (where Console looks), the caches folder for per-session files.
pub fn dirs(base: &BaseDirs) -> Dirs {
    let app = "Serve Doctor";
    let home = base.home_dir();
    Dirs {
        config: base.config_dir().join(app),
        data: base.data_dir().join(app),
        logs: home.join("Library/Logs").join(app),
        runtime: base.cache_dir().join(app),
    }
}

/// From `Serve Doctor.app`, SMAppService's main-app item (with a LaunchAgent as its fallback);
/// a bare binary has no bundle to register, so a LaunchAgent.
pub fn login_item(exe: &Path, base: &BaseDirs) -> LoginItem {
    let agent = LoginItem::launch_agent(base.home_dir().join("Library/LaunchAgents"), exe);
    match super::login_item::bundle_of(exe) {
        Some(_) => LoginItem::main_app(agent),
        None => agent,
    }
}

/// The SMAppService calls for the running bundle's main-app login item (macOS 13+), which shows
/// up in System Settings → General → Login Items.
pub mod main_app {
    use anyhow::{Result, anyhow};
    use smappservice_rs::{AppService, ServiceManagementError, ServiceStatus, ServiceType};

    use crate::platform::LoginItemState;

    fn main_app() -> AppService {
        AppService::new(ServiceType::MainApp)
    }

    pub fn status() -> LoginItemState {
        match main_app().status() {
            ServiceStatus::Enabled => LoginItemState::Enabled,
            ServiceStatus::RequiresApproval => LoginItemState::RequiresApproval,
            ServiceStatus::NotRegistered | ServiceStatus::NotFound => LoginItemState::Disabled,
        }
    }

    /// Registers the running bundle and reports the state that results.
    pub fn register() -> Result<LoginItemState> {
        match main_app().register() {
            Ok(()) | Err(ServiceManagementError::AlreadyRegistered) => Ok(status()),
            Err(e) => Err(anyhow!("cannot register the login item: {e}")),
        }
    }

    pub fn unregister() -> Result<()> {
        let app = main_app();
        if matches!(
            app.status(),
            ServiceStatus::NotRegistered | ServiceStatus::NotFound
        ) {
            return Ok(());
        }
        app.unregister()
            .map_err(|e| anyhow!("cannot remove the login item: {e}"))
    }

    pub fn open_login_items() {
        AppService::open_system_settings_login_items();
    }
}

#[cfg(feature = "tray")]
/// `osascript -e 'display notification …'` as a bounded child process, so the crate needs no
/// Objective-C build step (notify-rust on macOS pulls in mac-notification-sys, which compiles
/// Objective-C and breaks the cross-check from Linux). The text is passed as an argument without
/// a shell and escaped as an AppleScript string literal.
/// `display notification` has no buttons and tells nobody about a click, so `actions` are not
/// shown and the answer is always `None`.
pub fn notify(title: &str, body: &str, actions: &[(&str, &str)]) -> anyhow::Result<Option<String>> {
    let _ = actions;
    let mut child = Command::new("/usr/bin/osascript")
        .args(osascript::osascript_args(title, body))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting osascript")?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(None);
            }
            bail!("osascript failed: {status}");
        }
        if start.elapsed() > osascript::TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("osascript took longer than {:?}", osascript::TIMEOUT);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(feature = "tray")]
/// Without a parent window rfd shows a `CFUserNotificationDisplayAlert` from a thread of its own:
/// a system alert that comes to the front although this agent app has no Dock icon and no
/// window, and blocks neither AppKit's main thread nor this task. Its first button is the
/// default one (Return), so that is Cancel; the answer names the button by its label.
pub async fn confirm(title: String, body: String) -> bool {
    const RUN: &str = "Run these commands";
    let answer = rfd::AsyncMessageDialog::new()
        .set_level(rfd::MessageLevel::Warning)
        .set_title(title)
        .set_description(body)
        .set_buttons(rfd::MessageButtons::OkCancelCustom(
            "Cancel".into(),
            RUN.into(),
        ))
        .show()
        .await;
    answer == rfd::MessageDialogResult::Custom(RUN.into())
}

/// The system's trust is the keychains (Security.framework, through the platform verifier): no
/// file speaks for it.
pub fn ca_bundle() -> Option<PathBuf> {
    None
}

/// The current resident size needs Mach calls that no pure binding here offers; the exporter
/// leaves the metric out rather than report the peak as if it were now.
pub fn resident_bytes() -> Option<u64> {
    None
}

/// Selects `target` in Finder (`open -R`).
pub fn reveal(target: &Path) -> anyhow::Result<()> {
    let status = Command::new("/usr/bin/open")
        .arg("-R")
        .arg(target)
        .status()
        .context("cannot run open -R")?;
    if !status.success() {
        bail!("open -R {} failed ({status})", target.display());
    }
    Ok(())
}

/// AppKit always has a menu bar to live in.
pub fn tray_preflight() -> Result<(), String> {
    Ok(())
}

#[cfg(feature = "tray")]
pub fn menu_bar_only<T: 'static>(event_loop: &mut tao::event_loop::EventLoop<T>) {
    use tao::platform::macos::{ActivationPolicy, EventLoopExtMacOS};
    event_loop.set_activation_policy(ActivationPolicy::Accessory);
    event_loop.set_activate_ignoring_other_apps(false);
}

#[cfg(feature = "tray")]
pub fn with_icon(
    b: tray_icon::TrayIconBuilder,
    icon: tray_icon::Icon,
    template: bool,
) -> tray_icon::TrayIconBuilder {
    if template {
        b.with_icon_templated(icon)
    } else {
        b.with_icon(icon)
    }
}

#[cfg(feature = "tray")]
pub fn set_icon(
    tray: &tray_icon::TrayIcon,
    icon: tray_icon::Icon,
    template: bool,
) -> tray_icon::Result<()> {
    if template {
        tray.set_icon_templated(Some(icon))
    } else {
        tray.set_icon(Some(icon))
    }
}

/// `/bin/launchctl asuser <uid> program args…`: the workaround other apps use when the GUI
/// binary, started outside the login session, cannot reach its GUI (docs/TAILSCALE.md#the-cli).
pub fn in_login_session(program: &Path, args: &[&str]) -> Option<(PathBuf, Vec<String>)> {
    let mut again = vec![
        "asuser".to_string(),
        super::uid().to_string(),
        program.to_string_lossy().into_owned(),
    ];
    again.extend(args.iter().map(|a| a.to_string()));
    Some((PathBuf::from("/bin/launchctl"), again))
}
