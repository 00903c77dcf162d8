//! The menu's write actions (recreate serve, plain-HTTP fallback, Funnel on/off, restore a
//! backup) and the desktop Settings (launch at login, reveal logs).
//!
//! Two halves, as everywhere in the tray:
//! - [`ActionsView`] is the plain data the menu is built from (in `view.rs`); here are the pure
//!   transitions the UI thread makes on it ([`ActionsView::click`], [`ActionsView::planned`],
//!   [`ActionsView::finished`], …). They enforce "one write at a time": while a plan is read or a
//!   fix runs, nothing else can start.
//! - [`run`] is the worker task that does the slow parts: `fix::run` (CLI calls bounded by the
//!   engine's timeout, plus the cross-process fix lock), the login-item calls and opening the
//!   file manager. It answers with [`ActMsg`]s; the UI thread never blocks on any of it.
//!   Each confirmed run holds the [`Writes`] gate from its fresh plan to its last read-back,
//!   which pauses the monitor and has it diagnose the moment the run ends.
//!
//! The confirmation is the system's dialog (`platform::confirm`): picking an action asks
//! `fix::run` for the plan without changing anything; the UI thread builds the dialog's text from
//! it (the exact commands, what they remove or replace, where the backup goes, Funnel's public
//! URL) and the worker shows it, awaiting the answer as a task of its own, so neither the menu
//! nor another worker command waits. An answer is taken only for the plan still on show (the
//! user may have cancelled from the menu or picked another plan meanwhile). On "Run", the worker
//! plans again and only runs when the plan is still the one the user read; when it changed, the
//! new plan gets a dialog of its own.

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::config;
use crate::fix::{self, FixOptions, FixReport, Outcome, Plan};
use crate::settings::{self, Overrides};
use crate::tray::gate::Writes;
use crate::tray::view::{ActionsView, Dialog, LastWrite, Phase, WorkerAction, WriteKind};

/// From the UI to the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ActCmd {
    Plan(WriteKind),
    /// Show the confirmation dialog for `kind`'s `plan`; the answer comes back as
    /// [`ActMsg::Answered`].
    Ask {
        kind: WriteKind,
        plan: Plan,
        dialog: Dialog,
    },
    /// Run `kind` if its plan is still `plan`.
    Run {
        kind: WriteKind,
        plan: Plan,
    },
    ReadLogin,
    SetLogin(bool),
    Reveal(PathBuf),
}

/// What a confirmed run came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    /// It ran (or was refused / busy): the report says how it ended.
    Report(Box<FixReport>),
    /// Nothing ran: the plan is no longer the one confirmed; this is the new one.
    Changed(Box<FixReport>),
    /// `fix::run` could not even plan (no CLI, status unreadable, …).
    Error(String),
}

/// From the worker to the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum ActMsg {
    Planned {
        kind: WriteKind,
        result: Result<Box<FixReport>, String>,
    },
    Finished {
        kind: WriteKind,
        result: RunResult,
    },
    /// The dialog for `kind`'s `plan` was answered: `run` for the button that runs it.
    Answered {
        kind: WriteKind,
        plan: Plan,
        run: bool,
    },
    Login(Result<bool, String>),
    NewestBackup(Option<PathBuf>),
    /// Nothing could show `path` (no file manager): the UI copies the path and says so.
    RevealFailed {
        path: PathBuf,
        error: String,
    },
}

/// The UI thread's steps through the write-action flow. Pure; the struct is plain data in
/// `view.rs`, its transitions sit here with the commands they send.
impl ActionsView {
    /// A click on one of the actions' items: the step it makes, and the command for the worker
    /// when there is one.
    pub fn click(&mut self, action: WorkerAction) -> Option<ActCmd> {
        match action {
            WorkerAction::Write(kind) => self.pick(kind),
            WorkerAction::CancelWrite => {
                self.cancel();
                None
            }
            WorkerAction::DismissOutcome => {
                self.dismiss();
                None
            }
            WorkerAction::SetLaunchAtLogin(on) => self.set_login(on),
            WorkerAction::RevealLogs => self.logs_dir.clone().map(ActCmd::Reveal),
            WorkerAction::Reveal(path) => Some(ActCmd::Reveal(path)),
        }
    }

    /// The user picked a write action: ask for its plan (nothing changes yet).
    pub fn pick(&mut self, kind: WriteKind) -> Option<ActCmd> {
        if self.busy() {
            return None;
        }
        self.phase = Phase::Planning(kind);
        self.outcome = None;
        Some(ActCmd::Plan(kind))
    }

