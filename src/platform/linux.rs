//! Linux and the other unixes with an XDG desktop: XDG base directories, an XDG autostart entry,
//! freedesktop notifications over D-Bus (with buttons), the confirmation dialog (GTK 3, through
//! rfd), the AppIndicator tray and its preflight.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use directories::BaseDirs;

use super::login_item::LoginItem;
use super::{Dirs, Os};

pub const OS: Os = if cfg!(target_os = "linux") {
    Os::Linux
} else {
    Os::Other
};

pub const TEMPLATE_ICONS: bool = false;

/// `$XDG_CONFIG_HOME/serve-doctor` (default `~/.config`), the data dir, logs in the state dir
/// (`~/.local/state`), per-session files in `$XDG_RUNTIME_DIR` (else the cache dir).
pub fn dirs(base: &BaseDirs) -> Dirs {
    let app = "serve-doctor";
    let state = base.state_dir().unwrap_or_else(|| base.data_local_dir());
    Dirs {
        config: base.config_dir().join(app),
        data: base.data_dir().join(app),
        logs: state.join(app),
        runtime: base
            .runtime_dir()
            .unwrap_or_else(|| base.cache_dir())
            .join(app),
    }
}

/// An XDG autostart entry; `config_dir` is `$XDG_CONFIG_HOME` when set (and absolute), else
/// `$HOME/.config`.
pub fn login_item(exe: &Path, base: &BaseDirs) -> LoginItem {
    LoginItem::xdg(base.config_dir().join("autostart"), exe)
}

/// There is no system-managed login item here; [`login_item`] never asks for one, so these only
/// keep [`LoginItem`]'s code the same on every platform.
pub mod main_app {
    use anyhow::{Result, anyhow};

    use crate::platform::LoginItemState;

    pub fn status() -> LoginItemState {
        LoginItemState::Disabled
    }

    pub fn register() -> Result<LoginItemState> {
        Err(anyhow!("this platform has no system login items"))
    }

    pub fn unregister() -> Result<()> {
        Ok(())
    }

    pub fn open_login_items() {}
}

#[cfg(feature = "tray")]
/// The freedesktop notification service over D-Bus (notify-rust's `d` backend); elsewhere a log
/// line, for want of a service. With `actions`, waits on the same connection for the server's
/// `ActionInvoked` or `NotificationClosed` about this notification: the server closes it when it
/// expires (8 s here), when the user dismisses it or clicks a button.
pub fn notify(title: &str, body: &str, actions: &[(&str, &str)]) -> anyhow::Result<Option<String>> {
    #[cfg(target_os = "linux")]
    {
        let mut n = notify_rust::Notification::new();
        n.appname("Serve Doctor")
            .summary(title)
            .body(body)
            .timeout(notify_rust::Timeout::Milliseconds(8000));
        for (id, label) in actions {
            n.action(id, label);
        }
        let handle = n.show()?;
        if actions.is_empty() {
            return Ok(None);
        }
        let mut picked = None;
        handle.wait_for_action(|id| {
            // notify-rust's name for "closed without a click".
            if id != "__closed" {
                picked = Some(id.to_string());
            }
        });
        Ok(picked)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = actions;
        log::info!("notification (no service on this platform): {title}: {body}");
        Ok(None)
    }
}

#[cfg(feature = "tray")]
/// A GtkMessageDialog (rfd's GTK 3 backend). rfd builds it from an idle callback on GTK's default
/// main context, which tao's loop iterates on the main thread, and answers through the dialog's
/// `response` signal, so neither this task nor the tray waits on it (the synchronous `show`
/// would run a nested `gtk_dialog_run` inside tao's iteration). GTK's own OK/Cancel buttons put
/// Cancel first, so it is the one that has the focus and that Return presses; rfd's custom
/// labels would put the OK button first. Escape and the close button answer Cancel.
pub async fn confirm(title: String, body: String) -> bool {
    let answer = rfd::AsyncMessageDialog::new()
        .set_level(rfd::MessageLevel::Warning)
        .set_title(title)
        .set_description(body)
        .set_buttons(rfd::MessageButtons::OkCancel)
        .show()
        .await;
    answer == rfd::MessageDialogResult::Ok
}

/// The CA bundle file of the system's trust store, when the store is that file plus certificate
/// directories (OpenSSL's layout, which the platform verifier reads here through
/// rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR` when set, else the probed file and
/// directories). `None` when `SSL_CERT_DIR` is set without `SSL_CERT_FILE`: then no file is part
/// of the store.
pub fn ca_bundle() -> Option<PathBuf> {
    match (
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR"),
    ) {
        (Some(file), _) => Some(file.into()),
        (None, Some(_)) => None,
        (None, None) => openssl_probe::probe().cert_file,
    }
}

/// The resident set size from `/proc/self/status` (`VmRSS`, in kB there).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Opens the directory of `target` (or `target` itself, a directory) in the file manager.
pub fn reveal(target: &Path) -> anyhow::Result<()> {
    let dir = if target.is_dir() {
        target
    } else {
        target.parent().unwrap_or(target)
    };
    open::that_detached(dir)
        .with_context(|| format!("cannot open {} in a file manager", dir.display()))
}

