//! The monitor's state machine: what the icon shows, since when, and when to check next.
//!
//! Pure: no I/O and no clock of its own. The caller passes the monotonic `Instant` (for
//! scheduling) and the wall-clock time (for "since 14:02" and history) into every step, so the
//! tests drive it with made-up times. The async loop that runs diagnoses on this schedule lives in
//! `monitor.rs`.
//!
//! Rules:
//! - **Debounce.** A non-green result right after a confirmed green one is held back as a
//!   *suspect* and the chain runs again at once (a `Confirm` run). Only if that re-check is also
//!   non-green does the icon change; a green re-check leaves the icon green. One blip (a dropped
//!   packet, a backend restarting) therefore never turns the icon red, while a real outage shows
//!   within one extra run, not one extra interval. Transitions towards green are never delayed:
//!   good news is cheap to be wrong about.
//! - **Since.** `since` is when the current *health* began; a new cause with the same colour keeps
//!   it.
//! - **Watching after "Open admin console".** Re-check every 3 s for up to 5 minutes, so the icon
//!   turns green by itself once the user enables HTTPS certificates. When it does, say so and offer
//!   to recreate serve (the certificate is then fetched on the next handshake).
//! - **Notifications** only when the shown health changes (not for the first result, not for a
//!   held-back suspect, not on every poll), plus one when the watched fix worked.
//! - **History** gets an entry whenever the shown cause changes (including the first result).
//! - **The IPN bus.** While tailscaled's `watch-ipn-bus` stream is connected, a change it announces
//!   (state, self node, netmap, health) runs a diagnosis [`BUS_DEBOUNCE`] later, so a burst of
//!   messages is one run; a message that arrives while a run is in progress runs one more
//!   afterwards (the running one may have read the daemon before the change). The regular poll
//!   then only covers what the bus never announces (a backend going down, a certificate nearing
//!   expiry), so it slows to the safety poll: every `max(interval, safety)`, unless the interval
//!   was pinned on the command line (`--interval` means "poll this often", e.g. in tests). When the
//!   stream ends the interval applies again and a run follows (the daemon stopped or restarted).
//! - **Other targets** ([`TargetMachine`]) follow the same debounce and notification rules, each
//!   on its own: a non-green result right after green is re-checked at once, and only a change
//!   of that target's shown health is announced, naming the target. A target that cannot be
//!   checked counts as gray.

use std::time::Duration;

use tokio::time::Instant;

use crate::diagnosis::{Cause, Diagnosis, Fix, FixId, Health};
use crate::tray::view::{MonitorCmd, TargetResult, View, Wall, result_health};

/// How often to re-check while watching for the admin-console fix.
pub const WATCH_EVERY: Duration = Duration::from_secs(3);
/// How long to keep watching.
pub const WATCH_FOR: Duration = Duration::from_secs(5 * 60);
/// How long after a bus message the run starts: a netmap change arrives as several messages
/// (state, self node, health) within milliseconds, and one run is enough for all of them.
pub const BUS_DEBOUNCE: Duration = Duration::from_millis(250);
/// The poll while the bus is connected (config `safety_poll_secs`).
pub const DEFAULT_SAFETY_POLL: Duration =
    Duration::from_secs(crate::config::DEFAULT_SAFETY_POLL_SECS);

/// Why a diagnosis runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The first run after start.
    Startup,
    /// The regular interval.
    Poll,
    /// "Diagnose now", or right after an action (settings changed).
    Manual,
    /// Re-check of a suspect result (see the debounce rule).
    Confirm,
    /// Every 3 s while watching for the admin-console fix.
    Watch,
    /// The IPN bus announced a change (debounced).
    Bus,
}

impl RunKind {
    /// Whether the user is waiting for this run: then the icon shows "checking" and the check
    /// lines update as the steps finish. Background polls stay quiet, or the icon would blink
    /// every interval (and on Linux each icon change writes a PNG file).
    fn visible(self) -> bool {
        matches!(self, RunKind::Startup | RunKind::Manual)
    }
}

/// A confirmed result and when its health began.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmed {
    pub diagnosis: Diagnosis,
    pub since: Wall,
}

/// A message for the desktop notification service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    /// Its buttons, where the platform shows them.
    pub actions: Vec<NoticeAction>,
}

/// A notification's button: its id for the service, its label, and the command a click sends
/// the monitor, the one the menu item of the same name sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeAction {
    pub id: &'static str,
    pub label: &'static str,
    pub cmd: MonitorCmd,
}