    /// The plan arrived. Only a real plan asks for confirmation (returns `true`: the caller
    /// shows the dialog); a refusal, "nothing to do", "busy" or an error is the outcome straight
    /// away.
    pub fn planned(&mut self, kind: WriteKind, result: Result<Box<FixReport>, String>) -> bool {
        if self.phase != Phase::Planning(kind) {
            return false; // cancelled meanwhile
        }
        match result {
            Ok(r) if r.outcome == Outcome::Planned => {
                self.phase = Phase::Confirm {
                    kind,
                    plan: r.plan,
                    url: r.url,
                    replanned: false,
                };
                true
            }
            other => {
                self.phase = Phase::Idle;
                self.outcome = Some(last_write(kind, other));
                false
            }
        }
    }

    /// The dialog's answer. Taken only while that same plan is on show: a dialog left open
    /// after "Cancel" in the menu, or after another plan was picked, changes nothing.
    pub fn answered(&mut self, kind: WriteKind, plan: &Plan, run: bool) -> Option<ActCmd> {
        let Phase::Confirm {
            kind: shown,
            plan: on_show,
            ..
        } = &self.phase
        else {
            return None;
        };
        if *shown != kind || !same_plan(on_show, plan) {
            return None;
        }
        if run {
            self.confirm()
        } else {
            self.cancel();
            None
        }
    }

    /// The dialog's "Run" button ([`ActionsView::answered`] with `run`).
    pub fn confirm(&mut self) -> Option<ActCmd> {
        let Phase::Confirm { kind, plan, .. } = &self.phase else {
            return None;
        };
        let cmd = ActCmd::Run {
            kind: *kind,
            plan: plan.clone(),
        };
        self.phase = Phase::Running(*kind);
        Some(cmd)
    }

    /// "Cancel": back to nothing, and a plan still being read is dropped when it arrives.
    pub fn cancel(&mut self) {
        if matches!(self.phase, Phase::Confirm { .. } | Phase::Planning(_)) {
            self.phase = Phase::Idle;
        }
    }

    pub fn dismiss(&mut self) {
        self.outcome = None;
    }

    /// The confirmed run ended. Returns `true` when the config changed under the plan and the
    /// new one needs a dialog.
    pub fn finished(&mut self, kind: WriteKind, result: RunResult) -> bool {
        if self.phase != Phase::Running(kind) {
            log::warn!("a {kind:?} result arrived while {:?}", self.phase);
        }
        match result {
            RunResult::Changed(r) if r.outcome == Outcome::Planned => {
                self.phase = Phase::Confirm {
                    kind,
                    plan: r.plan,
                    url: r.url,
                    replanned: true,
                };
                return true;
            }
            RunResult::Changed(r) | RunResult::Report(r) => {
                self.phase = Phase::Idle;
                self.outcome = Some(last_write(kind, Ok(r)));
            }
            RunResult::Error(e) => {
                self.phase = Phase::Idle;
                self.outcome = Some(last_write(kind, Err(e)));
            }
        }
        false
    }

    /// The user toggled "Launch at login": the item waits for the system's answer.
    pub fn set_login(&mut self, on: bool) -> Option<ActCmd> {
        if self.login_busy {
            return None;
        }
        self.login_busy = true;
        Some(ActCmd::SetLogin(on))
    }

    pub fn login_read(&mut self, state: Result<bool, String>) {
        self.login_busy = false;
        self.login = Some(state);
    }
}

fn last_write(kind: WriteKind, result: Result<Box<FixReport>, String>) -> LastWrite {
    match result {
        Ok(r) => LastWrite {
            kind,
            outcome: r.outcome,
            message: r.message,
            backup: r.backup,
            consent_url: r.consent_url,
        },
        Err(e) => LastWrite {
            kind,
            outcome: Outcome::Failed,
            message: e,
            backup: None,
            consent_url: None,
        },
    }
}

/// What the worker needs to build `FixOptions` the way `serve-doctor fix` does.
#[derive(Debug, Clone)]
pub struct Context {
    /// The app's flags, applied over the config file for every run.
    pub overrides: Overrides,
    /// The config file, read again before each plan (the Settings menu may have changed it).
    pub config_path: PathBuf,
    pub data_dir: Option<PathBuf>,
}

