//! The event loop: tao on the main thread, the tray icon and its menu, clicks turned into actions.
//!
//! Threads: the main thread runs tao (which drives GTK on Linux and AppKit on macOS) and owns
//! every GUI object (`TrayIcon` and muda items are `!Send`); one background thread runs a
//! current-thread tokio runtime ([`spawn_background`]) with two tasks: the [`Monitor`], and the
//! write actions and desktop settings ([`actions::run`]). They talk through plain data: a
//! [`MonitorCmd`] or an [`ActCmd`] over a tokio channel one way, [`UiMsg`] and [`ActMsg`]
//! through the `EventLoopProxy` the other. Menu clicks arrive through
//! `MenuEvent::set_event_handler`, forwarded into the loop by the same proxy (polling the receiver
//! would not wake a `ControlFlow::Wait` loop), and are routed by their [`MenuAction`] group.
//! A plan that needs confirming gets its dialog's text here and goes to the actions worker,
//! which shows the dialog and sends the answer back as an [`ActMsg`]: no handler of this loop
//! waits for a dialog. The two tasks share one more channel, the [`gate`]: while a fix runs the
//! monitor starts no diagnosis, and it runs one the moment the fix ends.
//!
//! Nothing here may block: every handler is timed and one over 16 ms (a frame) is logged.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tokio::sync::mpsc;
use tray_icon::menu::MenuEvent;
use tray_icon::{TrayIcon, TrayIconBuilder, TrayIconEvent};

use crate::platform::{quit_signal, set_icon, with_icon};
use crate::tray::actions::{self, ActCmd, ActMsg};
use crate::tray::gate;
use crate::tray::history::Entry;
use crate::tray::icons::{self, Look, Scale, Style};
use crate::tray::menu::{self, MenuAction, UiAction};
use crate::tray::monitor::{Diagnoser, Monitor, Ui, UiMsg};
use crate::tray::view::{ActionsView, MonitorCmd, SettingsView, View};

/// A UI handler slower than this is logged: it would drop a frame of the menu.
const SLOW: Duration = Duration::from_millis(16);
/// How long a confirmation ("Copied …") stays in the menu.
const MESSAGE_FOR: Duration = Duration::from_secs(30);
/// How often rebuilding the menu reads the login item back.
const LOGIN_REREAD: Duration = Duration::from_secs(3);

#[derive(Debug)]
pub enum UserEvent {
    Menu(MenuEvent),
    Ui(UiMsg),
    Act(ActMsg),
}

/// The monitor's handle to the UI: the event-loop proxy.
#[derive(Clone)]
pub struct AppUi(EventLoopProxy<UserEvent>);

impl Ui for AppUi {
    fn send(&self, msg: UiMsg) {
        // Fails only when the loop is gone, i.e. while quitting.
        let _ = self.0.send_event(UserEvent::Ui(msg));
    }
}

impl AppUi {
    /// The actions worker's answers take the same way.
    fn act(&self, msg: ActMsg) {
        let _ = self.0.send_event(UserEvent::Act(msg));
    }
}

/// Builds the monitor on its thread, once the UI handle exists.
pub type MakeMonitor<D> = Box<dyn FnOnce(AppUi) -> Monitor<D, AppUi> + Send>;

/// What the app needs that was prepared before the loop (config, history, engine).
pub struct Setup<D> {
    pub monitor: MakeMonitor<D>,
    pub settings: SettingsView,
    pub history: Vec<Entry>,
    /// Where tray-icon writes its PNG files on Linux (cleaned at start: a killed process leaves
    /// one behind).
    pub icon_dir: Option<PathBuf>,
    pub started: Instant,
    /// What the actions worker needs (flags, config path, data dir).
    pub actions: actions::Context,
    /// Where the logs are, for "Reveal logs".
    pub logs_dir: Option<PathBuf>,
    /// The single-instance lock, held until the process ends.
    pub instance: Option<crate::instance::InstanceLock>,
}

