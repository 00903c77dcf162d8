//! Launch at login: the Settings item that asks the desktop to start the app with the session.
//!
//! The state is always read back from the system, never remembered, so the menu's check mark shows
//! what will really happen at the next login (the user may have removed the item in System
//! Settings or deleted the autostart file by hand).
//!
//! - **Linux** (and other XDG desktops): an XDG autostart entry,
//!   `$XDG_CONFIG_HOME/autostart/serve-doctor.desktop` (default `~/.config/autostart`). It is on
//!   when the file exists and neither `Hidden=true` nor `X-GNOME-Autostart-enabled=false` turns
//!   it off, which is how session managers read it. We write the file ourselves rather than
//!   through auto-launch 0.6: that crate always uses `~/.config/autostart` (ignoring
//!   `XDG_CONFIG_HOME`), does not quote the `Exec` path and ignores `Hidden=`, and gives no way to
//!   point it at a test directory.
//! - **macOS, running from `Serve Doctor.app`**: SMAppService's main-app login item (macOS 13+,
//!   through smappservice-rs), which shows up in System Settings → General → Login Items. If
//!   registering fails (an unsigned bundle, say), a LaunchAgent is written instead.
//! - **macOS, a bare binary** (`cargo run`, Homebrew-style installs): SMAppService has no bundle to
//!   register, so a LaunchAgent, `~/Library/LaunchAgents/`[`AGENT_LABEL`]`.plist`, with
//!   `RunAtLoad`. It is on when the file exists and does not say `Disabled`.
//!
//! Both file formats are written by plain functions compiled on every platform, so they are
//! tested on Linux too; which item this system uses, and the SMAppService calls, are the
//! platform's (`os::login_item`, `os::main_app`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use super::os;

/// The app's bundle identifier, also in `bundle/Info.plist.in` (a test keeps them equal).
pub const BUNDLE_ID: &str = "io.github.serve-doctor";
/// launchd label of the LaunchAgent fallback; distinct from [`BUNDLE_ID`], which SMAppService
/// uses for the main-app item, so the two never collide in launchd.
pub const AGENT_LABEL: &str = "io.github.serve-doctor.login";
/// File name of the XDG autostart entry (the same name as the installed `.desktop` file, as the
/// autostart spec suggests, so a desktop can match the two).
pub const XDG_FILE: &str = "serve-doctor.desktop";

/// What the next login will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginItemState {
    Enabled,
    Disabled,
    /// macOS: registered, but the user must still allow it in System Settings → Login Items.
    RequiresApproval,
}

/// One way of starting the app at login, with every path it touches spelled out, so tests can
/// point it at a temporary directory. [`LoginItem::system`] is the real one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginItem {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `dir/serve-doctor.desktop` starting `exe`.
    Xdg { dir: PathBuf, exe: PathBuf },
    /// `dir/io.github.serve-doctor.login.plist` starting `exe`.
    LaunchAgent { dir: PathBuf, exe: PathBuf },
    /// The system's own item for the running app (macOS: SMAppService for the bundle); `agent`
    /// is the LaunchAgent fallback (and any leftover from a bare-binary run, which turning the
    /// item off also removes).
    MainApp { agent: Box<LoginItem> },
}

impl LoginItem {
    /// An XDG autostart entry in `autostart_dir` that starts `exe`.
    pub fn xdg(autostart_dir: impl Into<PathBuf>, exe: impl Into<PathBuf>) -> LoginItem {
        LoginItem {
            kind: Kind::Xdg {
                dir: autostart_dir.into(),
                exe: exe.into(),
            },
        }
    }

    /// A LaunchAgent plist in `agents_dir` (normally `~/Library/LaunchAgents`) that starts `exe`.
    pub fn launch_agent(agents_dir: impl Into<PathBuf>, exe: impl Into<PathBuf>) -> LoginItem {
        LoginItem {
            kind: Kind::LaunchAgent {
                dir: agents_dir.into(),
                exe: exe.into(),
            },
        }
    }

    /// The system's own login item for the running app (macOS: SMAppService's main-app item),
    /// with `agent` used where the system refuses it.
    pub fn main_app(agent: LoginItem) -> LoginItem {
        LoginItem {
            kind: Kind::MainApp {
                agent: Box::new(agent),
            },
        }
    }

    /// The login item for this platform and this executable: XDG autostart on Linux; on macOS
    /// SMAppService from a bundle, else a LaunchAgent.
    pub fn system() -> Result<LoginItem> {
        let exe = current_exe()?;
        let base = directories::BaseDirs::new().ok_or_else(|| anyhow!("no home directory"))?;
        Ok(os::login_item(&exe, &base))
    }

