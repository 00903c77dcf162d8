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

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::time::Instant;

use crate::diagnosis::{Cause, Diagnosis, Fix, FixId, Health};

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

/// Wall-clock time as shown to the user (local offset kept, so history reads right after a move).
pub type Wall = DateTime<FixedOffset>;

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
pub struct Shown {
    pub diagnosis: Diagnosis,
    pub since: Wall,
}

/// A message for the desktop notification service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// What the caller must do after a result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
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

/// Everything the UI needs to draw the icon and the status part of the menu. Plain data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    /// The confirmed health; `None` before the first result.
    pub health: Option<Health>,
    /// The confirmed cause, its sentence and the served URL: the headline keeps showing them
    /// while a visible run's provisional lines update below.
    pub cause: Option<Cause>,
    pub summary: String,
    pub url: Option<String>,
    /// A run the user is waiting for is in progress.
    pub checking: bool,
    /// What the check lines show: the provisional diagnosis of a visible run, else the confirmed
    /// one.
    pub diagnosis: Option<Diagnosis>,
    pub since: Option<Wall>,
    /// While watching for the admin-console fix: until when, and how often it re-checks.
    pub watching_until: Option<Wall>,
    pub watch_every_secs: u64,
    /// Shown after the watched fix worked.
    pub fixed_note: Option<String>,
    /// The recreate-serve offer that goes with `fixed_note`.
    pub offer_recreate: Option<Fix>,
}

#[derive(Debug)]
pub struct Machine {
    interval: Duration,
    shown: Option<Shown>,
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