impl Context {
    fn options(&self, confirmed: bool) -> Result<FixOptions, String> {
        let data_dir = self
            .data_dir
            .clone()
            .ok_or("no data directory (no home?): there is nowhere to keep the backup")?;
        let loaded = config::load_from(&self.config_path);
        Ok(FixOptions {
            engine: settings::resolve(&self.overrides, &loaded.config).engine,
            data_dir,
            confirmed,
        })
    }

    async fn plan(&self, kind: WriteKind) -> Result<Box<FixReport>, String> {
        let opts = self.options(false)?;
        fix::run(&kind.fix_action(), &opts)
            .await
            .map(Box::new)
            .map_err(|e| e.to_string())
    }

    /// Runs `kind` if the plan is still the one the user confirmed.
    async fn run(&self, kind: WriteKind, confirmed: &Plan) -> RunResult {
        let fresh = match self.plan(kind).await {
            Ok(r) => r,
            Err(e) => return RunResult::Error(e),
        };
        if fresh.outcome != Outcome::Planned {
            // Refused or nothing to do now: that is the answer.
            return RunResult::Report(fresh);
        }
        if !same_plan(&fresh.plan, confirmed) {
            return RunResult::Changed(fresh);
        }
        let opts = match self.options(true) {
            Ok(o) => o,
            Err(e) => return RunResult::Error(e),
        };
        match fix::run(&kind.fix_action(), &opts).await {
            Ok(r) => RunResult::Report(Box::new(r)),
            Err(e) => RunResult::Error(e.to_string()),
        }
    }

    fn newest_backup(&self) -> Option<PathBuf> {
        let dir = self.data_dir.as_deref()?;
        fix::backup::newest(dir).ok().flatten()
    }
}

/// Whether the user has seen what would run: the same commands removing the same entries.
pub fn same_plan(a: &Plan, b: &Plan) -> bool {
    a.commands == b.commands && a.removes == b.removes
}

/// Reads the login item back; never fatal, the error becomes a menu line.
fn read_login() -> Result<bool, String> {
    crate::platform::login_item::is_enabled().map_err(|e| format!("{e:#}"))
}

/// The worker: answers [`ActCmd`]s until the UI drops its sender. `send` delivers the answers
/// to the UI (the event-loop proxy); the first login state and newest backup go out at once.
/// A task on the tray's background runtime, inside its `LocalSet` (fixes run as local tasks).
pub async fn run(
    ctx: Context,
    send: impl Fn(ActMsg) + Send + Sync + Clone + 'static,
    mut rx: mpsc::UnboundedReceiver<ActCmd>,
    writes: Writes,
) {
    send(ActMsg::NewestBackup(ctx.newest_backup()));
    spawn_login(send.clone(), None);
    while let Some(cmd) = rx.recv().await {
        log::debug!("actions: {cmd:?}");
        let (ctx, send) = (ctx.clone(), send.clone());
        match cmd {
            // On their own tasks, so a slow fix never delays the login item or the file
            // manager; the UI allows one fix at a time, the lock does across processes.
            ActCmd::Plan(kind) => {
                tokio::task::spawn_local(async move {
                    let result = ctx.plan(kind).await;
                    send(ActMsg::Planned { kind, result });
                });
            }
            // Awaited here, not on the blocking pool: the dialog answers through a callback.
            ActCmd::Ask { kind, plan, dialog } => {
                tokio::task::spawn_local(async move {
                    let run = crate::platform::confirm(dialog.title, dialog.body).await;
                    log::info!(
                        "{}: the dialog answered {}",
                        kind.title(),
                        if run { "run" } else { "cancel" }
                    );
                    send(ActMsg::Answered { kind, plan, run });
                });
            }
            ActCmd::Run { kind, plan } => {
                let writes = writes.clone();
                tokio::task::spawn_local(async move {
                    let result = {
                        let _held = writes.begin().await;
                        ctx.run(kind, &plan).await
                    };
                    log_result(kind, &result);
                    send(ActMsg::Finished { kind, result });
                    send(ActMsg::NewestBackup(ctx.newest_backup()));
                });
            }
            ActCmd::ReadLogin => spawn_login(send, None),
            ActCmd::SetLogin(on) => spawn_login(send, Some(on)),
            ActCmd::Reveal(path) => {
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = crate::platform::reveal(&path) {
                        log::warn!("cannot reveal {}: {e:#}", path.display());
                        send(ActMsg::RevealFailed {
                            path,
                            error: format!("{e:#}"),
                        });
                    }
                });
            }
        }
    }
}