/// Runs the app until "Quit" (or SIGTERM/SIGINT). Does not return.
pub fn run<D: Diagnoser + 'static>(setup: Setup<D>) -> ! {
    let mut event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    crate::platform::menu_bar_only(&mut event_loop);
    let proxy = event_loop.create_proxy();
    let menu_proxy = proxy.clone();
    MenuEvent::set_event_handler(Some(move |e| {
        let _ = menu_proxy.send_event(UserEvent::Menu(e));
    }));
    // The menu opens by itself; clicks on the icon need no handling. Setting a handler keeps the
    // events from piling up in tray-icon's unbounded channel.
    TrayIconEvent::set_event_handler(Some(|_e: TrayIconEvent| {}));

    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (act_tx, act_rx) = mpsc::unbounded_channel();
    spawn_background(
        setup.monitor,
        AppUi(proxy),
        cmd_rx,
        setup.actions.clone(),
        act_rx,
    );
    let acts = ActionsView {
        backups_dir: setup
            .actions
            .data_dir
            .as_deref()
            .map(crate::fix::backup::dir),
        logs_dir: setup.logs_dir,
        ..ActionsView::default()
    };

    let mut app = App {
        tray: None,
        rendered: super::render::Rendered::new(),
        view: View::default(),
        history: setup.history,
        settings: setup.settings,
        message: None,
        clipboard: None,
        cmd: cmd_tx,
        act: act_tx,
        acts,
        login_read_at: None,
        _instance: setup.instance,
        look: None,
        tooltip: String::new(),
        menu_logged: String::new(),
        icon_dir: setup.icon_dir,
        started: setup.started,
    };
    app.refresh_menu();

    event_loop.run(move |event, _target, control_flow| {
        let t = Instant::now();
        let name = match event {
            Event::NewEvents(StartCause::Init) => {
                app.create_tray(control_flow);
                "init"
            }
            Event::NewEvents(StartCause::ResumeTimeReached { .. }) => {
                app.refresh_menu();
                "timer"
            }
            Event::UserEvent(UserEvent::Menu(e)) => {
                app.on_menu(e, control_flow);
                "menu"
            }
            Event::UserEvent(UserEvent::Ui(msg)) => {
                app.on_msg(msg, control_flow);
                "update"
            }
            Event::UserEvent(UserEvent::Act(msg)) => {
                app.on_act(msg);
                "action"
            }
            // macOS: the app was opened again (Finder, Spotlight) while running. The second
            // process never gets this far (the instance lock); this is the first one: check.
            Event::Reopen { .. } => {
                app.send(MonitorCmd::DiagnoseNow);
                app.refresh_menu();
                "reopen"
            }
            _ => return,
        };
        if !matches!(
            *control_flow,
            ControlFlow::Exit | ControlFlow::ExitWithCode(_)
        ) {
            *control_flow = match app.message_expires() {
                Some(at) => ControlFlow::WaitUntil(at),
                None => ControlFlow::Wait,
            };
        }
        let took = t.elapsed();
        if took > SLOW {
            log::warn!("UI handler `{name}` took {took:?} (> {SLOW:?})");
        }
    })
}

/// Starts the one background thread: a current-thread tokio runtime whose `LocalSet` runs the
/// monitor (with the signal watcher that turns SIGTERM/SIGINT into a clean quit) and the actions
/// worker as two tasks. One thread is enough: both wait on processes, sockets and timers, and
/// what may block (the browser, the file manager, the login item) goes to the blocking pool.
/// Each task is awaited on its own, so a panic in one leaves the other running.
fn spawn_background<D: Diagnoser + 'static>(
    make: MakeMonitor<D>,
    ui: AppUi,
    cmd_rx: mpsc::UnboundedReceiver<MonitorCmd>,
    acts: actions::Context,
    act_rx: mpsc::UnboundedReceiver<ActCmd>,
) {
    let spawned = std::thread::Builder::new()
        .name("background".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    log::error!("cannot start the tokio runtime: {e}");
                    ui.send(UiMsg::Message(format!("Monitor not running: {e}")));
                    ui.act(ActMsg::Login(Err(format!("not available: {e}"))));
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            let (writes, pause) = gate::gate();
            let monitor = make(ui.clone()).with_pause(pause);
            let signal_ui = ui.clone();
            let monitor = local.spawn_local(async move {
                tokio::select! {
                    _ = monitor.run(cmd_rx) => {}
                    _ = quit_signal() => signal_ui.send(UiMsg::Quit),
                }
            });
            let act_ui = ui.clone();
            let acts =
                local.spawn_local(actions::run(acts, move |m| act_ui.act(m), act_rx, writes));
            local.block_on(&rt, async move {
                let (monitor, acts) = tokio::join!(monitor, acts);
                if monitor.is_err() {
                    log::error!("the monitor stopped after a panic");
                    ui.send(UiMsg::Message(
                        "The monitor stopped unexpectedly: see the log".into(),
                    ));
                }
                if acts.is_err() {
                    log::error!("the actions worker stopped after a panic");
                }
            });
        });
    if let Err(e) = spawned {
        log::error!("cannot start the background thread: {e}");
    }
}

