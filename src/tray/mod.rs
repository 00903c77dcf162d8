//! The menu-bar app: an icon whose colour and shape show the health of `tailscale serve`, and a
//! menu that leads from "red" to the fix.
//!
//! Rooms inside the room, data flowing one way (workers → [`view`] ← [`menu`], and `app` on top):
//! - [`state`]: the monitor's state machine (debounce, "since", watching after the admin console);
//!   pure.
//! - [`bus`]: the IPN bus watcher that tells the monitor when tailscaled announces a change.
//! - [`monitor`]: the async loop that runs diagnoses on that schedule and owns everything that
//!   may block (config and history files, notifications, the browser).
//! - [`others`]: the other configured targets (remote nodes, URLs), each run as a task of its
//!   own for the monitor.
//! - [`actions`]: the write actions (plan, confirm, run) and the desktop settings: the UI
//!   thread's steps through that flow, and the worker task that carries them out.
//! - [`gate`]: the pause between the two: no diagnosis while a write runs, one right after.
//! - [`view`]: the plain data those two produce and the menu reads, and what a click asks of
//!   them.
//! - [`menu`]: the menu as plain data, built from the view in one function; pure.
//! - [`icons`]: which picture for which state, and the embedded PNGs.
//! - [`history`]: the last 20 state changes, kept across restarts.
//! - `render` and `app`: the only code that touches muda, tray-icon and tao (main thread); `app`
//!   also starts the one background thread whose runtime runs the monitor and the actions
//!   worker as tasks, and routes each click by its group.
//!
//! [`run`] is the entry point; it checks that a tray can exist at all before tao gets a chance to
//! panic about it.

pub mod actions;
mod app;
pub mod bus;
pub mod gate;
pub mod history;
pub mod icons;
pub mod menu;
pub mod monitor;
pub mod others;
mod render;
pub mod state;
pub mod view;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::config::{self, Dirs};
use crate::exit::Exit;
use crate::settings::Overrides;

/// Runs the menu-bar app. Returns only on failure to start (the event loop exits the process).
pub fn run(overrides: Overrides) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if let Err(problem) = crate::platform::tray_preflight() {
        eprintln!("serve-doctor: {problem}");
        return Ok(Exit::Unavailable.into());
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
            return Ok(Exit::AlreadyRunning.into());
        }
        // No lock possible (no home, a read-only runtime dir): run without the guarantee.
        Some(Err(e)) => {
            eprintln!("serve-doctor: {e}; running anyway");
            None
        }
        None => None,
    };
    let (log_path, _) =
        crate::logging::init(dirs.as_ref().map(|d| d.logs.as_path()), overrides.verbose);
    log::info!(
        "serve-doctor {} starting (log: {})",
        env!("CARGO_PKG_VERSION"),
        log_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stderr".into())
    );

    let loaded = config::load();
    match loaded.problem() {
        Some(p) => log::warn!("{p}"),
        None => match config::ensure_exists(&loaded) {
            Ok(true) => log::info!("created {} with the defaults", loaded.path.display()),
            Ok(false) => {}
            Err(e) => log::warn!("cannot create {}: {e}", loaded.path.display()),
        },
    }

    let diag = monitor::EngineDiagnoser::new(overrides.clone(), &loaded.config)
        .context("cannot start the diagnosis engine")?;
    let hist = history::History::load(monitor::history_path(
        dirs.as_ref().map(|d| d.data.as_path()),
    ));
    let icon_dir = dirs.as_ref().map(|d| d.runtime.join("icons"));
    if let Some(d) = &icon_dir {
        clean_icon_dir(d);
    }

    // The monitor is built on its own thread; the UI starts from the same settings and history.
    let settings = monitor::settings_view(&loaded, &overrides);
    let actions = actions::Context {
        overrides: overrides.clone(),
        config_path: loaded.path.clone(),
        data_dir: dirs.as_ref().map(|d| d.data.clone()),
    };
    let history_entries = hist.entries().to_vec();
    let targets = others::EngineTargets::new(overrides.clone(), &loaded.config);
    let make: app::MakeMonitor<monitor::EngineDiagnoser> =
        Box::new(move |ui| monitor::Monitor::new(diag, targets, ui, loaded, hist, overrides));
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
