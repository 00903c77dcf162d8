//! The menu-bar app: an icon whose colour and shape show the health of `tailscale serve`, and a
//! menu that leads from "red" to the fix.
//!
//! Rooms inside the room, data flowing one way:
//! - [`state`]: the monitor's state machine (debounce, "since", watching after the admin console);
//!   pure.
//! - [`bus`]: the IPN bus watcher that tells the monitor when tailscaled announces a change.
//! - [`monitor`]: the async loop on a worker thread that runs diagnoses on that schedule and owns
//!   everything that may block (config and history files, notifications, the browser).
//! - [`menu`]: the menu as plain data, built from state in one function; pure.
//! - [`icons`]: which picture for which state, and the embedded PNGs.
//! - [`history`]: the last 20 state changes, kept across restarts.
//! - [`actions`]: the write actions (plan, confirm, run) and the desktop settings, their state as
//!   plain data and the worker thread that carries them out.
//! - `render` and `app`: the only code that touches muda, tray-icon and tao (main thread).
//!
//! [`run`] is the entry point; it checks that a tray can exist at all before tao gets a chance to
//! panic about it.

pub mod actions;
mod app;
pub mod bus;
pub mod history;
pub mod icons;
pub mod menu;
pub mod monitor;
mod render;
pub mod state;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{self, Dirs};

/// Exit status when the app cannot run here (no display, no tray library): sysexits'
/// EX_UNAVAILABLE.
pub const EXIT_UNAVAILABLE: u8 = 69;

/// Exit status of a second start while the app runs: sysexits' EX_TEMPFAIL (try again once the
/// first one has quit).
pub const EXIT_ALREADY_RUNNING: u8 = 75;

/// The app's command-line overrides; each wins over the config file for this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayArgs {
    /// `--tailscale PATH`: the CLI to use.
    pub tailscale: Option<PathBuf>,
    /// `--socket PATH`: tailscaled's LocalAPI socket (forces that route, and the IPN bus on it).
    pub socket: Option<PathBuf>,
    /// `--connect HOST:PORT`: dial this for the HTTPS probe.
    pub connect: Option<String>,
    /// `--ca-file PEM`: extra trust anchors.
    pub ca_file: Option<PathBuf>,
    /// `--port`: the backend port.
    pub port: Option<u16>,
    /// `--timeout`: bound for each step.
    pub timeout: Option<Duration>,
    /// `--interval SECS`: seconds between background checks.
    pub interval: Option<u64>,
    /// `--verbose`: log to stderr too, at debug level.
    pub verbose: bool,
}

/// Runs the menu-bar app. Returns only on failure to start (the event loop exits the process).
pub fn run(args: TrayArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if let Err(problem) = preflight() {
        eprintln!("serve-doctor: {problem}");
        return Ok(ExitCode::from(EXIT_UNAVAILABLE));
    }

    let dirs = Dirs::discover();
    // One app per session: a second start (Finder, the login item, a terminal) says so and
    // leaves before it creates anything, so there is never a second icon.
    let instance = match dirs
        .as_ref()
        .map(|d| crate::instance::InstanceLock::acquire(&d.runtime))
    {
        Some(Ok(lock)) => Some(lock),
        Some(Err(e @ crate::instance::InstanceError::AlreadyRunning { .. })) => {
            eprintln!("serve-doctor: {e}");
            return Ok(ExitCode::from(EXIT_ALREADY_RUNNING));
        }
        // No lock possible (no home, a read-only runtime dir): run without the guarantee.
        Some(Err(e)) => {
            eprintln!("serve-doctor: {e}; running anyway");
            None
        }
        None => None,
    };
    let (log_path, _) = crate::logging::init(dirs.as_ref().map(|d| d.logs.as_path()), args.verbose);
    log::info!(
        "serve-doctor {} starting (log: {})",
        env!("CARGO_PKG_VERSION"),
        log_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stderr".into())
    );

    let loaded = config::load();
    match &loaded.problem {
        Some(p) => log::warn!("{p}"),
        None => match config::ensure_exists(&loaded) {
            Ok(true) => log::info!("created {} with the defaults", loaded.path.display()),
            Ok(false) => {}
            Err(e) => log::warn!("cannot create {}: {e}", loaded.path.display()),
        },
    }

    let diag = monitor::EngineDiagnoser::new(args.clone(), &loaded.config)
        .context("cannot start the diagnosis engine")?;
    let hist = history::History::load(monitor::history_path(
        dirs.as_ref().map(|d| d.data.as_path()),
    ));
    let icon_dir = dirs.as_ref().map(|d| d.runtime.join("icons"));
    if let Some(d) = &icon_dir {
        clean_icon_dir(d);
    }

    // The monitor is built on its own thread; the UI starts from the same settings and history.
    let settings = monitor::settings_view(&loaded, args.interval, args.port);
    let actions = actions::Context {
        args: args.clone(),
        config_path: loaded.path.clone(),
        data_dir: dirs.as_ref().map(|d| d.data.clone()),
    };
    let history_entries = hist.entries().to_vec();
    let make: app::MakeMonitor<monitor::EngineDiagnoser> =
        Box::new(move |ui| monitor::Monitor::new(diag, ui, loaded, hist, &args));
    app::run(app::Setup {
        monitor: make,
        settings,
        history: history_entries,
        icon_dir,
        started,
        actions,
        logs_dir: dirs.as_ref().map(|d| d.logs.clone()),
        instance,
    })
}

/// tray-icon on Linux leaves its last PNG behind when the process is killed; ours go to our own
/// directory, so old ones can be removed at start.
fn clean_icon_dir(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("tray-icon-") && name.ends_with(".png") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Checks that a tray icon can exist here, so the user gets a sentence instead of a GTK panic.
pub fn preflight() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(p) = display_problem(env("DISPLAY").is_some(), env("WAYLAND_DISPLAY").is_some())
        {
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
    }
    Ok(())
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
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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

    #[test]
    fn flags_win_over_the_config_file() {
        let c = config::Config {
            backend_port: Some(1),
            connect: Some("a:1".into()),
            ..Default::default()
        };
        let args = TrayArgs {
            port: Some(2),
            connect: Some("b:2".into()),
            timeout: Some(Duration::from_millis(1500)),
            ..TrayArgs::default()
        };
        let o = monitor::options(&args, &c);
        assert_eq!(o.port, Some(2));
        assert_eq!(o.config_port, Some(1));
        assert_eq!(o.connect.as_deref(), Some("b:2"));
        assert_eq!(o.timeout, Duration::from_millis(1500));
        let o = monitor::options(&TrayArgs::default(), &c);
        assert_eq!((o.port, o.connect.as_deref()), (None, Some("a:1")));
    }
}