/// Linux: a display (X11 or Wayland) and the AppIndicator library that tray-icon loads.
pub fn tray_preflight() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = display_problem(env("DISPLAY").is_some(), env("WAYLAND_DISPLAY").is_some()) {
        return Err(p);
    }
    if !appindicator_installed() {
        return Err(format!(
            "the menu-bar app needs the AppIndicator library ({} or {}), which is not installed. \
             Install the package libayatana-appindicator3-1 (Debian/Ubuntu: \
             `sudo apt install libayatana-appindicator3-1`; Fedora: libayatana-appindicator-gtk3), \
             or run `serve-doctor diagnose` in a terminal.",
            APPINDICATOR_LIBS[0], APPINDICATOR_LIBS[1]
        ));
    }
    Ok(())
}

#[cfg(feature = "tray")]
/// A GTK event loop needs no preparation to live in the tray.
pub fn menu_bar_only<T: 'static>(_event_loop: &mut tao::event_loop::EventLoop<T>) {}

#[cfg(feature = "tray")]
/// AppIndicator has no template images: the coloured icon, always.
pub fn with_icon(
    b: tray_icon::TrayIconBuilder,
    icon: tray_icon::Icon,
    _template: bool,
) -> tray_icon::TrayIconBuilder {
    b.with_icon(icon)
}

#[cfg(feature = "tray")]
pub fn set_icon(
    tray: &tray_icon::TrayIcon,
    icon: tray_icon::Icon,
    _template: bool,
) -> tray_icon::Result<()> {
    tray.set_icon(Some(icon))
}

/// The CLI runs in the caller's session already.
pub fn in_login_session(_program: &Path, _args: &[&str]) -> Option<(PathBuf, Vec<String>)> {
    None
}

/// `None` when there is a display to draw on.
pub fn display_problem(x11: bool, wayland: bool) -> Option<String> {
    (!x11 && !wayland).then(|| {
        "no display (DISPLAY and WAYLAND_DISPLAY are unset), so there is no menu bar to live in; \
         run `serve-doctor diagnose` for a one-shot check in the terminal"
            .to_string()
    })
}

/// The names libappindicator-sys dlopen()s, in its order.
pub const APPINDICATOR_LIBS: [&str; 2] = ["libayatana-appindicator3.so.1", "libappindicator3.so.1"];

/// Whether one of [`APPINDICATOR_LIBS`] can be found the way the dynamic loader would: in the
/// usual library directories, `LD_LIBRARY_PATH`, or the loader cache (`ldconfig -p`). Without
/// loading it: a dlopen would need `unsafe`.
fn appindicator_installed() -> bool {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    for d in [
        "/usr/lib",
        "/usr/lib64",
        "/lib",
        "/lib64",
        "/usr/local/lib",
        "/usr/local/lib64",
    ] {
        dirs.push(PathBuf::from(d));
    }
    // Debian-style multiarch directories (x86_64-linux-gnu, aarch64-linux-gnu, …).
    for base in ["/usr/lib", "/lib"] {
        if let Ok(rd) = std::fs::read_dir(base) {
            dirs.extend(
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with("-linux-gnu"))
                    .map(|e| e.path()),
            );
        }
    }
    if lib_in_dirs(&dirs, &APPINDICATOR_LIBS) {
        return true;
    }
    ldconfig_cache().is_some_and(|out| lib_in_ldconfig(&out, &APPINDICATOR_LIBS))
}

/// `ldconfig -p`, bounded (it reads one cache file; a hang would be a broken system).
fn ldconfig_cache() -> Option<String> {
    use std::process::{Command, Stdio};
    for exe in ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"] {
        let Ok(mut child) = Command::new(exe)
            .arg("-p")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            continue;
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut out = String::new();
        if let Some(mut so) = child.stdout.take() {
            // Read on a helper thread so a hang cannot hold us past the deadline.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut so, &mut s);
                let _ = tx.send(s);
            });
            out = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_default();
        }
        let _ = child.kill();
        let _ = child.wait();
        return Some(out);
    }
    None
}

pub fn lib_in_dirs(dirs: &[PathBuf], names: &[&str]) -> bool {
    dirs.iter()
        .any(|d| names.iter().any(|n| d.join(n).exists()))
}

/// Parses `ldconfig -p` lines like `\tlibfoo.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libfoo.so.1`.
pub fn lib_in_ldconfig(output: &str, names: &[&str]) -> bool {
    output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .any(|lib| names.contains(&lib))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_display_is_one_sentence_pointing_at_diagnose() {
        let p = display_problem(false, false).unwrap();
        assert!(p.contains("serve-doctor diagnose") && !p.contains('\n'));
        assert!(display_problem(true, false).is_none());
        assert!(display_problem(false, true).is_none());
    }

    #[test]
    fn finds_the_library_in_dirs_and_the_loader_cache() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = vec![dir.path().to_path_buf()];
        assert!(!lib_in_dirs(&dirs, &APPINDICATOR_LIBS));
        std::fs::write(dir.path().join("libappindicator3.so.1"), "").unwrap();
        assert!(lib_in_dirs(&dirs, &APPINDICATOR_LIBS));

        let cache = "1234 libs found in cache `/etc/ld.so.cache'\n\
            \tlibayatana-appindicator3.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libayatana-appindicator3.so.1\n";
        assert!(lib_in_ldconfig(cache, &APPINDICATOR_LIBS));
        assert!(!lib_in_ldconfig(
            "\tlibayatana-ido3-0.4.so.0 (libc6,x86-64) => /x\n",
            &APPINDICATOR_LIBS
        ));
    }
}
