//! The monitor driven with scripted diagnosers for this node and the other targets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;
use crate::diagnosis::{Cause, Health};
use crate::targets::Target;
use crate::tray::state::tests::diag;
use crate::tray::view::TargetResult;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<UiMsg>>>);

impl Ui for Sink {
    fn send(&self, msg: UiMsg) {
        self.0.lock().unwrap().push(msg);
    }
}

impl Sink {
    fn views(&self) -> Vec<View> {
        let v = self.0.lock().unwrap();
        v.iter()
            .filter_map(|m| match m {
                UiMsg::View(v) => Some((**v).clone()),
                _ => None,
            })
            .collect()
    }
}

/// Returns scripted results, with one progress snapshot each.
struct Script {
    results: Vec<Cause>,
    runs: Arc<Mutex<usize>>,
    reconfigured: Arc<Mutex<Vec<Option<u16>>>>,
}

impl Diagnoser for Script {
    async fn diagnose(&mut self, progress: &mut (dyn FnMut(&Diagnosis) + Send)) -> Diagnosis {
        let mut n = self.runs.lock().unwrap();
        let cause = self.results.get(*n).copied().unwrap_or(Cause::Healthy);
        *n += 1;
        let mut p = diag(cause);
        p.complete = false;
        progress(&p);
        diag(cause)
    }

    fn reconfigure(&mut self, config: &Config) -> anyhow::Result<()> {
        self.reconfigured.lock().unwrap().push(config.backend_port);
        Ok(())
    }
}

type Mon = Monitor<Script, Sink, Remote>;

fn setup(results: Vec<Cause>, dir: &std::path::Path) -> (Mon, Sink, Arc<Mutex<usize>>) {
    setup_with(results, Remote::default(), dir)
}

fn setup_with(
    results: Vec<Cause>,
    remote: Remote,
    dir: &std::path::Path,
) -> (Mon, Sink, Arc<Mutex<usize>>) {
    let sink = Sink::default();
    let runs = Arc::new(Mutex::new(0));
    let script = Script {
        results,
        runs: runs.clone(),
        reconfigured: Arc::default(),
    };
    let loaded = config::load_from(&dir.join("config.json"));
    let history = History::load(Some(dir.join("history.json")));
    let overrides = Overrides {
        interval: Some(30),
        ..Overrides::default()
    };
    (
        Monitor::new(script, remote, sink.clone(), loaded, history, overrides),
        sink,
        runs,
    )
}

#[tokio::test]
async fn startup_run_shows_checking_then_the_result_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, sink, runs) = setup(vec![Cause::HttpsDisabled], dir.path());
    m.run_once().await;
    assert_eq!(*runs.lock().unwrap(), 1);
    let views = sink.views();
    assert!(views[0].checking && views[0].health.is_none());
    assert!(
        views
            .last()
            .is_some_and(|v| !v.checking && v.health == Some(Health::Red))
    );
    let h = History::load(Some(dir.path().join("history.json")));
    assert_eq!(h.last_cause(), Some(Cause::HttpsDisabled));
}

#[tokio::test]
async fn settings_are_saved_keeping_unknown_keys_and_broken_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.json");
    std::fs::write(&p, r#"{"future": 1}"#).unwrap();
    let (mut m, _sink, _) = setup(vec![], dir.path());
    m.command(MonitorCmd::SetPort(Some(3000)));
    m.command(MonitorCmd::SetNotifications(false));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(v["backend_port"], 3000);
    assert_eq!(v["notifications"], false);
    assert_eq!(v["future"], 1);
    assert_eq!(
        m.machine.next().1,
        crate::tray::state::RunKind::Manual,
        "an action re-checks at once"
    );

    std::fs::write(&p, "{ broken").unwrap();
    m.reload_if_changed();
    assert!(m.settings().problem.is_some());
    m.command(MonitorCmd::SetNotifications(true));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "{ broken");
    assert!(sink_has_message(&_sink, "Config file is broken"));
}