impl NoticeAction {
    fn diagnose(cmd: MonitorCmd) -> NoticeAction {
        NoticeAction {
            id: "diagnose",
            label: "Diagnose",
            cmd,
        }
    }
}

/// What the caller must do after a result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AfterRun {
    pub notice: Option<Notice>,
    /// Append to the history: the shown cause changed.
    pub record: Option<(Wall, Diagnosis)>,
    /// The result was held back; a `Confirm` run is due now.
    pub confirming: bool,
}

/// Watching for the admin-console fix.
#[derive(Debug, Clone, PartialEq)]
struct Watch {
    until: Instant,
    until_wall: Wall,
    /// The write action to offer once it works, taken from the last broken diagnosis.
    recreate: Option<Fix>,
}

#[derive(Debug)]
pub struct Machine {
    interval: Duration,
    shown: Option<Confirmed>,
    /// A held-back non-green result after green, and whether the user was watching that run.
    suspect: Option<(Diagnosis, bool)>,
    watch: Option<Watch>,
    running: Option<RunKind>,
    progress: Option<Diagnosis>,
    /// The cause last written to the history (seeded from the file, so a restart in the same
    /// state does not add a duplicate line).
    last_recorded: Option<Cause>,
    fixed: Option<(String, Option<Fix>)>,
    next_due: Instant,
    next_kind: RunKind,
    /// The poll while the bus is connected, and whether `--interval` pinned the interval.
    safety: Duration,
    interval_pinned: bool,
    bus_up: bool,
    /// A bus message came while a run was in progress: run again once it is done.
    bus_pending: bool,
}

