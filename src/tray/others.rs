//! The other targets the tray watches besides this node (remote nodes over SSH, URLs seen from
//! this device): the diagnoser that looks at them, and their runs.
//!
//! Each run is a task of its own that reports back on a channel the monitor's loop listens to,
//! so a slow target (an SSH host that never answers) holds up neither this node's result nor the
//! loop: "Diagnose now" and the debounce's re-check still start at once. A run is bounded
//! ([`TargetDiagnoser::bound`]), a target never has two runs at once, and a target removed from
//! the config file has its run aborted and its result dropped. What a result shows and announces
//! is the pure [`TargetMachine`]'s call.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use crate::config::Config;
use crate::engine::Options;
use crate::settings::{self, Overrides};
use crate::targets::{self, Kind, Target};
use crate::tray::state::{Notice, TargetMachine};
use crate::tray::view::{TargetResult, TargetView, result_health};

/// How many timeouts one run of a target may take: a diagnosis is a few steps in a row (status,
/// serve config, the probes), each bounded by the timeout on its own.
const STEPS: u32 = 4;

/// Diagnoses one other target. `targets::diagnose` in the app; scripted results in tests.
pub trait TargetDiagnoser {
    /// The future owns what it needs, so it can run as a task of its own.
    fn diagnose(&self, target: &Target) -> impl Future<Output = TargetResult> + Send + 'static;
    /// The config changed: use its settings from now on.
    fn reconfigure(&mut self, config: &Config);
    /// How long one run may take before the target counts as "cannot be checked".
    fn bound(&self) -> Duration;
}

/// `targets::diagnose` with the settings `diagnose --all` uses: the app's flags over the config.
pub struct EngineTargets {
    overrides: Overrides,
    opts: Options,
}

impl EngineTargets {
    pub fn new(overrides: Overrides, config: &Config) -> EngineTargets {
        let opts = settings::resolve(&overrides, config).engine;
        EngineTargets { overrides, opts }
    }
}

impl TargetDiagnoser for EngineTargets {
    fn diagnose(&self, target: &Target) -> impl Future<Output = TargetResult> + Send + 'static {
        let (target, opts) = (target.clone(), self.opts.clone());
        async move { targets::diagnose(&target, &opts).await }
    }

    fn reconfigure(&mut self, config: &Config) {
        self.opts = settings::resolve(&self.overrides, config).engine;
    }

    fn bound(&self) -> Duration {
        self.opts.timeout * STEPS
    }
}

/// A finished run, on its way back to the monitor's loop.
#[derive(Debug)]
pub struct Done {
    run: u64,
    result: TargetResult,
}

/// Sends its run's result when dropped, so a run that panicked still ends its target's "running"
/// state (an aborted one reports too, under a number nobody waits for any more).
struct Reporter {
    tx: mpsc::UnboundedSender<Done>,
    run: u64,
    result: Option<TargetResult>,
}

impl Reporter {
    fn set(&mut self, result: TargetResult) {
        self.result = Some(result);
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let result = self
            .result
            .take()
            .unwrap_or_else(|| Err("the diagnosis stopped unexpectedly".into()));
        let _ = self.tx.send(Done {
            run: self.run,
            result,
        });
    }
}

struct Watched {
    target: Target,
    machine: TargetMachine,
    /// The run in progress: its number and how to abort it.
    running: Option<(u64, AbortHandle)>,
    /// The user waits for the run in progress.
    asked: bool,
}

/// The other targets, in the config file's order, with their runs.
pub struct Others<T> {
    diag: T,
    watched: Vec<Watched>,
    /// Owns the runs, so they end with the monitor.
    tasks: JoinSet<()>,
    tx: mpsc::UnboundedSender<Done>,
    rx: Option<mpsc::UnboundedReceiver<Done>>,
    runs: u64,
}

