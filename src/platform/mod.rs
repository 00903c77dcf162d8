//! Everything that differs between operating systems, behind one small interface of plain
//! functions and data, so no other room needs a `cfg`.
//!
//! The lowest floor: it uses no other module of the crate (config builds on it).
//!
//! - `os`: the one place that chooses. `macos.rs` on macOS, `linux.rs` on Linux and the other
//!   unixes with an XDG desktop. Both define the same items; a new platform is one more file with
//!   them, and its condition in the `cfg_attr`s below.
//! - `unix`: what macOS and Linux share because both are unixes (file modes, the uid, process
//!   groups, signals). A platform that is not a unix would choose its own version here too.
//! - [`login_item`]: launch at login, with the file formats of every platform compiled and tested
//!   everywhere; only the calls into the system are per platform.
//! - [`osascript`]: the AppleScript text of a macOS notification, tested everywhere.

#[cfg_attr(target_os = "macos", path = "macos.rs")]
#[cfg_attr(not(target_os = "macos"), path = "linux.rs")]
mod os;

pub mod login_item;
pub mod osascript;
mod unix;

use std::path::{Path, PathBuf};

use anyhow::anyhow;

pub use login_item::{LoginItem, LoginItemState};
pub use unix::{
    create_new_private_file, create_private_dir, is_executable, is_socket, kill_process_group,
    lead_new_process_group, make_world_readable, quit_signal, uid,
};

/// Which operating system this build is for, as data: for text that names the system's own
/// tools (a fix's commands) and for choosing between per-OS data sets that are tested everywhere
/// (where tailscaled's LocalAPI may be). Behaviour that differs belongs in a function here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    MacOs,
    Linux,
    Other,
}

impl Os {
    pub fn current() -> Os {
        os::OS
    }
}

/// A file of CA certificates that is part of the system's trust store, where there is one
/// (Linux: Debian's `/etc/ssl/certs/ca-certificates.crt` and the like; macOS: none). A
/// certificate that chains to it is trusted by the whole store; one that does not may still be
/// trusted by the rest of the store.
pub fn system_ca_bundle() -> Option<PathBuf> {
    os::ca_bundle()
}

/// Whether the tray icon can be drawn as a template image (monochrome, tinted by the menu bar).
pub const TEMPLATE_ICONS: bool = os::TEMPLATE_ICONS;

/// Where Serve Doctor keeps things. Every path can be redirected for tests through the usual
/// `HOME` / `XDG_*` variables, which `directories` honours.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
    pub logs: PathBuf,
    /// For the single-instance lock and other per-session files.
    pub runtime: PathBuf,
}

impl Dirs {
    /// This platform's places for this user; `None` without a home directory.
    pub fn discover() -> Option<Dirs> {
        Some(os::dirs(&directories::BaseDirs::new()?))
    }

    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.json")
    }
}

#[cfg(feature = "tray")]
/// Shows a desktop notification with buttons `actions` (`(id, label)`) where the platform has
/// them, and returns the id of the one clicked (`None`: closed, expired, or no buttons here).
/// Blocks, with actions until the notification goes away (a D-Bus round trip, then its
/// signals; a child process on macOS): call it off the UI thread, on a thread that may wait.
/// Best effort: the caller logs a failure, which is never fatal.
pub fn notify(title: &str, body: &str, actions: &[(&str, &str)]) -> anyhow::Result<Option<String>> {
    os::notify(title, body, actions)
}

#[cfg(feature = "tray")]
/// Asks the user to confirm a write action in the system's own dialog: `title`, then `body`
/// (the commands, what they replace). Resolves to `true` only for the button that runs it;
/// Cancel is the default button, and closing the dialog cancels. It never blocks the thread
/// that awaits it, nor the UI thread: on Linux the dialog lives in GTK's main context, on
/// macOS it is a system alert shown from a thread of its own.
pub fn confirm(title: String, body: String) -> impl Future<Output = bool> {
    os::confirm(title, body)
}

/// What a process says about itself on a `/metrics` page (the `process_*` metrics); `None`
/// where this platform does not tell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

/// This process's [`ProcessStats`], read now (a few system calls, no child process).
pub fn process_stats() -> ProcessStats {
    let (cpu_seconds, open_fds, max_fds) = unix::process_usage();
    ProcessStats {
        cpu_seconds,
        resident_bytes: os::resident_bytes(),
        open_fds,
        max_fds,
    }
}

/// Shows `path` in the file manager: macOS selects it in Finder; elsewhere its directory opens
/// (there is no portable "select this file"). A path that does not exist yet (no log written so
/// far) falls back to its nearest existing parent. Spawns a process and may take a moment: call
/// it off the UI thread.
pub fn reveal(path: &Path) -> anyhow::Result<()> {
    let target = path
        .ancestors()
        .find(|p| p.exists())
        .ok_or_else(|| anyhow!("{} does not exist", path.display()))?;
    os::reveal(target)
}

/// Checks that a tray icon can exist here (a display, the tray library), so the user gets a
/// sentence instead of a GUI toolkit's panic.
pub fn tray_preflight() -> Result<(), String> {
    os::tray_preflight()
}

#[cfg(feature = "tray")]
/// Makes the app a menu-bar app where the system distinguishes one (macOS: no Dock icon, no app
/// menu, no focus stolen at launch). Call before the loop runs.
pub fn menu_bar_only<T: 'static>(event_loop: &mut tao::event_loop::EventLoop<T>) {
    os::menu_bar_only(event_loop);
}

#[cfg(feature = "tray")]
/// The builder with the icon, as a template image when `template` and [`TEMPLATE_ICONS`].
pub fn with_icon(
    b: tray_icon::TrayIconBuilder,
    icon: tray_icon::Icon,
    template: bool,
) -> tray_icon::TrayIconBuilder {
    os::with_icon(b, icon, template)
}

#[cfg(feature = "tray")]
/// Replaces the icon, as a template image when `template` and [`TEMPLATE_ICONS`].
pub fn set_icon(
    tray: &tray_icon::TrayIcon,
    icon: tray_icon::Icon,
    template: bool,
) -> tray_icon::Result<()> {
    os::set_icon(tray, icon, template)
}

/// The command that runs `program args…` again inside the user's login session, for a GUI
/// binary that could not reach its GUI from a bare launchd environment (login item, Finder).
/// `None` where there is no such thing (the first run's result stands).
pub fn in_login_session(program: &Path, args: &[&str]) -> Option<(PathBuf, Vec<String>)> {
    os::in_login_session(program, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_stats_are_read_where_the_platform_has_them() {
        let s = process_stats();
        assert!(s.cpu_seconds.is_some_and(|c| c >= 0.0));
        assert!(s.open_fds.is_some_and(|n| n >= 3), "{s:?}");
        if cfg!(target_os = "linux") {
            assert!(s.resident_bytes.is_some_and(|b| b > 1 << 20), "{s:?}");
        }
    }

    #[test]
    fn reveal_refuses_a_path_with_nothing_behind_it() {
        assert!(reveal(Path::new("")).is_err());
    }
}
