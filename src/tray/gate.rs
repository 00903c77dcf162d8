//! The pause between the actions worker and the monitor: while a write action runs, the monitor
//! starts no diagnosis, and the moment the write ends it runs one.
//!
//! A recreate is `serve reset` then `serve --bg`: a poll that read the config between the two
//! would report "serve not configured" (and perhaps notify) for a state that lasts a second.
//! So the worker marks each write ([`Writes::begin`]), waiting first for a diagnosis already
//! under way to finish, and the monitor leaves its poll, bus and "Diagnose now" runs pending
//! while one is marked ([`Pause`]). Two `watch` channels carry it, one each way; both tasks
//! run on the one background thread, so a check and the mark that follows it cannot interleave.

use std::sync::Arc;

use tokio::sync::watch;

/// What the worker publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Writing {
    /// Writes under way (the UI allows one, but nothing breaks with more).
    running: u32,
    /// Writes finished so far: a write that began and ended between two looks of the monitor
    /// still asks for its diagnosis.
    finished: u64,
}

/// The worker's side. Cheap to clone into each write's task.
#[derive(Debug, Clone)]
pub struct Writes {
    writing: Arc<watch::Sender<Writing>>,
    diagnosing: watch::Receiver<bool>,
}

/// The monitor's side.
#[derive(Debug)]
pub struct Pause {
    writing: watch::Receiver<Writing>,
    /// The worker's side is gone (or never existed): nothing will pause the monitor.
    closed: bool,
    diagnosing: watch::Sender<bool>,
    seen_finished: u64,
}

/// One gate: the worker's side and the monitor's.
pub fn gate() -> (Writes, Pause) {
    let (writing_tx, writing_rx) = watch::channel(Writing::default());
    let (diag_tx, diag_rx) = watch::channel(false);
    (
        Writes {
            writing: Arc::new(writing_tx),
            diagnosing: diag_rx,
        },
        Pause {
            writing: writing_rx,
            closed: false,
            diagnosing: diag_tx,
            seen_finished: 0,
        },
    )
}

/// Held while a write runs; dropping it (the write ended, failed or was cancelled) lets the
/// monitor go on, with a diagnosis first.
#[must_use = "the write counts as running only while this is held"]
#[derive(Debug)]
pub struct Held(Arc<watch::Sender<Writing>>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.send_modify(|w| {
            w.running = w.running.saturating_sub(1);
            w.finished += 1;
        });
    }
}

impl Writes {
    /// Marks a write as running, then waits until the monitor is not in the middle of a
    /// diagnosis (one that started before the mark would otherwise read the config mid-write).
    pub async fn begin(&self) -> Held {
        self.writing.send_modify(|w| w.running += 1);
        let held = Held(self.writing.clone());
        let mut diagnosing = self.diagnosing.clone();
        // An error means the monitor is gone: nothing to wait for.
        let _ = diagnosing.wait_for(|d| !*d).await;
        held
    }
}

/// What changed on the worker's side since the monitor last looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A write began: runs wait.
    Paused,
    /// Every write has ended: diagnose now.
    Resumed,
    /// Nothing the monitor acts on (a write began and another is still running, …).
    Nothing,
}

impl Pause {
    /// A gate whose worker side is dropped at once: for a monitor without an actions worker.
    pub fn never() -> Pause {
        let (_, mut p) = gate();
        p.closed = true;
        p
    }

    /// Whether a write runs now: no diagnosis may start.
    pub fn paused(&self) -> bool {
        !self.closed && self.writing.borrow().running > 0
    }

    /// Waits for the worker's side to change, and says what that means. Never returns once the
    /// worker is gone.
    pub async fn changed(&mut self) -> Change {
        if self.closed || self.writing.changed().await.is_err() {
            self.closed = true;
            return std::future::pending().await;
        }
        let w = *self.writing.borrow_and_update();
        let ended = w.finished > self.seen_finished;
        self.seen_finished = w.finished;
        match (w.running, ended) {
            (0, true) => Change::Resumed,
            (n, _) if n > 0 => Change::Paused,
            _ => Change::Nothing,
        }
    }

    /// Tells the worker a diagnosis is (or no longer is) under way.
    pub fn diagnosing(&self, on: bool) {
        self.diagnosing.send_replace(on);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_pauses_and_its_end_resumes() {
        let (writes, mut pause) = gate();
        assert!(!pause.paused());
        let held = writes.begin().await;
        assert!(pause.paused());
        assert_eq!(pause.changed().await, Change::Paused);
        drop(held);
        assert!(!pause.paused());
        assert_eq!(pause.changed().await, Change::Resumed);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_seen_only_after_it_ended_still_resumes() {
        let (writes, mut pause) = gate();
        drop(writes.begin().await);
        assert_eq!(pause.changed().await, Change::Resumed);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_waits_for_the_diagnosis_under_way() {
        let (writes, pause) = gate();
        pause.diagnosing(true);
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                let started = tokio::task::spawn_local(async move {
                    let _held = writes.begin().await;
                });
                tokio::task::yield_now().await;
                assert!(!started.is_finished(), "began during a diagnosis");
                assert!(pause.paused(), "but no new diagnosis may start meanwhile");
                pause.diagnosing(false);
                started.await.unwrap();
            })
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_a_worker_nothing_pauses() {
        let mut pause = Pause::never();
        assert!(!pause.paused());
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(10), pause.changed()).await;
        assert!(waited.is_err());
    }
}
