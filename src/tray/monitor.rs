//! The background monitor: runs diagnoses on the state machine's schedule, as a task on the
//! tray's background runtime, and tells the UI what to show through plain-data messages.
//!
//! It also owns everything that may block: the config file (reload when it changes on disk, save
//! settings), the history file, notifications and launching the browser. The UI thread only ever
//! receives [`UiMsg`]s and sends [`MonitorCmd`]s (`view.rs`). A notification's button is a
//! `MonitorCmd` too: its click comes back on a channel of this loop and is handled as the menu
//! item's would be.
//!
//! On the LocalAPI route it also runs the IPN bus watcher ([`bus`]) and feeds its events to the
//! state machine, which turns them into debounced runs and slows the poll to a safety net.
//! Nothing here spawns a process while idle: the bus is one open connection, the poll on that
//! route is HTTP, and notifications go out only when the health changes.
//!
//! The other configured targets ([`others`]) are diagnosed alongside this node by the runs the
//! user or the clock asks for (startup, poll, "Diagnose now", the bus), each as a task of its
//! own: this node's result goes to the UI as soon as it is there, theirs as they come. The
//! config file is looked at every [`CONFIG_CHECK`] (one `stat`), so `serve-doctor targets add`
//! shows in the menu within seconds even while the bus has slowed the poll.
//!
//! While a write action runs ([`gate`](crate::tray::gate)) no run of this node starts: polls,
//! bus events and "Diagnose now" wait, and one run follows the moment the write ends, so the
//! half-done state between `serve reset` and `serve --bg` is never shown, recorded or notified.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::{self, Config, Loaded};
use crate::diagnosis::Diagnosis;
use crate::engine::Engine;
use crate::settings::{self, Overrides, Settings};
use crate::tray::bus;
use crate::tray::gate::{Change, Pause};
use crate::tray::history::{Entry, History};
use crate::tray::others::{self, EngineTargets, Others, TargetDiagnoser};
use crate::tray::state::{Machine, Notice, RunKind};
use crate::tray::view::{MonitorCmd, SettingsView, TargetView, View, Wall};

/// How often the config file is checked for edits between runs.
pub const CONFIG_CHECK: Duration = Duration::from_secs(5);

/// From the monitor to the UI. Plain data only: the UI thread owns every GUI object.
#[derive(Debug, Clone, PartialEq)]
pub enum UiMsg {
    View(Box<View>),
    History(Vec<Entry>),
    Settings(SettingsView),
    /// A short confirmation or problem for the menu.
    Message(String),
    /// Nothing could open `target` (no browser, no file manager): copy it and say so.
    OpenFailed {
        target: String,
        what: String,
    },
    /// SIGTERM/SIGINT: leave cleanly (removes the icon and its temp file).
    Quit,
}

/// Where the UI messages go (the event-loop proxy in the app, a vector in tests).
pub trait Ui: Clone + Send + Sync + 'static {
    fn send(&self, msg: UiMsg);
}

/// Runs one diagnosis. The engine in the app; scripted results in tests.
pub trait Diagnoser {
    fn diagnose(
        &mut self,
        progress: &mut (dyn FnMut(&Diagnosis) + Send),
    ) -> impl Future<Output = Diagnosis>;
    /// The config changed (settings menu or the file on disk): rebuild with it.
    fn reconfigure(&mut self, config: &Config) -> anyhow::Result<()>;
    /// Where to watch tailscaled's IPN bus for changes, when the route has one.
    fn bus_target(&self) -> Option<bus::Target> {
        None
    }
}

/// The engine, with the command-line overrides re-applied over every config.
pub struct EngineDiagnoser {
    overrides: Overrides,
    engine: Engine,
}

impl EngineDiagnoser {
    pub fn new(overrides: Overrides, config: &Config) -> anyhow::Result<EngineDiagnoser> {
        let engine = Engine::new(settings::resolve(&overrides, config).engine)?;
        Ok(EngineDiagnoser { overrides, engine })
    }
}