#[tokio::test]
async fn a_file_with_one_bad_value_is_used_but_never_saved_over() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.json");
    let text = r#"{"backend_port": 0, "poll_interval_secs": 90, "notifications": false}"#;
    std::fs::write(&p, text).unwrap();
    let (mut m, sink, _) = setup(vec![], dir.path());
    assert!(m.settings().problem.unwrap().contains("backend_port = 0"));
    assert!(!m.settings().notifications, "the good fields are used");
    m.command(MonitorCmd::SetNotifications(true));
    m.command(MonitorCmd::SetPort(Some(3000)));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    assert!(sink_has_message(&sink, "Config file is broken"));
}

fn sink_has_message(s: &Sink, needle: &str) -> bool {
    s.0.lock()
        .unwrap()
        .iter()
        .any(|m| matches!(m, UiMsg::Message(t) if t.contains(needle)))
}

#[tokio::test(flavor = "current_thread")]
async fn the_loop_confirms_a_blip_at_once_and_exits_when_the_ui_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    // Startup green; then "Diagnose now" sees a blip that the immediate re-check clears.
    let (m, sink, runs) = setup(
        vec![Cause::Healthy, Cause::BackendDown, Cause::Healthy],
        dir.path(),
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let wait_for = |n: usize| {
        let runs = runs.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while *runs.lock().unwrap() < n && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    let driver = async move {
        wait_for(1).await;
        tx.send(MonitorCmd::DiagnoseNow).unwrap();
        // The manual run and its confirmation: no 30 s interval in between.
        wait_for(3).await;
        drop(tx);
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(m.run(rx), driver)
    })
    .await
    .unwrap();
    assert_eq!(*runs.lock().unwrap(), 3);
    let views = sink.views();
    assert!(
        views.iter().all(|v| v.health != Some(Health::Red)),
        "the blip never showed"
    );
    assert!(
        views
            .last()
            .is_some_and(|v| v.health == Some(Health::Green) && !v.checking)
    );
}

/// A write held from before the first run: the startup run, a poll and "Diagnose now" all
/// wait for it (on tokio's paused clock a minute goes by at once), and one run follows its end
/// without waiting for the interval.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_run_starts_while_a_write_runs_and_one_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _sink, runs) = setup(vec![], dir.path());
    let (writes, pause) = crate::tray::gate::gate();
    let m = m.with_pause(pause);
    let held = writes.begin().await;
    let (tx, rx) = mpsc::unbounded_channel();
    let driver = async move {
        tx.send(MonitorCmd::DiagnoseNow).unwrap();
        // Past the startup run, the 30 s poll and the bus-less safety net.
        tokio::time::sleep(Duration::from_secs(65)).await;
        assert_eq!(*runs.lock().unwrap(), 0, "a run started during the write");
        let released = Instant::now();
        drop(held);
        while *runs.lock().unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(released.elapsed() < Duration::from_secs(1), "not at once");
        drop(tx);
    };
    tokio::time::timeout(Duration::from_secs(600), async {
        tokio::join!(m.run(rx), driver)
    })
    .await
    .unwrap();
}

/// The other targets' scripted answers: what each name answers now (a test changes it between
/// runs) and after how long; the names of the runs started.
#[derive(Clone)]
struct Remote {
    answers: Arc<Mutex<HashMap<String, (TargetResult, Duration)>>>,
    started: Arc<Mutex<Vec<String>>>,
    bound: Duration,
}

impl Default for Remote {
    fn default() -> Self {
        Remote {
            answers: Arc::default(),
            started: Arc::default(),
            bound: Duration::from_secs(3),
        }
    }
}

impl Remote {
    fn answer(&self, name: &str, r: TargetResult, after: Duration) {
        self.answers.lock().unwrap().insert(name.into(), (r, after));
    }

    fn cause(&self, name: &str, cause: Cause) {
        self.answer(name, Ok(diag(cause)), Duration::ZERO);
    }
}