struct App {
    /// Kept for the app's life: dropping it removes the icon.
    tray: Option<TrayIcon>,
    rendered: super::render::Rendered,
    view: View,
    history: Vec<Entry>,
    settings: SettingsView,
    message: Option<(String, Instant)>,
    /// One clipboard for the app's life: on X11 the owner serves the text, so dropping it would
    /// lose what we copied (and the drop itself stalls ~100 ms).
    clipboard: Option<arboard::Clipboard>,
    cmd: mpsc::UnboundedSender<MonitorCmd>,
    /// The actions worker, and what the menu shows of it.
    act: mpsc::UnboundedSender<ActCmd>,
    acts: ActionsView,
    /// When the login item was last asked for.
    login_read_at: Option<Instant>,
    /// Released when the process ends (the event loop never returns).
    _instance: Option<crate::instance::InstanceLock>,
    /// What the icon shows, so it is only replaced when that changes (on Linux every replacement
    /// writes a PNG file).
    look: Option<(Look, Style)>,
    tooltip: String,
    /// The menu's top level (labels, then the ids the arrow keys visit) as last logged.
    menu_logged: String,
    icon_dir: Option<PathBuf>,
    started: Instant,
}

impl App {
    fn style(&self) -> Style {
        match Style::from(self.settings.icon_style) {
            Style::Template if self.settings.template_supported => Style::Template,
            _ => Style::Color,
        }
    }

    fn wanted_look(&self) -> (Look, Style) {
        (
            icons::look_for(self.view.worst(), self.view.checking),
            self.style(),
        )
    }

    fn create_tray(&mut self, control_flow: &mut ControlFlow) {
        let (look, style) = self.wanted_look();
        let icon = match icons::tray_icon(look, style, Scale::for_tray()) {
            Ok(i) => i,
            Err(e) => {
                log::error!("{e:#}");
                eprintln!("serve-doctor: {e:#}");
                *control_flow = ControlFlow::ExitWithCode(70);
                return;
            }
        };
        let mut b = TrayIconBuilder::new()
            .with_id("serve-doctor")
            .with_menu(Box::new(self.rendered.menu()))
            .with_tooltip("Serve Doctor");
        if let Some(dir) = &self.icon_dir {
            b = b.with_temp_dir_path(dir);
        }
        match with_icon(b, icon, style == Style::Template).build() {
            Ok(t) => {
                log::info!("tray icon shown {:?} after start", self.started.elapsed());
                self.tray = Some(t);
                self.look = Some((look, style));
            }
            Err(e) => {
                log::error!("cannot create the tray icon: {e}");
                eprintln!("serve-doctor: cannot create the tray icon: {e}");
                *control_flow = ControlFlow::ExitWithCode(70);
            }
        }
    }

    fn refresh_icon(&mut self) {
        let want = self.wanted_look();
        if self.look == Some(want) {
            return;
        }
        let Some(tray) = &self.tray else { return };
        match icons::tray_icon(want.0, want.1, Scale::for_tray()) {
            Ok(icon) => match set_icon(tray, icon, want.1 == Style::Template) {
                Ok(()) => {
                    log::debug!("icon: {:?}", want.0);
                    self.look = Some(want);
                }
                Err(e) => log::warn!("cannot change the icon: {e}"),
            },
            Err(e) => log::warn!("{e:#}"),
        }
        // The tooltip shows on macOS (and Windows); tray-icon ignores it on Linux.
        let mut tip = match &self.view.diagnosis {
            Some(d) if self.view.health.is_some() => format!("Serve Doctor: {}", d.summary),
            _ => "Serve Doctor: checking…".to_string(),
        };
        // The icon may be showing another target's colour: say which.
        for t in &self.view.targets {
            if t.health()
                .is_some_and(|h| h != crate::diagnosis::Health::Green)
            {
                tip.push_str(&format!("\n{}: {}", t.target.name, t.headline()));
            }
        }
        if tip != self.tooltip {
            let _ = tray.set_tooltip(Some(&tip));
            self.tooltip = tip;
        }
    }