impl<T: TargetDiagnoser> Others<T> {
    pub fn new(diag: T, config: &Config) -> Others<T> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut o = Others {
            diag,
            watched: Vec::new(),
            tasks: JoinSet::new(),
            tx,
            rx: Some(rx),
            runs: 0,
        };
        o.set_list(config);
        o
    }

    /// The channel the results come back on, for the loop that listens to it (taken once).
    pub fn take_results(&mut self) -> Option<mpsc::UnboundedReceiver<Done>> {
        self.rx.take()
    }

    /// Follows a new config: its settings, and its list. Returns whether the list changed.
    pub fn reconfigure(&mut self, config: &Config) -> bool {
        self.diag.reconfigure(config);
        self.set_list(config)
    }

    /// A target still listed as it was keeps its result and its run; one removed or changed
    /// (same name, another place) has its run aborted.
    fn set_list(&mut self, config: &Config) -> bool {
        let (list, problems) = targets::all(config);
        for p in problems {
            log::warn!("{p}");
        }
        let wanted: Vec<Target> = list.into_iter().filter(|t| t.kind != Kind::Local).collect();
        if wanted.len() == self.watched.len()
            && wanted
                .iter()
                .zip(&self.watched)
                .all(|(t, w)| *t == w.target)
        {
            return false;
        }
        let mut old = std::mem::take(&mut self.watched);
        for target in wanted {
            match old.iter().position(|w| w.target == target) {
                Some(i) => self.watched.push(old.remove(i)),
                None => {
                    log::info!("watching {}", target.describe());
                    self.watched.push(Watched {
                        target,
                        machine: TargetMachine::default(),
                        running: None,
                        asked: false,
                    });
                }
            }
        }
        for w in old {
            log::info!("no longer watching {}", w.target.describe());
            if let Some((_, h)) = w.running {
                h.abort();
            }
        }
        true
    }

    /// Starts a run of every target that has none in progress; `asked`: the user waits for it.
    pub fn start_all(&mut self, asked: bool) {
        for i in 0..self.watched.len() {
            self.start(i, asked);
        }
    }

    /// Starts the targets that have no result yet (just added to the config file).
    pub fn start_new(&mut self) {
        for i in 0..self.watched.len() {
            if self.watched[i].machine.shown().is_none() {
                self.start(i, false);
            }
        }
    }

    /// Starts a run of the target called `name` for the user; false when there is none.
    pub fn start_named(&mut self, name: &str) -> bool {
        match self.watched.iter().position(|w| w.target.name == name) {
            Some(i) => {
                self.start(i, true);
                true
            }
            None => false,
        }
    }

    fn start(&mut self, i: usize, asked: bool) {
        // Finished tasks stay in the set until joined; they have nothing to say (the reporter
        // did), so clear them out here rather than let them pile up.
        while self.tasks.try_join_next().is_some() {}
        let w = &mut self.watched[i];
        w.asked |= asked;
        if w.running.is_some() {
            return;
        }
        self.runs += 1;
        let run = self.runs;
        let bound = self.diag.bound();
        let fut = self.diag.diagnose(&w.target);
        let mut reporter = Reporter {
            tx: self.tx.clone(),
            run,
            result: None,
        };
        let handle = self.tasks.spawn(async move {
            reporter.set(match tokio::time::timeout(bound, fut).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", bound.as_secs())),
            });
        });
        w.running = Some((run, handle));
    }

    /// A run came back: the target's machine takes it (a held-back result runs it again at
    /// once). Returns the notification to show, if any; `None` too for a run nobody waits for.
    pub fn finished(&mut self, done: Done) -> Option<Notice> {
        let i = self
            .watched
            .iter()
            .position(|w| w.running.as_ref().is_some_and(|r| r.0 == done.run))?;
        let w = &mut self.watched[i];
        w.running = None;
        let before = w.machine.shown().map(result_health);
        let after = w.machine.finished(&w.target.name, done.result);
        if let Some(shown) = w.machine.shown()
            && before != Some(result_health(shown))
        {
            let what = match shown {
                Ok(d) => format!("{} ({})", d.health, d.cause),
                Err(e) => format!("cannot be checked: {e}"),
            };
            log::info!("target {}: {what}", w.target.name);
        }
        if after.recheck {
            let asked = w.asked;
            self.start(i, asked);
        } else {
            w.asked = false;
        }
        after.notice
    }

    /// Whether any run is in progress.
    pub fn running(&self) -> bool {
        self.watched.iter().any(|w| w.running.is_some())
    }

    /// The plain data for the menu.
    pub fn views(&self) -> Vec<TargetView> {
        self.watched
            .iter()
            .map(|w| TargetView {
                target: w.target.clone(),
                result: w.machine.shown().cloned(),
                checking: w.asked && w.running.is_some(),
            })
            .collect()
    }
}