    pub fn shown(&self) -> Option<&Shown> {
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
    pub fn finished(&mut self, d: Diagnosis, now: Instant, wall: Wall) -> Outcome {
        let kind = self.running.take().unwrap_or(RunKind::Poll);
        self.progress = None;
        let mut out = Outcome::default();
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

        self.shown = Some(Shown {
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
    Notice {
        title: format!("Serve Doctor: {title}"),
        body,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diagnosis::{Check, CheckId, CheckStatus, NodeInfo, PortSource};
    use chrono::TimeZone;

    pub(crate) fn diag(cause: Cause) -> Diagnosis {
        let status = if cause == Cause::Healthy {
            CheckStatus::Pass
        } else {
            CheckStatus::Fail
        };
        Diagnosis {
            health: cause.health(),
            cause,
            summary: format!("summary of {cause}"),
            node: NodeInfo {
                dns_name: Some("laptop.tail1234.ts.net".into()),
                ips: vec!["100.64.0.1".into()],
                tailnet: Some("tail1234.ts.net".into()),
                version: Some("1.80.0".into()),
                backend_state: Some("Running".into()),
            },
            url: Some("https://laptop.tail1234.ts.net/".into()),
            backend_port: 18080,
            backend_port_source: PortSource::ServeConfig,
            checks: vec![
                Check {
                    id: CheckId::TailscaleCli,
                    title: CheckId::TailscaleCli.title(),
                    status: CheckStatus::Pass,
                    detail: "/usr/bin/tailscale 1.80.0".into(),
                    ms: 3,
                },
                Check {
                    id: CheckId::HttpsCerts,
                    title: CheckId::HttpsCerts.title(),
                    status,
                    detail: "CertDomains: laptop.tail1234.ts.net".into(),
                    ms: 0,
                },
            ],
            fixes: vec![],
            consent_url: None,
            route: "cli /usr/bin/tailscale".into(),
            elapsed_ms: 40,
            complete: true,
        }
    }

    pub(crate) fn wall(h: u32, m: u32, s: u32) -> Wall {
        FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2025, 5, 12, h, m, s)
            .unwrap()
    }

    /// Drives the machine like the loop does: start the due run, finish it with `d`.
    fn run(m: &mut Machine, d: Diagnosis, now: Instant, w: Wall) -> (RunKind, Outcome) {
        let (_, kind) = m.next();
        m.started(kind);
        (kind, m.finished(d, now, w))
    }

    const I: Duration = Duration::from_secs(30);

    #[test]
    fn first_result_shows_at_once_without_notice_and_is_recorded() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        assert_eq!(m.next(), (t0, RunKind::Startup));
        m.started(RunKind::Startup);
        assert!(m.view().checking, "startup shows the checking look");
        let (_, out) = run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 2, 0));
        assert_eq!(out.notice, None);
        assert_eq!(
            out.record.as_ref().map(|r| r.1.cause),
            Some(Cause::HttpsDisabled)
        );
        let v = m.view();
        assert_eq!(v.health, Some(Health::Red));
        assert!(!v.checking);
        assert_eq!(v.since, Some(wall(14, 2, 0)));
        assert_eq!(m.next(), (t0 + I, RunKind::Poll));
    }

    #[test]
    fn restart_in_the_same_state_adds_no_history_line() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, Some(Cause::Healthy));
        let (_, out) = run(&mut m, diag(Cause::Healthy), t0, wall(9, 0, 0));
        assert!(out.record.is_none());
    }

    #[test]
    fn one_failed_probe_after_green_is_confirmed_before_turning_red() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::Healthy), t0, wall(14, 0, 0));

        // A blip: held back, icon stays green, a confirm run is due immediately.
        let t1 = t0 + I;
        let (kind, out) = run(&mut m, diag(Cause::BackendDown), t1, wall(14, 0, 30));
        assert_eq!(kind, RunKind::Poll);
        assert!(out.confirming);
        assert_eq!(out.notice, None);
        assert!(out.record.is_none());
        assert_eq!(m.view().health, Some(Health::Green));
        assert!(
            !m.view().checking,
            "a background poll's re-check stays quiet"
        );
        assert_eq!(m.next(), (t1, RunKind::Confirm));

        // The re-check is green: nothing changes, "since" kept.
        let (kind, out) = run(&mut m, diag(Cause::Healthy), t1, wall(14, 0, 31));
        assert_eq!(kind, RunKind::Confirm);
        assert_eq!(out, Outcome::default());
        assert_eq!(m.view().since, Some(wall(14, 0, 0)));
        assert_eq!(m.next(), (t1 + I, RunKind::Poll));

        // A real outage: confirmed, shown, notified, recorded.
        let t2 = t1 + I;
        let (_, out) = run(&mut m, diag(Cause::BackendDown), t2, wall(14, 1, 1));
        assert!(out.confirming);
        let (kind, out) = run(&mut m, diag(Cause::BackendDown), t2, wall(14, 1, 2));
        assert_eq!(kind, RunKind::Confirm);
        assert!(!out.confirming);
        assert_eq!(
            out.notice.as_ref().map(|n| n.title.as_str()),
            Some("Serve Doctor: Serve broken")
        );
        assert_eq!(
            out.notice.map(|n| n.body),
            Some("summary of backend_down".to_string())
        );
        assert_eq!(m.view().health, Some(Health::Red));
        assert_eq!(m.view().since, Some(wall(14, 1, 2)));
        assert_eq!(m.next(), (t2 + I, RunKind::Poll));
    }

    #[test]
    fn recovery_is_shown_at_once() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 0, 0));
        let (_, out) = run(&mut m, diag(Cause::Healthy), t0 + I, wall(14, 0, 30));
        assert!(!out.confirming);
        assert_eq!(
            out.notice.map(|n| n.title),
            Some("Serve Doctor: Serve healthy".to_string())
        );
        assert_eq!(m.view().health, Some(Health::Green));
    }

    #[test]
    fn since_is_when_the_health_began_not_the_cause() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 2, 0));
        let (_, out) = run(&mut m, diag(Cause::BackendDown), t0 + I, wall(14, 2, 30));
        assert_eq!(out.notice, None, "same colour: no notification");
        assert!(out.record.is_some(), "new cause: history line");
        assert_eq!(m.view().since, Some(wall(14, 2, 0)));
        let (_, out) = run(&mut m, diag(Cause::BackendDown), t0 + 2 * I, wall(14, 3, 0));
        assert_eq!(out, Outcome::default(), "nothing new, nothing to do");
    }

    #[test]
    fn manual_run_shows_checking_and_progress() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 0, 0));
        m.request_now(t0 + Duration::from_secs(5));
        assert_eq!(m.next(), (t0 + Duration::from_secs(5), RunKind::Manual));
        m.started(RunKind::Manual);
        let mut p = diag(Cause::HttpsDisabled);
        p.checks[1].status = CheckStatus::Pending;
        assert!(m.progress(&p));
        let v = m.view();
        assert!(v.checking);
        assert_eq!(v.health, Some(Health::Red), "health stays until the result");
        assert_eq!(v.diagnosis.unwrap().checks[1].status, CheckStatus::Pending);
        m.finished(
            diag(Cause::HttpsDisabled),
            t0 + Duration::from_secs(6),
            wall(14, 0, 6),
        );
        assert!(!m.view().checking);

        // Background polls do not report progress.
        m.started(RunKind::Poll);
        assert!(!m.progress(&p));
        assert!(!m.view().checking);
    }

    #[test]
    fn manual_run_after_green_keeps_checking_through_the_confirmation() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::Healthy), t0, wall(14, 0, 0));
        m.request_now(t0);
        run(&mut m, diag(Cause::BackendDown), t0, wall(14, 0, 1));
        m.started(RunKind::Confirm);
        assert!(m.view().checking);
    }

    #[test]
    fn after_opening_the_admin_console_it_rechecks_every_3s_then_says_it_is_fixed() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        let mut broken = diag(Cause::HttpsDisabled);
        broken.fixes.push(Fix {
            id: FixId::RecreateServe,
            title: "Recreate serve".into(),
            command: Some("tailscale serve --bg 18080".into()),
            url: None,
        });
        run(&mut m, broken.clone(), t0, wall(14, 0, 0));
        let t1 = t0 + Duration::from_secs(10);
        m.admin_opened(t1, wall(14, 0, 10));
        assert_eq!(m.next(), (t1 + WATCH_EVERY, RunKind::Watch));
        assert_eq!(m.view().watching_until, Some(wall(14, 5, 10)));

        // Still broken: every 3 s.
        let mut t = t1;
        for _ in 0..5 {
            t += WATCH_EVERY;
            let (kind, _) = run(&mut m, broken.clone(), t, wall(14, 0, 20));
            assert_eq!(kind, RunKind::Watch);
            assert_eq!(m.next(), (t + WATCH_EVERY, RunKind::Watch));
        }

        // Fixed: say so, offer to recreate serve, back to the normal interval.
        t += WATCH_EVERY;
        let (_, out) = run(&mut m, diag(Cause::Healthy), t, wall(14, 0, 40));
        let n = out.notice.unwrap();
        assert_eq!(n.title, "Serve Doctor: fixed");
        assert!(n.body.contains("HTTPS certificates work now"));
        let v = m.view();
        assert_eq!(v.health, Some(Health::Green));
        assert!(v.fixed_note.is_some());
        assert_eq!(v.offer_recreate.map(|f| f.id), Some(FixId::RecreateServe));
        assert_eq!(v.watching_until, None);
        assert_eq!(m.next(), (t + I, RunKind::Poll));
    }

    #[test]
    fn watching_never_slows_a_shorter_interval_down() {
        let t0 = Instant::now();
        let one = Duration::from_secs(1);
        let mut m = Machine::new(one, t0, None);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 0, 0));
        m.admin_opened(t0, wall(14, 0, 0));
        assert_eq!(m.next(), (t0 + one, RunKind::Watch));
    }

    #[test]
    fn watching_stops_after_five_minutes() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 0, 0));
        m.admin_opened(t0, wall(14, 0, 0));
        let mut t = t0;
        let mut runs = 0;
        while m.is_watching() {
            t = m.next().0;
            run(&mut m, diag(Cause::HttpsDisabled), t, wall(14, 0, 0));
            runs += 1;
            assert!(runs < 200, "watching never ends");
        }
        assert_eq!(t, t0 + WATCH_FOR);
        assert_eq!(runs, (WATCH_FOR.as_secs() / WATCH_EVERY.as_secs()) as usize);
        assert_eq!(m.next(), (t + I, RunKind::Poll));
        assert!(m.view().fixed_note.is_none());
    }

    #[test]
    fn interval_change_reschedules_from_the_last_run() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::Healthy), t0, wall(14, 0, 0));
        m.set_interval(Duration::from_secs(10), t0 + Duration::from_secs(2));
        assert_eq!(m.next(), (t0 + Duration::from_secs(10), RunKind::Poll));
        m.set_interval(Duration::from_secs(0), t0);
        assert_eq!(m.interval(), Duration::from_secs(1), "never busy-loop");
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_bus_message_runs_once_after_the_debounce_and_a_burst_is_one_run() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 0, 0));
        m.set_bus(true, t0);
        let t1 = t0 + Duration::from_secs(7);
        m.bus_changed(t1);
        assert_eq!(m.next(), (t1 + BUS_DEBOUNCE, RunKind::Bus));
        // More of the same burst: still one run, still from the first message.
        for i in 1..20 {
            m.bus_changed(t1 + i * 10 * MS);
        }
        assert_eq!(m.next(), (t1 + BUS_DEBOUNCE, RunKind::Bus));
        let t2 = t1 + BUS_DEBOUNCE;
        let (kind, out) = run(&mut m, diag(Cause::Healthy), t2, wall(14, 0, 8));
        assert_eq!(kind, RunKind::Bus);
        assert!(!out.confirming, "good news is shown at once");
        assert_eq!(m.view().health, Some(Health::Green));
        assert!(!m.view().checking, "a bus run is quiet");
        assert_eq!(m.next(), (t2 + DEFAULT_SAFETY_POLL, RunKind::Poll));
    }

    #[test]
    fn a_message_during_a_run_runs_once_more_and_an_earlier_run_absorbs_it() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        // During the startup run: one more run after it, debounced.
        m.started(RunKind::Startup);
        m.bus_changed(t0 + MS);
        m.bus_changed(t0 + 2 * MS);
        let t1 = t0 + 50 * MS;
        m.finished(diag(Cause::HttpsDisabled), t1, wall(14, 0, 0));
        assert_eq!(m.next(), (t1 + BUS_DEBOUNCE, RunKind::Bus));
        run(
            &mut m,
            diag(Cause::HttpsDisabled),
            t1 + BUS_DEBOUNCE,
            wall(14, 0, 1),
        );
        assert_eq!(m.next().1, RunKind::Poll, "and only one");

        // "Diagnose now" is due sooner than the debounce: it reads the new state, no extra run.
        let t2 = t1 + Duration::from_secs(3);
        m.request_now(t2);
        m.bus_changed(t2);
        assert_eq!(m.next(), (t2, RunKind::Manual));
    }

    #[test]
    fn a_bus_run_after_green_is_still_confirmed_before_red() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        m.set_bus(true, t0);
        run(&mut m, diag(Cause::Healthy), t0, wall(14, 0, 0));
        m.bus_changed(t0 + MS);
        let t1 = t0 + MS + BUS_DEBOUNCE;
        let (kind, out) = run(&mut m, diag(Cause::BackendDown), t1, wall(14, 0, 1));
        assert_eq!(kind, RunKind::Bus);
        assert!(out.confirming);
        assert_eq!(m.next(), (t1, RunKind::Confirm));
        assert_eq!(m.view().health, Some(Health::Green));
    }

    #[test]
    fn the_poll_slows_to_the_safety_poll_while_the_bus_is_up_and_returns_when_it_ends() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        run(&mut m, diag(Cause::Healthy), t0, wall(14, 0, 0));
        assert_eq!(m.next(), (t0 + I, RunKind::Poll));

        // Connected: the pending poll moves to the safety cadence, counted from the last run.
        m.set_bus(true, t0 + Duration::from_secs(1));
        assert_eq!(m.poll_every(), DEFAULT_SAFETY_POLL);
        assert_eq!(m.next(), (t0 + DEFAULT_SAFETY_POLL, RunKind::Poll));
        let t1 = t0 + DEFAULT_SAFETY_POLL;
        run(&mut m, diag(Cause::Healthy), t1, wall(14, 5, 0));
        assert_eq!(m.next(), (t1 + DEFAULT_SAFETY_POLL, RunKind::Poll));

        // A configured safety poll; an interval longer than it wins.
        m.set_safety_poll(Duration::from_secs(120), false, t1);
        assert_eq!(m.next(), (t1 + Duration::from_secs(120), RunKind::Poll));
        m.set_interval(Duration::from_secs(600), t1);
        assert_eq!(m.next(), (t1 + Duration::from_secs(600), RunKind::Poll));
        m.set_interval(I, t1);

        // The stream ended: interval polling again, and a run right after the debounce (an
        // overdue poll would simply run at once).
        let t2 = t1 + Duration::from_secs(10);
        m.set_bus(false, t2);
        assert_eq!(m.poll_every(), I);
        assert_eq!(m.next(), (t2 + BUS_DEBOUNCE, RunKind::Bus));
        run(
            &mut m,
            diag(Cause::Healthy),
            t2 + BUS_DEBOUNCE,
            wall(14, 6, 0),
        );
        assert_eq!(m.next(), (t2 + BUS_DEBOUNCE + I, RunKind::Poll));
        m.set_bus(false, t2);
        assert_eq!(m.next().1, RunKind::Poll, "no news: already down");
    }

    #[test]
    fn an_interval_pinned_on_the_command_line_is_kept_with_the_bus_up() {
        let t0 = Instant::now();
        let one = Duration::from_secs(1);
        let mut m = Machine::new(one, t0, None);
        m.set_safety_poll(DEFAULT_SAFETY_POLL, true, t0);
        run(&mut m, diag(Cause::Healthy), t0, wall(14, 0, 0));
        m.set_bus(true, t0);
        assert_eq!(m.poll_every(), one);
        assert_eq!(m.next(), (t0 + one, RunKind::Poll));
    }

    #[test]
    fn watching_after_the_admin_console_keeps_its_pace_with_the_bus_up() {
        let t0 = Instant::now();
        let mut m = Machine::new(I, t0, None);
        m.set_bus(true, t0);
        run(&mut m, diag(Cause::HttpsDisabled), t0, wall(14, 0, 0));
        m.admin_opened(t0, wall(14, 0, 0));
        assert_eq!(m.next(), (t0 + WATCH_EVERY, RunKind::Watch));
        // The bus is faster than the next watch run; after it, watching goes on.
        m.bus_changed(t0 + MS);
        assert_eq!(m.next(), (t0 + MS + BUS_DEBOUNCE, RunKind::Bus));
        let t1 = t0 + MS + BUS_DEBOUNCE;
        run(&mut m, diag(Cause::HttpsDisabled), t1, wall(14, 0, 1));
        assert_eq!(m.next(), (t1 + WATCH_EVERY, RunKind::Watch));
    }
}