    fn message_expires(&self) -> Option<Instant> {
        self.message.as_ref().map(|(_, at)| *at + MESSAGE_FOR)
    }

    fn refresh_menu(&mut self) {
        if self.message_expires().is_some_and(|t| t <= Instant::now()) {
            self.message = None;
        }
        // The login item's check mark is read back from the system whenever the menu is rebuilt
        // (at most every few seconds, off this thread): the user may have changed it in System
        // Settings or removed the autostart file by hand.
        if !self.acts.login_busy
            && self
                .login_read_at
                .is_none_or(|t| t.elapsed() >= LOGIN_REREAD)
        {
            self.login_read_at = Some(Instant::now());
            let _ = self.act.send(ActCmd::ReadLogin);
        }
        let model = menu::build(menu::Input {
            view: &self.view,
            history: &self.history,
            settings: &self.settings,
            message: self.message.as_ref().map(|m| m.0.as_str()),
            actions: &self.acts,
            now: chrono::Local::now().fixed_offset(),
        });
        // Always sync, even when the model is unchanged: GTK and AppKit toggle a check item on
        // click, and a refused setting must be un-ticked again. Syncing an equal model only
        // compares.
        // The top level's labels, logged when they change: the e2e tests read the menu here.
        let top = model
            .items
            .iter()
            .filter_map(menu::Node::label)
            .collect::<Vec<_>>()
            .join(" | ");
        let keys = model.keyboard_order().join(" | ");
        let logged = format!("{top}\n{keys}");
        if logged != self.menu_logged {
            log::debug!("menu shows: {top}");
            log::debug!("menu keys: {keys}");
            self.menu_logged = logged;
        }
        let created = self.rendered.apply(model);
        if created > 0 {
            log::debug!("menu updated ({created} items created)");
        }
    }

    fn say(&mut self, text: impl Into<String>) {
        let text = text.into();
        log::info!("{text}");
        self.message = Some((text, Instant::now()));
    }

    fn on_msg(&mut self, msg: UiMsg, control_flow: &mut ControlFlow) {
        match msg {
            UiMsg::View(v) => self.view = *v,
            UiMsg::History(h) => self.history = h,
            UiMsg::Settings(s) => self.settings = s,
            UiMsg::Message(m) => self.say(m),
            UiMsg::OpenFailed { target, what } => match self.copy(&target) {
                Ok(()) => self.say(format!(
                    "Nothing could open it: {what} copied to the clipboard"
                )),
                Err(e) => self.say(format!("Nothing could open {target} ({e})")),
            },
            UiMsg::Quit => return self.quit(control_flow),
        }
        self.refresh_menu();
        self.refresh_icon();
    }

    fn on_menu(&mut self, e: MenuEvent, control_flow: &mut ControlFlow) {
        let id = e.id.as_ref();
        let Some(action) = self.rendered.model().action(id).cloned() else {
            log::debug!("menu: {id} does nothing");
            return;
        };
        log::debug!("menu: {id} → {action:?}");
        match action {
            MenuAction::Ui(a) => self.on_ui(a, control_flow),
            MenuAction::Monitor(c) => self.send(c),
            MenuAction::Worker(a) => {
                if let Some(c) = self.acts.click(a) {
                    self.act_send(c);
                }
            }
        }
        if !matches!(
            *control_flow,
            ControlFlow::Exit | ControlFlow::ExitWithCode(_)
        ) {
            self.refresh_menu();
        }
    }