/// Sets (when `set` is given) and then reads back the login item, on the blocking pool: on
/// macOS these are SMAppService calls.
fn spawn_login(send: impl Fn(ActMsg) + Send + 'static, set: Option<bool>) {
    tokio::task::spawn_blocking(move || {
        if let Some(on) = set
            && let Err(e) = crate::platform::login_item::set_enabled(on)
        {
            log::warn!("launch at login: cannot turn it {}: {e:#}", onoff(on));
            // Read back anyway: the check mark shows what is true, the error says why.
            let now = read_login();
            send(ActMsg::Login(match now {
                Ok(_) => Err(format!("{e:#}")),
                Err(e2) => Err(e2),
            }));
            return;
        }
        send(ActMsg::Login(read_login()));
    });
}

fn onoff(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn log_result(kind: WriteKind, r: &RunResult) {
    match r {
        RunResult::Report(r) => log::info!(
            "{}: {:?}: {}{}",
            kind.title(),
            r.outcome,
            r.message,
            r.backup
                .as_ref()
                .map(|b| format!(" (backup {})", b.display()))
                .unwrap_or_default()
        ),
        RunResult::Changed(_) => {
            log::info!(
                "{}: the config changed since the plan; asking again",
                kind.title()
            )
        }
        RunResult::Error(e) => log::warn!("{}: {e}", kind.title()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn report(outcome: Outcome) -> Box<FixReport> {
        let mut r = empty_report();
        r.outcome = outcome;
        Box::new(r)
    }

    fn empty_report() -> FixReport {
        FixReport::new(&fix::Action::Recreate {
            keep_others: false,
            https_port: None,
        })
    }

    pub fn recreate_plan() -> Plan {
        Plan {
            commands: vec![
                "tailscale serve reset".into(),
                "tailscale serve --bg --https=443 http://127.0.0.1:18080".into(),
            ],
            removes: vec![
                "https://box.tail1234.ts.net/ → proxy http://127.0.0.1:18080".into(),
                "https://box.tail1234.ts.net:8443/docs → path /srv/docs".into(),
                "Funnel (public access) for https://box.tail1234.ts.net:443".into(),
            ],
            notes: vec!["The other entries listed are NOT put back".into()],
            undo: vec!["serve-doctor fix restore --yes".into()],
        }
    }

    pub fn planned() -> Box<FixReport> {
        let mut r = report(Outcome::Planned);
        r.plan = recreate_plan();
        r
    }

    const RECREATE: WriteKind = WriteKind::Recreate { keep_others: false };

    #[test]
    fn pick_plan_confirm_run_done() {
        let mut a = ActionsView::default();
        assert_eq!(a.pick(RECREATE), Some(ActCmd::Plan(RECREATE)));
        assert!(a.busy());
        assert_eq!(a.pick(WriteKind::FunnelOn), None, "one at a time");
        a.planned(RECREATE, Ok(planned()));
        assert!(matches!(
            a.phase,
            Phase::Confirm {
                replanned: false,
                ..
            }
        ));
        assert!(!a.busy());
        assert_eq!(
            a.confirm(),
            Some(ActCmd::Run {
                kind: RECREATE,
                plan: recreate_plan()
            })
        );
        assert_eq!(a.phase, Phase::Running(RECREATE));
        assert_eq!(a.pick(WriteKind::HttpFallback), None, "never two at once");
        assert_eq!(a.confirm(), None, "confirm only once");
        let mut done = report(Outcome::Done);
        done.message = "serve recreated".into();
        done.backup = Some("/d/backups/b.json".into());
        a.finished(RECREATE, RunResult::Report(done));
        assert_eq!(a.phase, Phase::Idle);
        let o = a.outcome.as_ref().unwrap();
        assert_eq!(o.outcome, Outcome::Done);
        assert_eq!(
            o.backup.as_deref(),
            Some(std::path::Path::new("/d/backups/b.json"))
        );
    }

    #[test]
    fn refusals_and_errors_skip_the_confirmation() {
        let mut a = ActionsView::default();
        a.pick(WriteKind::FunnelOn);
        let mut r = report(Outcome::Refused);
        r.message = "certificates are failing".into();
        a.planned(WriteKind::FunnelOn, Ok(r));
        assert_eq!(a.phase, Phase::Idle);
        assert_eq!(a.outcome.as_ref().unwrap().outcome, Outcome::Refused);

        a.pick(RECREATE);
        a.planned(RECREATE, Err("tailscale not found".into()));
        assert_eq!(a.outcome.as_ref().unwrap().outcome, Outcome::Failed);
        assert_eq!(a.outcome.as_ref().unwrap().message, "tailscale not found");
    }

    #[test]
    fn cancel_drops_a_late_plan_and_a_changed_config_asks_again() {
        let mut a = ActionsView::default();
        a.pick(RECREATE);
        a.cancel();
        a.planned(RECREATE, Ok(planned()));
        assert_eq!(a.phase, Phase::Idle, "a cancelled plan is not shown");

        a.pick(RECREATE);
        a.planned(RECREATE, Ok(planned()));
        a.confirm();
        let mut changed = planned();
        changed.plan.removes.push("https://box/extra".into());
        a.finished(RECREATE, RunResult::Changed(changed));
        assert!(matches!(
            &a.phase,
            Phase::Confirm { replanned: true, plan, .. } if plan.removes.len() == 4
        ));
    }

    #[test]
    fn the_dialog_answer_runs_or_cancels_only_the_plan_still_on_show() {
        let mut a = ActionsView::default();
        a.pick(RECREATE);
        assert!(
            a.planned(RECREATE, Ok(planned())),
            "a plan asks for the dialog"
        );
        // Cancel in the dialog: back to idle, nothing for the worker.
        assert_eq!(a.answered(RECREATE, &recreate_plan(), false), None);
        assert_eq!(a.phase, Phase::Idle);
        // An answer after that (a second dialog left open) changes nothing.
        assert_eq!(a.answered(RECREATE, &recreate_plan(), true), None);
        assert_eq!(a.phase, Phase::Idle);

        // Another plan was picked while the first dialog was up: its answer is not taken.
        a.pick(RECREATE);
        a.planned(RECREATE, Ok(planned()));
        let keep = WriteKind::Recreate { keep_others: true };
        assert_eq!(a.pick(keep), Some(ActCmd::Plan(keep)));
        let mut kept = planned();
        kept.plan.commands.push("tailscale serve set-raw".into());
        a.planned(keep, Ok(kept.clone()));
        assert_eq!(a.answered(RECREATE, &recreate_plan(), true), None);
        assert!(matches!(a.phase, Phase::Confirm { kind, .. } if kind == keep));
        // Run in the dialog that shows it.
        assert_eq!(
            a.answered(keep, &kept.plan, true),
            Some(ActCmd::Run {
                kind: keep,
                plan: kept.plan.clone()
            })
        );
        assert_eq!(a.phase, Phase::Running(keep));
    }

    #[test]
    fn plans_compare_by_commands_and_removals() {
        let p = recreate_plan();
        let mut q = p.clone();
        q.notes.clear();
        assert!(same_plan(&p, &q));
        q.commands.pop();
        assert!(!same_plan(&p, &q));
    }

    #[test]
    fn login_toggle_waits_for_the_read_back() {
        let mut a = ActionsView::default();
        assert_eq!(a.set_login(true), Some(ActCmd::SetLogin(true)));
        assert_eq!(a.set_login(true), None);
        a.login_read(Ok(true));
        assert_eq!(a.login, Some(Ok(true)));
        assert!(!a.login_busy);
    }

    #[test]
    fn clicks_step_the_flow_and_only_some_reach_the_worker() {
        let mut a = ActionsView {
            logs_dir: Some("/logs".into()),
            ..ActionsView::default()
        };
        assert_eq!(
            a.click(WorkerAction::Write(RECREATE)),
            Some(ActCmd::Plan(RECREATE))
        );
        assert_eq!(a.click(WorkerAction::CancelWrite), None);
        assert_eq!(a.phase, Phase::Idle);
        a.outcome = Some(last_write(RECREATE, Err("x".into())));
        assert_eq!(a.click(WorkerAction::DismissOutcome), None);
        assert!(a.outcome.is_none());
        assert_eq!(
            a.click(WorkerAction::RevealLogs),
            Some(ActCmd::Reveal("/logs".into()))
        );
        assert_eq!(
            a.click(WorkerAction::SetLaunchAtLogin(true)),
            Some(ActCmd::SetLogin(true))
        );
        a.logs_dir = None;
        assert_eq!(a.click(WorkerAction::RevealLogs), None);
    }
}