    /// The file this item writes (for SMAppService, the LaunchAgent fallback's).
    pub fn path(&self) -> PathBuf {
        match &self.kind {
            Kind::Xdg { dir, .. } => dir.join(XDG_FILE),
            Kind::LaunchAgent { dir, .. } => dir.join(format!("{AGENT_LABEL}.plist")),
            Kind::MainApp { agent } => agent.path(),
        }
    }

    /// What the next login will do, read from the system now.
    pub fn status(&self) -> Result<LoginItemState> {
        let path = self.path();
        match &self.kind {
            Kind::Xdg { .. } => Ok(match read_if_exists(&path)? {
                Some(text) if xdg_entry_enabled(&text) => LoginItemState::Enabled,
                _ => LoginItemState::Disabled,
            }),
            Kind::LaunchAgent { .. } => Ok(match read_if_exists(&path)? {
                Some(text) if !plist_disabled(&text) => LoginItemState::Enabled,
                _ => LoginItemState::Disabled,
            }),
            Kind::MainApp { agent } => Ok(match os::main_app::status() {
                LoginItemState::Disabled => agent.status()?,
                s => s,
            }),
        }
    }

    /// Whether the app will start at the next login (what the menu's check mark shows).
    pub fn is_enabled(&self) -> Result<bool> {
        Ok(self.status()? == LoginItemState::Enabled)
    }

    /// Turns launching at login on or off. Idempotent. On macOS, turning it on may leave it
    /// waiting for the user's approval: then System Settings opens at Login Items and the error
    /// says so.
    pub fn set_enabled(&self, on: bool) -> Result<()> {
        let path = self.path();
        match (&self.kind, on) {
            (Kind::Xdg { exe, .. }, true) => write_file(&path, &xdg_entry(exe)),
            (Kind::LaunchAgent { exe, .. }, true) => {
                write_file(&path, &launch_agent_plist(AGENT_LABEL, exe))
            }
            (Kind::Xdg { .. } | Kind::LaunchAgent { .. }, false) => remove_if_exists(&path),
            (Kind::MainApp { agent }, true) => match os::main_app::register() {
                Ok(LoginItemState::Enabled) => agent.set_enabled(false),
                Ok(_) => {
                    os::main_app::open_login_items();
                    anyhow::bail!(
                        "Serve Doctor is registered to open at login, but macOS asks you to allow \
                         it: turn it on in System Settings → General → Login Items"
                    )
                }
                Err(e) => {
                    log::warn!(
                        "SMAppService refused the login item ({e:#}); using a LaunchAgent instead"
                    );
                    agent.set_enabled(true)
                }
            },
            (Kind::MainApp { agent }, false) => {
                let unregistered = os::main_app::unregister();
                agent.set_enabled(false)?;
                unregistered
            }
        }
    }
}

/// Whether the app will start at the next login, on this system.
pub fn is_enabled() -> Result<bool> {
    LoginItem::system()?.is_enabled()
}

/// Turns launching at login on or off, on this system.
pub fn set_enabled(on: bool) -> Result<()> {
    LoginItem::system()?.set_enabled(on)
}

/// The running executable, as the login item should start it. When the binary was replaced while
/// running (an upgrade), Linux reports the old inode as "… (deleted)"; the path without that
/// suffix is where the new binary is.
fn current_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    Ok(
        match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
            Some(live) => PathBuf::from(live),
            None => exe,
        },
    )
}

/// The `.app` directory `exe` lives in, when it is a bundle's main executable
/// (`X.app/Contents/MacOS/exe`).
pub fn bundle_of(exe: &Path) -> Option<PathBuf> {
    let macos = exe.parent()?;
    let contents = macos.parent()?;
    let app = contents.parent()?;
    let is_app = app.extension().is_some_and(|e| e == "app");
    (macos.file_name()? == "MacOS" && contents.file_name()? == "Contents" && is_app)
        .then(|| app.to_path_buf())
}

/// The XDG autostart entry that starts `exe`.
pub fn xdg_entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Serve Doctor\n\
         Comment=Diagnose tailscale serve over HTTPS from the menu bar\n\
         Exec={}\n\
         Icon=serve-doctor\n\
         Terminal=false\n\
         StartupNotify=false\n\
         X-GNOME-Autostart-enabled=true\n",
        desktop_exec_arg(&exe.to_string_lossy())
    )
}

/// Quotes one `Exec=` argument by the Desktop Entry spec: reserved characters need double quotes,
/// inside which `"`, `` ` ``, `$` and `\` are escaped; `%` is always doubled (field codes).
/// The spec's string escaping then doubles every backslash once more.
pub fn desktop_exec_arg(arg: &str) -> String {
    let arg = arg.replace('%', "%%");
    let reserved = |c: char| " \t\n\"'\\><~|&;$*?#()`".contains(c);
    let quoted = if arg.contains(reserved) {
        let mut q = String::from("\"");
        for c in arg.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        arg
    };
    quoted.replace('\\', "\\\\")
}