impl TargetDiagnoser for Remote {
    fn diagnose(&self, target: &Target) -> impl Future<Output = TargetResult> + Send + 'static {
        self.started.lock().unwrap().push(target.name.clone());
        let (r, after) = self
            .answers
            .lock()
            .unwrap()
            .get(&target.name)
            .cloned()
            .unwrap_or((Err("no script".into()), Duration::ZERO));
        async move {
            tokio::time::sleep(after).await;
            r
        }
    }

    fn reconfigure(&mut self, _config: &Config) {}

    fn bound(&self) -> Duration {
        self.bound
    }
}

/// A config file with these `(name, url)` targets and notifications off (no desktop service in
/// tests).
fn write_targets(dir: &std::path::Path, targets: &[&str]) {
    let list: Vec<serde_json::Value> = targets
        .iter()
        .map(|n| serde_json::json!({"name": n, "url": format!("https://{n}.tail1234.ts.net/")}))
        .collect();
    let c = serde_json::json!({"notifications": false, "targets": list});
    std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
}

/// Feeds the monitor the other targets' results until none is running (the loop's job in the
/// app); the results arrive on `rx`, taken from the monitor like the loop does.
async fn settle(m: &mut Mon, rx: &mut mpsc::UnboundedReceiver<others::Done>) {
    while m.others.running() {
        let done = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("a target's run reports within its bound")
            .expect("the channel stays open while the monitor lives");
        m.target_done(done);
    }
}

/// This node answering `local` in turn, and the targets `names` in the config file answering as
/// `remote` says; the results channel taken the way the loop takes it.
fn with_targets(
    dir: &std::path::Path,
    names: &[&str],
    local: Vec<Cause>,
    remote: &Remote,
) -> (Mon, Sink, mpsc::UnboundedReceiver<others::Done>) {
    write_targets(dir, names);
    let (mut m, sink, _) = setup_with(local, remote.clone(), dir);
    let rx = m.others.take_results().unwrap();
    (m, sink, rx)
}