impl Diagnoser for EngineDiagnoser {
    async fn diagnose(&mut self, progress: &mut (dyn FnMut(&Diagnosis) + Send)) -> Diagnosis {
        self.engine.diagnose(|d: &Diagnosis| progress(d)).await
    }

    fn reconfigure(&mut self, config: &Config) -> anyhow::Result<()> {
        self.engine = Engine::new(settings::resolve(&self.overrides, config).engine)?;
        Ok(())
    }

    fn bus_target(&self) -> Option<bus::Target> {
        bus::target(self.engine.options())
    }
}

/// The monitor's state outside the pure machine.
pub struct Monitor<D, U, T = EngineTargets> {
    diag: D,
    ui: U,
    machine: Machine,
    /// The other targets and their runs.
    others: Others<T>,
    history: History,
    loaded: Loaded,
    /// The file's modification time when we last read or wrote it, to notice edits.
    mtime: Option<SystemTime>,
    /// The app's flags, which win over every config read.
    overrides: Overrides,
    /// The IPN bus watcher while one runs, where it watches, and the channel its events come
    /// back on (the sender is cloned into each new watcher; the generation tells them apart).
    bus: Option<bus::Watcher>,
    bus_target: Option<bus::Target>,
    bus_tx: mpsc::UnboundedSender<bus::Event>,
    bus_rx: Option<mpsc::UnboundedReceiver<bus::Event>>,
    /// A notification's button, clicked: the command it stands for, handled as a menu click's.
    clicked_tx: mpsc::UnboundedSender<MonitorCmd>,
    clicked_rx: Option<mpsc::UnboundedReceiver<MonitorCmd>>,
    /// The actions worker's side of the pause; none, nothing pauses.
    pause: Option<Pause>,
}