/// Whether an autostart entry is on, the way session managers read it: `Hidden=true` or
/// `X-GNOME-Autostart-enabled=false` in the `[Desktop Entry]` group turn it off.
pub fn xdg_entry_enabled(text: &str) -> bool {
    let mut in_entry = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        if !in_entry {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match (key.trim(), value.trim()) {
            ("Hidden", "true") | ("X-GNOME-Autostart-enabled", "false") => return false,
            _ => {}
        }
    }
    true
}

/// A LaunchAgent that starts `exe` once at login, in GUI sessions only (`Aqua`: not for SSH
/// logins, where a menu-bar app has nowhere to show).
pub fn launch_agent_plist(label: &str, exe: &Path) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{}</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
</dict>
</plist>
"#,
        xml_escape(label),
        xml_escape(&exe.to_string_lossy())
    )
}

/// Whether a LaunchAgent plist says `<key>Disabled</key><true/>` (launchd then skips it).
fn plist_disabled(text: &str) -> bool {
    let squeezed: String = text.split_whitespace().collect();
    squeezed.contains("<key>Disabled</key><true/>")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn read_if_exists(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes atomically, so a session manager never reads half an entry.
fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    // NamedTempFile is 0600; autostart entries and agents are normally world-readable.
    let _ = super::unix::make_world_readable(tmp.path());
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_quoting_follows_the_desktop_entry_spec() {
        assert_eq!(
            desktop_exec_arg("/home/a/.local/bin/serve-doctor"),
            "/home/a/.local/bin/serve-doctor"
        );
        assert_eq!(
            desktop_exec_arg("/opt/Serve Doctor/x"),
            r#""/opt/Serve Doctor/x""#
        );
        // `$` is escaped once inside the quotes; that backslash is doubled by string escaping.
        assert_eq!(desktop_exec_arg("/a$b"), r#""/a\\$b""#);
        assert_eq!(desktop_exec_arg("/100%"), "/100%%");
    }

    #[test]
    fn entry_switches_are_read_like_a_session_manager() {
        let on = xdg_entry(Path::new("/usr/bin/serve-doctor"));
        assert!(xdg_entry_enabled(&on));
        assert!(on.contains("\nExec=/usr/bin/serve-doctor\n"));
        assert!(!xdg_entry_enabled(&format!("{on}Hidden=true\n")));
        assert!(!xdg_entry_enabled(
            &on.replace("Autostart-enabled=true", "Autostart-enabled=false")
        ));
        // Keys in other groups do not count.
        assert!(xdg_entry_enabled(&format!(
            "{on}[Desktop Action x]\nHidden=true\n"
        )));
    }

    #[test]
    fn xdg_item_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let item = LoginItem::xdg(dir.path().join("autostart"), "/bin/sd");
        assert!(!item.is_enabled().unwrap());
        item.set_enabled(true).unwrap();
        assert!(item.is_enabled().unwrap());
        item.set_enabled(true).unwrap();
        item.set_enabled(false).unwrap();
        assert!(!item.is_enabled().unwrap());
        item.set_enabled(false).unwrap();
    }

    #[test]
    fn launch_agent_round_trip_and_disabled_key() {
        let dir = tempfile::tempdir().unwrap();
        let item = LoginItem::launch_agent(dir.path(), "/Applications/A & B.app/Contents/MacOS/x");
        item.set_enabled(true).unwrap();
        let text = fs::read_to_string(item.path()).unwrap();
        assert!(text.contains("<string>/Applications/A &amp; B.app/Contents/MacOS/x</string>"));
        assert!(item.is_enabled().unwrap());
        let off = text.replace(
            "<key>RunAtLoad</key>",
            "<key>Disabled</key>\n\t<true/>\n\t<key>RunAtLoad</key>",
        );
        fs::write(item.path(), off).unwrap();
        assert_eq!(item.status().unwrap(), LoginItemState::Disabled);
        item.set_enabled(false).unwrap();
        assert!(!item.path().exists());
    }

    #[test]
    fn bundle_detection() {
        assert_eq!(
            bundle_of(Path::new(
                "/Applications/Serve Doctor.app/Contents/MacOS/serve-doctor"
            )),
            Some(PathBuf::from("/Applications/Serve Doctor.app"))
        );
        assert_eq!(bundle_of(Path::new("/usr/local/bin/serve-doctor")), None);
        assert_eq!(bundle_of(Path::new("/x/Contents/MacOS/serve-doctor")), None);
        assert_eq!(bundle_of(Path::new("serve-doctor")), None);
    }
}