    /// The clicks the main thread handles itself: it owns the clipboard and the loop.
    fn on_ui(&mut self, action: UiAction, control_flow: &mut ControlFlow) {
        match action {
            UiAction::Copy { what, text } => match self.copy(&text) {
                Ok(()) => self.say(format!("Copied {what}")),
                Err(e) => self.say(format!("Could not copy the {what}: {e}")),
            },
            UiAction::CopyReport => {
                let text = self.view.diagnosis.as_ref().map(crate::report::markdown);
                self.copy_report(text, "the report");
            }
            UiAction::CopyTargetReport(name) => {
                let text = self
                    .view
                    .targets
                    .iter()
                    .find(|t| t.target.name == name)
                    .and_then(|t| t.diagnosis())
                    .map(crate::report::markdown);
                self.copy_report(text, &format!("{name}'s report"));
            }
            UiAction::Quit => self.quit(control_flow),
        }
    }

    /// Puts a report on the clipboard; `None` (its diagnosis went away since the menu was
    /// built) does nothing.
    fn copy_report(&mut self, text: Option<String>, what: &str) {
        let Some(text) = text else { return };
        match self.copy(&text) {
            Ok(()) => self.say(format!("Copied {what} (Markdown)")),
            Err(e) => self.say(format!("Could not copy {what}: {e}")),
        }
    }

    fn send(&mut self, c: MonitorCmd) {
        if self.cmd.send(c).is_err() {
            self.say("The monitor is not running: see the log");
        }
    }

    fn act_send(&mut self, c: ActCmd) {
        if self.act.send(c).is_err() {
            self.say("Actions are not available: see the log");
        }
    }

    fn on_act(&mut self, msg: ActMsg) {
        match msg {
            ActMsg::Planned { kind, result } => {
                match &result {
                    Ok(r) => log::info!(
                        "{}: plan {:?} ({} commands, removes {}): {}",
                        kind.title(),
                        r.outcome,
                        r.plan.commands.len(),
                        r.plan.removes.len(),
                        r.message
                    ),
                    Err(e) => log::warn!("{}: cannot plan: {e}", kind.title()),
                }
                if self.acts.planned(kind, result) {
                    self.ask();
                }
            }
            ActMsg::Answered { kind, plan, run } => {
                if let Some(c) = self.acts.answered(kind, &plan, run) {
                    self.act_send(c);
                }
            }
            ActMsg::Finished { kind, result } => {
                // The monitor has already been told (the gate), so no DiagnoseNow here: a
                // second one would queue a second run behind the first.
                if self.acts.finished(kind, result) {
                    self.ask();
                }
            }
            ActMsg::Login(state) => {
                if self.acts.login.as_ref() != Some(&state) {
                    match &state {
                        Ok(on) => log::info!("launch at login: {} (read back)", onoff(*on)),
                        Err(e) => log::warn!("launch at login: {e}"),
                    }
                }
                self.acts.login_read(state);
            }
            ActMsg::NewestBackup(p) => self.acts.newest_backup = p,
            ActMsg::RevealFailed { path, error } => {
                let shown = path.display().to_string();
                match self.copy(&shown) {
                    Ok(()) => self.say(format!(
                        "Nothing could show {shown}: its path is on the clipboard"
                    )),
                    Err(e) => self.say(format!("Nothing could show {shown} ({error}; {e})")),
                }
            }
        }
        self.refresh_menu();
    }

    /// Hands the plan on show to the worker, which shows its dialog.
    fn ask(&mut self) {
        let Some(dialog) = menu::confirm::dialog(&self.acts) else {
            return;
        };
        if let crate::tray::view::Phase::Confirm { kind, plan, .. } = &self.acts.phase {
            let c = ActCmd::Ask {
                kind: *kind,
                plan: plan.clone(),
                dialog,
            };
            self.act_send(c);
        }
    }

    fn copy(&mut self, text: &str) -> Result<(), arboard::Error> {
        if self.clipboard.is_none() {
            self.clipboard = Some(arboard::Clipboard::new()?);
        }
        match &mut self.clipboard {
            Some(c) => c.set_text(text),
            None => Err(arboard::Error::ClipboardNotSupported),
        }
    }

    fn quit(&mut self, control_flow: &mut ControlFlow) {
        log::info!("quitting");
        // Dropping the icon removes it (and its temp PNG) before the process ends.
        self.tray = None;
        *control_flow = ControlFlow::Exit;
    }
}

fn onoff(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