impl Machine {
    pub fn new(interval: Duration, now: Instant, last_recorded: Option<Cause>) -> Machine {
        Machine {
            interval: interval.max(Duration::from_secs(1)),
            shown: None,
            suspect: None,
            watch: None,
            running: None,
            progress: None,
            last_recorded,
            fixed: None,
            next_due: now,
            next_kind: RunKind::Startup,
            safety: DEFAULT_SAFETY_POLL,
            interval_pinned: false,
            bus_up: false,
            bus_pending: false,
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How often the regular poll runs now: the interval, or the slower safety poll while the
    /// bus announces changes (see the module docs).
    pub fn poll_every(&self) -> Duration {
        if self.bus_up && !self.interval_pinned {
            self.interval.max(self.safety)
        } else {
            self.interval
        }
    }

    pub fn bus_up(&self) -> bool {
        self.bus_up
    }

    /// Sets the safety poll and whether the interval came from the command line.
    pub fn set_safety_poll(&mut self, safety: Duration, interval_pinned: bool, now: Instant) {
        let old = self.poll_every();
        self.safety = safety.max(Duration::from_secs(1));
        self.interval_pinned = interval_pinned;
        self.reschedule_poll(old, now);
    }

    /// The bus connected (`true`) or its stream ended (`false`). Going down is news in itself
    /// (tailscaled stopped or restarted), so it also schedules a run.
    pub fn set_bus(&mut self, up: bool, now: Instant) {
        if up == self.bus_up {
            return;
        }
        let old = self.poll_every();
        self.bus_up = up;
        self.reschedule_poll(old, now);
        if !up {
            self.bus_changed(now);
        }
    }

    /// The bus announced a change: run [`BUS_DEBOUNCE`] from the first message of a burst,
    /// unless a run is due sooner anyway (it will read the new state too).
    pub fn bus_changed(&mut self, now: Instant) {
        if self.running.is_some() {
            self.bus_pending = true;
            return;
        }
        let at = now + BUS_DEBOUNCE;
        if self.next_due > at {
            self.next_due = at;
            self.next_kind = RunKind::Bus;
        }
    }

    /// A pending poll keeps its last run as the base when the cadence changes.
    fn reschedule_poll(&mut self, old: Duration, now: Instant) {
        if self.next_kind == RunKind::Poll {
            let last = self.next_due.checked_sub(old).unwrap_or(now);
            self.next_due = last + self.poll_every();
        }
    }

    /// Watching re-checks every 3 s, or at the interval if that is shorter (`--interval 1`).
    fn watch_every(&self) -> Duration {
        WATCH_EVERY.min(self.interval)
    }

    /// When the next run is due and what kind it is.
    pub fn next(&self) -> (Instant, RunKind) {
        (self.next_due, self.next_kind)
    }

    pub fn shown(&self) -> Option<&Confirmed> {
        self.shown.as_ref()
    }

    pub fn is_watching(&self) -> bool {
        self.watch.is_some()
    }

    /// A new interval takes effect from the last run: shortening it may make a run due at once.
    pub fn set_interval(&mut self, interval: Duration, now: Instant) {
        let old = self.poll_every();
        self.interval = interval.max(Duration::from_secs(1));
        self.reschedule_poll(old, now);
    }

    /// "Diagnose now" or an action: run at once, visibly.
    pub fn request_now(&mut self, now: Instant) {
        self.next_due = now;
        self.next_kind = RunKind::Manual;
    }

    /// The user opened the admin console: watch for the fix.
    pub fn admin_opened(&mut self, now: Instant, wall: Wall) {
        let recreate = self.shown.as_ref().and_then(|s| {
            s.diagnosis
                .fixes
                .iter()
                .find(|f| f.id == FixId::RecreateServe)
                .cloned()
        });
        self.watch = Some(Watch {
            until: now + WATCH_FOR,
            until_wall: wall + chrono::Duration::seconds(WATCH_FOR.as_secs() as i64),
            recreate,
        });
        self.fixed = None;
        if self.next_kind != RunKind::Manual && self.next_kind != RunKind::Confirm {
            self.next_due = self.next_due.min(now + self.watch_every());
            self.next_kind = RunKind::Watch;
        }
    }

    /// A run starts.
    pub fn started(&mut self, kind: RunKind) {
        self.running = Some(kind);
        self.progress = None;
    }

    /// A step of the running diagnosis finished. Returns whether the UI should hear about it
    /// (only for runs the user is waiting for).
    pub fn progress(&mut self, provisional: &Diagnosis) -> bool {
        if self.running_visible() {
            self.progress = Some(provisional.clone());
            true
        } else {
            false
        }
    }

    fn running_visible(&self) -> bool {
        match self.running {
            Some(RunKind::Confirm) => self.suspect.as_ref().is_some_and(|s| s.1),
            Some(k) => k.visible() || self.shown.is_none(),
            None => false,
        }
    }

    /// A run finished with `d`.
    pub fn finished(&mut self, d: Diagnosis, now: Instant, wall: Wall) -> AfterRun {
        let kind = self.running.take().unwrap_or(RunKind::Poll);
        self.progress = None;
        let mut out = AfterRun::default();
        let prev = self.shown.as_ref().map(|s| s.diagnosis.health);

        // Debounce: hold back the first non-green result after green and re-check at once.
        if prev == Some(Health::Green) && d.health != Health::Green && kind != RunKind::Confirm {
            log::info!("{} after healthy: confirming before showing it", d.cause);
            self.suspect = Some((d, kind.visible()));
            self.next_due = now;
            self.next_kind = RunKind::Confirm;
            // The re-check starts after any bus message that came during this run: it reads the
            // new state, so no extra run is needed for it.
            self.bus_pending = false;
            out.confirming = true;
            return out;
        }
        if kind == RunKind::Confirm && d.health == Health::Green {
            log::info!("re-check is healthy again: ignoring the blip");
        }
        self.suspect = None;

        let health_changed = prev != Some(d.health);
        let since = match (&self.shown, health_changed) {
            (Some(s), false) => s.since,
            _ => wall,
        };
        if health_changed && prev.is_some() {
            out.notice = Some(notice_for(&d));
        }
        if self.last_recorded != Some(d.cause) {
            self.last_recorded = Some(d.cause);
            out.record = Some((wall, d.clone()));
        }
        if health_changed && d.health != Health::Green {
            // A "fixed" note belongs to the green state it announced.
            self.fixed = None;
        }

        if let Some(w) = &mut self.watch {
            if d.health == Health::Green {
                let note = "HTTPS certificates work now: serve is healthy.".to_string();
                let tail = if w.recreate.is_some() {
                    " Recreate serve if your app still does not load."
                } else {
                    ""
                };
                out.notice = Some(Notice {
                    title: "Serve Doctor: fixed".into(),
                    body: format!("{note}{tail}"),
                    actions: vec![NoticeAction::diagnose(MonitorCmd::DiagnoseNow)],
                });
                log::info!("the watched fix worked: {note}");
                self.fixed = Some((note, w.recreate.clone()));
                self.watch = None;
            } else if now >= w.until {
                log::info!("stopped watching for the admin-console fix after {WATCH_FOR:?}");
                self.watch = None;
            } else if let Some(fix) = d.fixes.iter().find(|f| f.id == FixId::RecreateServe) {
                w.recreate = Some(fix.clone());
            }
        }

        self.shown = Some(Confirmed {
            diagnosis: d,
            since,
        });
        (self.next_due, self.next_kind) = match &self.watch {
            Some(_) => (now + self.watch_every(), RunKind::Watch),
            None => (now + self.poll_every(), RunKind::Poll),
        };
        if std::mem::take(&mut self.bus_pending) {
            self.bus_changed(now);
        }
        out
    }

    /// The plain-data snapshot for the UI.
    pub fn view(&self) -> View {
        let visible = self.running_visible();
        View {
            health: self.shown.as_ref().map(|s| s.diagnosis.health),
            cause: self.shown.as_ref().map(|s| s.diagnosis.cause),
            summary: self
                .shown
                .as_ref()
                .map(|s| s.diagnosis.summary.clone())
                .unwrap_or_default(),
            url: self.shown.as_ref().and_then(|s| s.diagnosis.url.clone()),
            checking: visible,
            diagnosis: match (&self.progress, &self.shown) {
                (Some(p), _) if visible => Some(p.clone()),
                (_, Some(s)) => Some(s.diagnosis.clone()),
                _ => None,
            },
            since: self.shown.as_ref().map(|s| s.since),
            watching_until: self.watch.as_ref().map(|w| w.until_wall),
            watch_every_secs: self.watch_every().as_secs(),
            fixed_note: self.fixed.as_ref().map(|f| f.0.clone()),
            offer_recreate: self.fixed.as_ref().and_then(|f| f.1.clone()),
            // The monitor adds the other targets: their runs are not this machine's.
            targets: Vec::new(),
        }
    }
}

/// The notification for a new health: the cause sentence as the body.
pub fn notice_for(d: &Diagnosis) -> Notice {
    let title = match d.health {
        Health::Green => "Serve healthy",
        Health::Yellow => "Serve degraded",
        Health::Red => "Serve broken",
        Health::Gray => "Tailscale not usable",
    };
    let body = match (d.health, &d.url) {
        (Health::Green, Some(url)) => {
            format!("{} is answering over HTTPS.", url.trim_end_matches('/'))
        }
        _ => d.summary.clone(),
    };
    let mut actions = vec![NoticeAction::diagnose(MonitorCmd::DiagnoseNow)];
    // Where the menu offers the admin console as the fix, so does the notification.
    if d.health != Health::Green
        && let Some(url) = d
            .fixes
            .iter()
            .find(|f| f.id == FixId::OpenAdminDns)
            .and_then(|f| f.url.clone())
    {
        actions.push(NoticeAction {
            id: "admin",
            label: "Open admin console",
            cmd: MonitorCmd::Open { url, admin: true },
        });
    }
    Notice {
        title: format!("Serve Doctor: {title}"),
        body,
        actions,
    }
}

/// Another target's shown result. Runs are the monitor's business; this only decides what shows
/// and what is announced (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetMachine {
    shown: Option<TargetResult>,
    /// The last result was a non-green one after green, held back for its re-check.
    suspect: bool,
}

/// What the monitor must do after another target's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetAfter {
    pub notice: Option<Notice>,
    /// The result was held back: run this target again now.
    pub recheck: bool,
}

