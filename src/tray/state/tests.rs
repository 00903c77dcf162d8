//! The state machine's rules, driven with made-up clocks; `diag` and `wall` are the tray's
//! shared test fixtures.

use super::*;
use crate::diagnosis::{Check, CheckId, CheckStatus, NodeInfo, PortSource};
use chrono::{FixedOffset, TimeZone};

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
        endpoints: vec![],
        schema: crate::diagnosis::REPORT_SCHEMA,
        certificate: None,
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
fn run(m: &mut Machine, d: Diagnosis, now: Instant, w: Wall) -> (RunKind, AfterRun) {
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
    assert_eq!(out, AfterRun::default());
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
    assert_eq!(out, AfterRun::default(), "nothing new, nothing to do");
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

#[test]
fn another_target_is_debounced_and_announced_by_name_only_when_its_health_changes() {
    let mut t = TargetMachine::default();
    let first = t.finished("laptop", Ok(diag(Cause::Healthy)));
    assert_eq!(first, TargetAfter::default(), "the first result is no news");

    // One red after green is held back and re-checked; the re-check shows it, by name.
    let held = t.finished("laptop", Ok(diag(Cause::HttpsDisabled)));
    assert!(held.recheck && held.notice.is_none());
    assert_eq!(t.shown().map(result_health), Some(Health::Green));
    let shown = t.finished("laptop", Ok(diag(Cause::HttpsDisabled)));
    assert!(!shown.recheck);
    let n = shown.notice.expect("red is news");
    assert_eq!(n.title, "Serve Doctor: Serve broken");
    assert_eq!(n.body, "laptop: summary of https_disabled");

    // The same health again: silent. A blip after green that the re-check clears: silent.
    assert_eq!(
        t.finished("laptop", Ok(diag(Cause::BackendDown))),
        TargetAfter::default()
    );
    t.finished("laptop", Ok(diag(Cause::Healthy)));
    assert!(t.finished("laptop", Ok(diag(Cause::BackendDown))).recheck);
    assert_eq!(
        t.finished("laptop", Ok(diag(Cause::Healthy))),
        TargetAfter::default()
    );

    // A target that cannot be checked is gray, never green, and says why.
    let mut u = TargetMachine::default();
    u.finished("site", Ok(diag(Cause::HttpsDisabled)));
    let gray = u.finished("site", Err("no route".into()));
    assert_eq!(u.shown().map(result_health), Some(Health::Gray));
    assert_eq!(
        gray.notice.map(|n| n.body),
        Some("site: cannot be checked: no route".into())
    );
}

#[test]
fn notifications_carry_the_buttons_the_menu_has_for_them() {
    let ids = |n: &Notice| {
        n.actions
            .iter()
            .map(|a| (a.id, a.cmd.clone()))
            .collect::<Vec<_>>()
    };
    // Green: only a fresh diagnosis to offer.
    assert_eq!(
        ids(&notice_for(&diag(Cause::Healthy))),
        vec![("diagnose", MonitorCmd::DiagnoseNow)]
    );
    // A cause whose fix is the admin console offers it, as the menu item does (and starts the
    // watch for the fix the same way).
    let mut d = diag(Cause::HttpsDisabled);
    d.fixes = vec![Fix {
        id: FixId::OpenAdminDns,
        title: "Enable HTTPS".into(),
        command: None,
        url: Some("https://login.tailscale.com/admin/dns".into()),
    }];
    let n = notice_for(&d);
    assert_eq!(
        ids(&n),
        vec![
            ("diagnose", MonitorCmd::DiagnoseNow),
            (
                "admin",
                MonitorCmd::Open {
                    url: "https://login.tailscale.com/admin/dns".into(),
                    admin: true
                }
            )
        ]
    );
    assert_eq!(n.actions[1].label, "Open admin console");
    // Another target's notification re-checks that target, checkable or not.
    for r in [Ok(d), Err("no route".to_string())] {
        assert_eq!(
            ids(&target_notice("site", &r)),
            vec![("diagnose", MonitorCmd::DiagnoseTarget("site".into()))]
        );
    }
}