fn names_and_health(v: &View) -> Vec<(String, Option<Health>)> {
    v.targets
        .iter()
        .map(|t| (t.target.name.clone(), t.health()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_icon_shows_the_worst_target_and_follows_it_back_to_green() {
    let dir = tempfile::tempdir().unwrap();
    let remote = Remote::default();
    remote.cause("laptop", Cause::HttpsDisabled);
    remote.cause("site", Cause::Healthy);
    let (mut m, sink, mut rx) = with_targets(dir.path(), &["laptop", "site"], vec![], &remote);

    m.run_once().await;
    settle(&mut m, &mut rx).await;
    let v = sink.views().pop().unwrap();
    assert_eq!(v.health, Some(Health::Green), "this node is healthy");
    assert_eq!(
        names_and_health(&v),
        [
            ("laptop".into(), Some(Health::Red)),
            ("site".into(), Some(Health::Green))
        ]
    );
    assert_eq!(v.worst(), Some(Health::Red));
    assert_eq!(v.targets[0].headline(), Cause::HttpsDisabled.headline());

    // Fixed: the next poll runs every target again, and the icon is green.
    remote.cause("laptop", Cause::Healthy);
    m.run_once().await;
    settle(&mut m, &mut rx).await;
    let v = sink.views().pop().unwrap();
    assert_eq!(v.worst(), Some(Health::Green));
    assert_eq!(
        *remote.started.lock().unwrap(),
        ["laptop", "site", "laptop", "site"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_target_never_holds_up_this_nodes_result_and_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let remote = Remote::default();
    remote.answer("slow", Ok(diag(Cause::Healthy)), Duration::from_secs(3600));
    remote.answer("quick1", Ok(diag(Cause::Healthy)), Duration::from_secs(1));
    remote.answer("quick2", Ok(diag(Cause::Healthy)), Duration::from_secs(1));
    let (mut m, sink, mut rx) = with_targets(
        dir.path(),
        &["slow", "quick1", "quick2"],
        vec![Cause::BackendDown],
        &remote,
    );
    let t0 = Instant::now();

    m.run_once().await;
    let v = sink.views().pop().unwrap();
    assert_eq!(
        v.health,
        Some(Health::Red),
        "this node's result is out at once"
    );
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert!(v.targets.iter().all(|t| t.result.is_none()), "{v:?}");

    // The two quick ones ran side by side (1 s, not 2); the slow one gave up at the bound.
    let first = rx.recv().await.unwrap();
    m.target_done(first);
    let second = rx.recv().await.unwrap();
    m.target_done(second);
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    settle(&mut m, &mut rx).await;
    assert_eq!(t0.elapsed(), remote.bound);
    let v = sink.views().pop().unwrap();
    let slow = &v.targets[0];
    assert_eq!(
        slow.health(),
        Some(Health::Gray),
        "cannot be checked is gray"
    );
    assert_eq!(slow.summary(), "Cannot be checked: no answer within 3 s");
    assert_eq!(v.worst(), Some(Health::Red));
}

#[tokio::test(start_paused = true)]
async fn a_target_removed_from_the_config_file_disappears_and_an_added_one_runs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let remote = Remote::default();
    remote.cause("laptop", Cause::HttpsDisabled);
    remote.answer("site", Ok(diag(Cause::Healthy)), Duration::from_secs(2));
    let (mut m, sink, mut rx) = with_targets(dir.path(), &["laptop", "site"], vec![], &remote);
    m.run_once().await;
    // laptop answers; site is still running when `serve-doctor targets remove` edits the file.
    let done = rx.recv().await.unwrap();
    m.target_done(done);
    assert_eq!(sink.views().pop().unwrap().worst(), Some(Health::Red));
    let p = dir.path().join("config.json");
    crate::targets::remove(&config::load_from(&p), "laptop").unwrap();
    crate::targets::remove(&config::load_from(&p), "site").unwrap();
    m.config_check();
    let v = sink.views().pop().unwrap();
    assert!(v.targets.is_empty(), "{v:?}");
    assert_eq!(v.worst(), Some(Health::Green));
    assert!(!m.others.running(), "the removed target's run was stopped");
    // Its aborted run reports under a number nobody waits for: nothing shows.
    if let Ok(Some(late)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        m.target_done(late);
    }
    assert!(sink.views().pop().unwrap().targets.is_empty());

    // Added by hand: picked up by the next check of the file and run without waiting for a poll.
    let before = remote.started.lock().unwrap().len();
    write_targets(dir.path(), &["phone"]);
    m.config_check();
    assert_eq!(remote.started.lock().unwrap()[before..], ["phone"]);
    settle(&mut m, &mut rx).await;
    let v = sink.views().pop().unwrap();
    assert_eq!(names_and_health(&v), [("phone".into(), Some(Health::Gray))]);
    assert_eq!(v.targets[0].summary(), "Cannot be checked: no script");
}

#[tokio::test(start_paused = true)]
async fn diagnose_now_for_one_target_shows_it_checking_and_rechecks_a_blip_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let remote = Remote::default();
    remote.cause("laptop", Cause::Healthy);
    let (mut m, sink, mut rx) = with_targets(dir.path(), &["laptop"], vec![], &remote);
    m.run_once().await;
    settle(&mut m, &mut rx).await;

    remote.answer(
        "laptop",
        Ok(diag(Cause::BackendDown)),
        Duration::from_secs(1),
    );
    m.command(MonitorCmd::DiagnoseTarget("laptop".into()));
    assert!(sink.views().pop().unwrap().targets[0].checking);
    // The red after green is held back and the target re-checked at once; the re-check is
    // green again, so green is all the UI ever saw.
    let done = rx.recv().await.unwrap();
    remote.cause("laptop", Cause::Healthy);
    m.target_done(done);
    assert!(m.others.running(), "the blip is re-checked");
    settle(&mut m, &mut rx).await;
    let views = sink.views();
    assert!(
        views
            .iter()
            .all(|v| v.targets[0].health() != Some(Health::Red)),
        "the blip never showed"
    );
    assert_eq!(
        views.last().unwrap().targets[0].health(),
        Some(Health::Green)
    );
    assert!(!views.last().unwrap().targets[0].checking);
    assert_eq!(remote.started.lock().unwrap().len(), 3);
}
