//! The IPN bus watcher: a task that keeps a `watch-ipn-bus` stream open to tailscaled and tells
//! the monitor when something that can change a diagnosis happened.
//!
//! Why: polling lags behind reality by up to one interval and, on the CLI route, spawns a process
//! each time. The daemon announces every change that matters to us (state, self node / netmap
//! after the admin enables HTTPS, health) on its bus (docs/TAILSCALE.md#localapi; seen on the
//! real daemon: docs/TAILNET.md), so the icon can follow within a debounce and the poll can slow
//! down to a safety net.
//!
//! The task only reports [`Event`]s; what to run and when is the pure state machine's call
//! (`state.rs`). It subscribes with [`TRAY_MASK`] (initial state and health, no netmap), so every
//! (re)connection starts with a message: a change missed while disconnected is never lost. When
//! the stream ends (tailscaled restarted or stopped) it reconnects with [`Backoff`]. Discovery
//! runs once per connection attempt, never while connected, so an idle app spawns nothing (on
//! macOS discovery may run `lsof` for the App Store app; on Linux it is a `stat`).

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Options;
use crate::tailscale::localapi::{LocalApi, Roots, TRAY_MASK, discover};

/// First wait before reconnecting: long enough that a daemon refusing at once costs nothing.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest wait: a tailscaled started later is noticed within this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Attempts made at [`BACKOFF_MIN`] before the wait starts doubling. A restart of the real
/// tailscaled (an update, `systemctl restart`) takes about 2 s on the tailnet bench: retrying
/// every 0.5 s across that window brings the icon back within half a second of the daemon,
/// where plain doubling left it gray for 1.5 s longer.
pub const BACKOFF_QUICK_TRIES: u32 = 4;

/// Backoff between connection attempts: 0.5 s four times, then 1 s, 2 s … 30 s; back to the
/// start once a stream has delivered a message (not merely answered: a daemon that accepts and
/// hangs up at once must not be hammered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
    tries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: BACKOFF_MIN,
            tries: 0,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        self.tries += 1;
        if self.tries <= BACKOFF_QUICK_TRIES {
            return BACKOFF_MIN;
        }
        self.next = (self.next * 2).min(BACKOFF_MAX);
        self.next
    }

    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// Where to watch: the same route choice as the engine's (`--socket` / config `socket_path`
/// forces that socket, otherwise discovery), so the bus and the diagnosis talk to one daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub socket: Option<PathBuf>,
    pub roots: Roots,
    /// Bound for connecting and the response head (the stream itself has none).
    pub timeout: Duration,
}

/// The bus target for these engine options; `None` when `--tailscale` forces the CLI route
/// (then there is no daemon to listen to, only the CLI to poll).
pub fn target(opts: &Options) -> Option<Target> {
    if opts.tailscale.is_some() {
        return None;
    }
    Some(Target {
        socket: opts.socket.clone(),
        roots: Roots::system(),
        timeout: opts.timeout,
    })
}

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The stream is open (the daemon registered the watcher).
    Up,
    /// A message that can change a diagnosis (state, self node, netmap, health).
    Changed,
    /// An open stream ended: tailscaled stopped, restarted or dropped us.
    Down,
}

/// An event, tagged with the watcher generation that sent it: after a restart of the watcher
/// (the socket changed in the config) events still queued from the old one are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub generation: u64,
    pub kind: EventKind,
}

/// A running watcher; dropping it stops the task (and closes the stream).
#[derive(Debug)]
pub struct Watcher {
    task: JoinHandle<()>,
    pub generation: u64,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `target` on the current tokio runtime; events go to `tx`.
pub fn spawn(target: Target, generation: u64, tx: mpsc::UnboundedSender<Event>) -> Watcher {
    let task = tokio::spawn(watch(target, generation, tx));
    Watcher { task, generation }
}

/// The watcher's loop. Returns when the receiver is gone.
pub async fn watch(target: Target, generation: u64, tx: mpsc::UnboundedSender<Event>) {
    let send = |kind| tx.send(Event { generation, kind }).is_ok();
    let mut backoff = Backoff::default();
    // Failures are logged once per outage, not on every attempt.
    let mut failing_since_logged = false;
    loop {
        let found = discover(target.socket.as_deref(), &target.roots).await;
        let api = LocalApi::new(found.endpoint.clone(), target.timeout);
        match api.watch_ipn_bus(TRAY_MASK).await {
            Ok(mut bus) => {
                failing_since_logged = false;
                log::info!(
                    "IPN bus connected ({}, {}): re-diagnosing on changes",
                    found.endpoint,
                    found.via.describe()
                );
                if !send(EventKind::Up) {
                    return;
                }
                let mut delivered = false;
                while let Some(item) = bus.next().await {
                    match item {
                        Ok(n) => {
                            if !delivered {
                                delivered = true;
                                backoff.reset();
                            }
                            if let Some(e) = &n.err_message {
                                log::warn!("IPN bus: tailscaled says: {e}");
                            }
                            if n.is_interesting() {
                                log::debug!(
                                    "IPN bus: change (state {:?}, self {}, netmap {}, health {})",
                                    n.state.as_ref().map(|s| s.as_str()),
                                    n.self_change,
                                    n.net_map,
                                    n.health.is_some()
                                );
                                if !send(EventKind::Changed) {
                                    return;
                                }
                            }
                        }
                        // A line that is not a Notify: skip it; a broken stream ends next.
                        Err(e) => log::debug!("IPN bus: {e}"),
                    }
                }
                log::info!("IPN bus closed (tailscaled stopped or restarted): reconnecting");
                if !send(EventKind::Down) {
                    return;
                }
            }
            Err(e) => {
                if failing_since_logged {
                    log::debug!("IPN bus not available: {e}");
                } else {
                    failing_since_logged = true;
                    log::info!(
                        "IPN bus not available ({e}); polling, and retrying with backoff up to {} s",
                        BACKOFF_MAX.as_secs()
                    );
                }
            }
        }
        let wait = backoff.failed();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // Nobody listens any more: stop instead of reconnecting for no one.
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_retries_quickly_then_doubles_to_thirty_seconds_and_resets() {
        let mut b = Backoff::default();
        let seq: Vec<u64> = (0..12).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(
            seq,
            [
                500, 500, 500, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000
            ]
        );
        b.reset();
        assert_eq!(b.failed(), BACKOFF_MIN);
    }

    #[test]
    fn the_cli_flag_means_no_bus_and_a_socket_is_followed() {
        let mut o = Options {
            timeout: Duration::from_secs(5),
            ..Options::default()
        };
        let t = target(&o).unwrap();
        assert_eq!((t.socket, t.timeout), (None, Duration::from_secs(5)));
        o.socket = Some("/tmp/x.sock".into());
        assert_eq!(
            target(&o).unwrap().socket.as_deref(),
            Some(std::path::Path::new("/tmp/x.sock"))
        );
        o.tailscale = Some("/usr/bin/tailscale".into());
        assert_eq!(target(&o), None);
    }
}