impl TargetMachine {
    pub fn shown(&self) -> Option<&TargetResult> {
        self.shown.as_ref()
    }

    /// The target called `name` finished a run with `r`.
    pub fn finished(&mut self, name: &str, r: TargetResult) -> TargetAfter {
        let prev = self.shown.as_ref().map(result_health);
        let health = result_health(&r);
        if prev == Some(Health::Green) && health != Health::Green && !self.suspect {
            log::info!("target {name}: {health} after healthy: confirming before showing it");
            self.suspect = true;
            return TargetAfter {
                notice: None,
                recheck: true,
            };
        }
        self.suspect = false;
        let notice = (prev.is_some() && prev != Some(health)).then(|| target_notice(name, &r));
        self.shown = Some(r);
        TargetAfter {
            notice,
            recheck: false,
        }
    }
}

/// The notification for another target's new health: this node's, with the target named.
pub fn target_notice(name: &str, r: &TargetResult) -> Notice {
    match r {
        Ok(d) => {
            let n = notice_for(d);
            Notice {
                title: n.title,
                body: format!("{name}: {}", n.body),
                // The admin console's fix is this node's; the target's own run is what helps.
                actions: vec![NoticeAction::diagnose(MonitorCmd::DiagnoseTarget(
                    name.to_string(),
                ))],
            }
        }
        Err(e) => Notice {
            title: "Serve Doctor: cannot check".into(),
            body: format!("{name}: cannot be checked: {e}"),
            actions: vec![NoticeAction::diagnose(MonitorCmd::DiagnoseTarget(
                name.to_string(),
            ))],
        },
    }
}

#[cfg(test)]
pub(crate) mod tests;