fn mtime(p: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn wall_now() -> Wall {
    chrono::Local::now().fixed_offset()
}

impl<D: Diagnoser, U: Ui, T: TargetDiagnoser> Monitor<D, U, T> {
    pub fn new(
        diag: D,
        targets: T,
        ui: U,
        loaded: Loaded,
        history: History,
        overrides: Overrides,
    ) -> Monitor<D, U, T> {
        let s = settings::resolve(&overrides, &loaded.config);
        let now = Instant::now();
        let interval = Duration::from_secs(s.interval_secs);
        let mut machine = Machine::new(interval, now, history.last_cause());
        machine.set_safety_poll(s.safety_poll, s.interval_pinned, now);
        let (bus_tx, bus_rx) = mpsc::unbounded_channel();
        let (clicked_tx, clicked_rx) = mpsc::unbounded_channel();
        Monitor {
            clicked_tx,
            clicked_rx: Some(clicked_rx),
            bus: None,
            bus_target: None,
            bus_tx,
            bus_rx: Some(bus_rx),
            pause: None,
            diag,
            ui,
            machine,
            others: Others::new(targets, &loaded.config),
            history,
            mtime: mtime(&loaded.path),
            loaded,
            overrides,
        }
    }

    /// Pauses this node's runs while the worker holding the other side writes.
    pub fn with_pause(mut self, pause: Pause) -> Self {
        self.pause = Some(pause);
        self
    }

    fn resolved(&self) -> Settings {
        settings::resolve(&self.overrides, &self.loaded.config)
    }

    pub fn settings(&self) -> SettingsView {
        settings_view(&self.loaded, &self.overrides)
    }

    /// What the UI shows: this node's machine, and the other targets.
    fn view(&self) -> View {
        compose(&self.machine, self.others.views())
    }

    fn send_view(&self) {
        self.ui.send(UiMsg::View(Box::new(self.view())));
    }

    /// Runs until the command channel closes (the UI is gone).
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<MonitorCmd>) {
        self.ui.send(UiMsg::Settings(self.settings()));
        self.ui
            .send(UiMsg::History(self.history.entries().to_vec()));
        self.send_view();
        self.follow_bus();
        // Taken out of `self` so the select can borrow them next to `&mut self` in the handlers.
        let mut bus_rx = self.bus_rx.take();
        let mut target_rx = self.others.take_results();
        let mut clicked_rx = self.clicked_rx.take();
        let mut pause = self.pause.take().unwrap_or_else(Pause::never);
        let mut config_check = tokio::time::interval(CONFIG_CHECK);
        config_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (due, _) = self.machine.next();
            let paused = pause.paused();
            tokio::select! {
                // Commands first: "Diagnose now" must not wait behind a due poll's sleep.
                biased;
                cmd = rx.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                Some(c) = recv(&mut clicked_rx) => {
                    log::info!("notification clicked: {c:?}");
                    self.command(c);
                }
                // Before the timer: a write that just began must stop a run that is due now.
                change = pause.changed() => self.write_change(change),
                Some(ev) = recv(&mut bus_rx) => self.bus_event(ev),
                Some(done) = recv(&mut target_rx) => self.target_done(done),
                _ = tokio::time::sleep_until(due), if !paused => {
                    // Looked at again: the worker may have marked a write since the loop began.
                    if !pause.paused() {
                        pause.diagnosing(true);
                        self.run_once().await;
                        pause.diagnosing(false);
                    }
                }
                _ = config_check.tick() => self.config_check(),
            }
        }
    }

    /// A write began (runs wait) or every write ended (one run now, whatever was due).
    fn write_change(&mut self, change: Change) {
        match change {
            Change::Paused => log::debug!("a write action runs: diagnoses wait for it"),
            Change::Resumed => {
                log::info!("write action finished: diagnosing now");
                self.machine.request_now(Instant::now());
            }
            Change::Nothing => {}
        }
    }

    /// Between runs: picks up an edited config file, and runs the targets it added at once.
    fn config_check(&mut self) {
        if self.reload_if_changed() {
            self.others.start_new();
            self.send_view();
        }
    }

    /// Another target's run came back.
    fn target_done(&mut self, done: others::Done) {
        if let Some(n) = self.others.finished(done) {
            self.notify(n);
        }
        self.send_view();
    }

    /// Starts, restarts or stops the bus watcher to match the diagnoser's route.
    fn follow_bus(&mut self) {
        let target = self.diag.bus_target();
        if target == self.bus_target && (self.bus.is_some() || target.is_none()) {
            return;
        }
        let generation = self.bus.as_ref().map_or(0, |w| w.generation) + 1;
        // Dropping the old watcher aborts it; its queued events carry the old generation.
        self.bus = None;
        self.machine.set_bus(false, Instant::now());
        self.bus_target = target.clone();
        match target {
            Some(t) => self.bus = Some(bus::spawn(t, generation, self.bus_tx.clone())),
            None => log::info!("CLI route forced (--tailscale): no IPN bus, polling"),
        }
    }

    fn bus_event(&mut self, ev: bus::Event) {
        if self.bus.as_ref().map(|w| w.generation) != Some(ev.generation) {
            return;
        }
        let now = Instant::now();
        match ev.kind {
            bus::EventKind::Up => self.machine.set_bus(true, now),
            bus::EventKind::Changed => self.machine.bus_changed(now),
            bus::EventKind::Down => self.machine.set_bus(false, now),
        }
    }

    /// One diagnosis, start to finish.
    pub async fn run_once(&mut self) {
        let added = self.reload_if_changed();
        let (_, kind) = self.machine.next();
        self.machine.started(kind);
        let view = self.machine.view();
        // The re-checks (debounce, watching the admin console) are about this node only.
        if !matches!(kind, RunKind::Confirm | RunKind::Watch) {
            self.others.start_all(view.checking);
        } else if added {
            self.others.start_new();
        }
        if view.checking {
            self.send_view();
        }
        let started = std::time::Instant::now();
        // The other targets' results are read by the loop, after this run: they cannot change
        // while it lasts.
        let targets = self.others.views();
        let d = {
            let Monitor {
                diag, ui, machine, ..
            } = self;
            diag.diagnose(&mut |p: &Diagnosis| {
                if machine.progress(p) {
                    ui.send(UiMsg::View(Box::new(compose(machine, targets.clone()))));
                }
            })
            .await
        };
        log::debug!("{kind:?} run: {} in {:?}", d.cause, started.elapsed());
        let out = self.machine.finished(d, Instant::now(), wall_now());
        if let Some((at, d)) = &out.record {
            log::info!("state: {} ({}): {}", d.health, d.cause, d.summary);
            self.history.push(Entry::new(*at, d));
            self.ui
                .send(UiMsg::History(self.history.entries().to_vec()));
        }
        if let Some(n) = out.notice {
            self.notify(n);
        }
        self.send_view();
    }

    /// Shows a desktop notification off this task, if wanted. On the blocking pool: the service
    /// may take its time, and with buttons the call waits until the notification goes away.
    /// A click comes back to this loop as the button's command.
    fn notify(&self, n: Notice) {
        if !self.loaded.config.notifications {
            return;
        }
        let clicked = self.clicked_tx.clone();
        tokio::task::spawn_blocking(move || {
            let buttons: Vec<(&str, &str)> = n.actions.iter().map(|a| (a.id, a.label)).collect();
            match crate::platform::notify(&n.title, &n.body, &buttons) {
                Ok(Some(id)) => match n.actions.iter().find(|a| a.id == id) {
                    Some(a) => {
                        let _ = clicked.send(a.cmd.clone());
                    }
                    None => log::debug!("notification: {id} is none of its buttons"),
                },
                Ok(None) => {}
                Err(e) => log::warn!("notification not shown: {e:#}"),
            }
        });
    }

    fn command(&mut self, cmd: MonitorCmd) {
        log::debug!("command {cmd:?}");
        let now = Instant::now();
        match cmd {
            MonitorCmd::DiagnoseNow => self.machine.request_now(now),
            MonitorCmd::DiagnoseTarget(name) => {
                if self.others.start_named(&name) {
                    self.send_view();
                } else {
                    log::info!("no target called {name} any more");
                }
            }
            MonitorCmd::Open { url, admin } => {
                if admin {
                    self.machine.admin_opened(now, wall_now());
                    self.send_view();
                }
                self.open(url, "URL");
            }
            MonitorCmd::OpenConfig => {
                // First run may not have created it (no home, read-only dir): try again now.
                if self.loaded.writable()
                    && let Err(e) = config::ensure_exists(&self.loaded)
                {
                    log::warn!("cannot create {}: {e}", self.loaded.path.display());
                }
                let path = self.loaded.path.display().to_string();
                self.open(path, "config file path");
            }
            MonitorCmd::SetInterval(secs) => {
                if self.update(|c| c.poll_interval_secs = secs) && self.overrides.interval.is_none()
                {
                    self.machine.set_interval(Duration::from_secs(secs), now);
                }
            }
            MonitorCmd::SetPort(p) => {
                if self.update(|c| c.backend_port = p) {
                    // An action: re-check right away with the new port.
                    self.machine.request_now(now);
                }
            }
            MonitorCmd::SetNotifications(on) => {
                self.update(|c| c.notifications = on);
            }
            MonitorCmd::SetIconStyle(s) => {
                self.update(|c| c.icon_style = s);
            }
        }
    }

    /// Applies a settings change, saves it, and rebuilds what depends on it. Refuses to touch a
    /// config file that did not parse (the user's text is never overwritten silently).
    fn update(&mut self, change: impl FnOnce(&mut Config)) -> bool {
        if !self.loaded.writable() {
            self.ui.send(UiMsg::Message(
                "Config file is broken: fix it first (Settings → Open config file)".into(),
            ));
            self.ui.send(UiMsg::Settings(self.settings()));
            return false;
        }
        let mut c = self.loaded.config.clone();
        change(&mut c);
        if c == self.loaded.config {
            self.ui.send(UiMsg::Settings(self.settings()));
            return false;
        }
        if let Err(e) = config::save_to(&self.loaded.path, &c) {
            log::warn!("cannot save {}: {e}", self.loaded.path.display());
            self.ui
                .send(UiMsg::Message(format!("Could not save the setting: {e}")));
        }
        self.mtime = mtime(&self.loaded.path);
        self.apply_config(c);
        true
    }

    /// Returns whether the list of other targets changed.
    fn apply_config(&mut self, c: Config) -> bool {
        if let Err(e) = self.diag.reconfigure(&c) {
            log::warn!("config not applied: {e:#}");
            self.ui
                .send(UiMsg::Message(format!("Setting not applied: {e:#}")));
        }
        let targets_changed = self.others.reconfigure(&c);
        let now = Instant::now();
        self.loaded.config = c;
        let s = self.resolved();
        self.machine
            .set_safety_poll(s.safety_poll, s.interval_pinned, now);
        self.machine
            .set_interval(Duration::from_secs(s.interval_secs), now);
        // The config's socket may have changed: watch where the engine now looks.
        self.follow_bus();
        self.ui.send(UiMsg::Settings(self.settings()));
        targets_changed
    }

    /// Picks up edits made in the config file by hand or by `serve-doctor targets` (checked
    /// before every run and every [`CONFIG_CHECK`]: one `stat`). Returns whether the list of
    /// other targets changed.
    fn reload_if_changed(&mut self) -> bool {
        let m = mtime(&self.loaded.path);
        if m == self.mtime || self.loaded.path.as_os_str().is_empty() {
            return false;
        }
        self.mtime = m;
        let fresh = config::load_from(&self.loaded.path);
        match fresh.problem() {
            Some(p) => log::warn!("{p}"),
            None => log::info!("config file changed: reloaded"),
        }
        self.loaded.problems = fresh.problems;
        let c = fresh.config;
        self.apply_config(c)
    }

    /// Opens a URL or file off the UI thread; `open::that_detached` may block up to 250 ms per
    /// launcher and fails when there is none. On failure the UI copies the target and says so.
    fn open(&self, target: String, what: &str) {
        let ui = self.ui.clone();
        let what = what.to_string();
        tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            match open::that_detached(&target) {
                Ok(()) => log::info!("opened {target} in {:?}", t.elapsed()),
                Err(e) => {
                    log::warn!("cannot open {target}: {e}");
                    ui.send(UiMsg::OpenFailed { target, what });
                }
            }
        });
    }
}

/// This node's machine and the other targets, as one view.
fn compose(machine: &Machine, targets: Vec<TargetView>) -> View {
    View {
        targets,
        ..machine.view()
    }
}

/// The next message, or never when there is no channel.
async fn recv<M>(rx: &mut Option<mpsc::UnboundedReceiver<M>>) -> Option<M> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The settings as the menu shows them: the config file, with the flags that override it.
pub fn settings_view(loaded: &Loaded, overrides: &Overrides) -> SettingsView {
    let c = &loaded.config;
    let s = settings::resolve(overrides, c);
    SettingsView {
        interval_secs: s.interval_secs,
        interval_flag: s.interval_pinned,
        config_port: s.engine.config_port,
        port_flag: s.engine.port,
        notifications: c.notifications,
        icon_style: c.icon_style,
        template_supported: crate::platform::TEMPLATE_ICONS,
        config_path: loaded.path.clone(),
        problem: loaded.problem(),
    }
}

/// Where the history lives.
pub fn history_path(data_dir: Option<&std::path::Path>) -> Option<PathBuf> {
    data_dir.map(|d| d.join("history.json"))
}

#[cfg(test)]
mod tests;
