//! The exporter: Serve Doctor as a Prometheus target. `/probe?target=NAME` diagnoses one
//! configured target (blackbox_exporter's multi-target pattern), `/metrics` shows the exporter
//! itself and the last result of every target.
//!
//! What keeps a scrape storm from becoming a probe storm, and the exporter from being an open
//! relay:
//! - only targets from the config are probed; any other name is refused before anything dials
//!   (a query that could name a host would make this an SSRF hole);
//! - each target has one diagnosis in flight at most, and scrapes that arrive meanwhile wait for
//!   it; a result is reused for [`Settings::cache`];
//! - diagnoses of different targets run side by side up to [`Settings::concurrency`], so a slow
//!   target holds only its own scrapes;
//! - a diagnosis runs as a task of its own: a scraper that hangs up does not cancel it, and the
//!   next scrape gets its result.
//!
//! Above the report and the targets; [`http`] is the server around it.

pub mod http;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use crate::diagnosis::Diagnosis;
use crate::engine::Engine;
use crate::report::prometheus::{self as prom, Sample};
use crate::targets::{self, Target};

/// The exporter's own knobs (the engine's are the usual flags and config).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a result is reused before a scrape starts a new diagnosis.
    pub cache: Duration,
    /// How many diagnoses (of different targets) may run at once.
    pub concurrency: usize,
}

/// One diagnosis's result, as scrapes see it.
#[derive(Debug)]
pub struct Outcome {
    /// When it finished (for the cache).
    pub at: Instant,
    /// The same moment as a Unix time, for the `serve_doctor_last_probe_timestamp_seconds`.
    pub unix: f64,
    /// The diagnosis, or why the target could not be diagnosed at all.
    pub result: Result<Diagnosis, String>,
}

struct Slot {
    target: Target,
    /// Held for as long as a diagnosis of this target runs: the single flight.
    flight: Arc<tokio::sync::Mutex<()>>,
    /// The newest outcome; read by `/metrics` without waiting for a flight.
    last: Mutex<Option<Arc<Outcome>>>,
}

impl Slot {
    fn last(&self) -> Option<Arc<Outcome>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn fresh(&self, cache: Duration) -> Option<Arc<Outcome>> {
        self.last().filter(|o| o.at.elapsed() < cache)
    }
}

/// The exporter's state, shared by every connection.
pub struct Exporter {
    engine: Arc<Engine>,
    slots: Vec<Arc<Slot>>,
    settings: Settings,
    running: Arc<Semaphore>,
    diagnoses: Family<Vec<(String, String)>, Counter>,
    cache_hits: Family<Vec<(String, String)>, Counter>,
    refused: Counter,
    started_unix: f64,
}

/// What `/probe` answers.
pub enum Probed {
    /// The target's metrics, in the text exposition format.
    Metrics(String),
    /// No `target=` in the query.
    Missing,
    /// A name that is not configured: nothing was dialed.
    Unknown(String),
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn target_label(name: &str) -> Vec<(String, String)> {
    vec![("target".to_string(), name.to_string())]
}

impl Exporter {
    /// An exporter for `targets` (names are unique: [`targets::all`] sees to that), diagnosing
    /// with `engine`.
    pub fn new(engine: Engine, targets: Vec<Target>, settings: Settings) -> Exporter {
        let slots = targets
            .into_iter()
            .map(|target| {
                Arc::new(Slot {
                    target,
                    flight: Arc::new(tokio::sync::Mutex::new(())),
                    last: Mutex::new(None),
                })
            })
            .collect();
        Exporter {
            engine: Arc::new(engine),
            slots,
            running: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
            diagnoses: Family::default(),
            cache_hits: Family::default(),
            refused: Counter::default(),
            started_unix: unix_now(),
        }
    }

    /// The configured targets' names, in order.
    pub fn target_names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.target.name.as_str()).collect()
    }

    /// `/probe?target=NAME`: the target's result, fresh from the cache or from a diagnosis this
    /// call starts or joins.
    pub async fn probe(&self, name: Option<&str>) -> Probed {
        let Some(name) = name else {
            self.refused.inc();
            return Probed::Missing;
        };
        let Some(slot) = self.slots.iter().find(|s| s.target.name == name) else {
            self.refused.inc();
            return Probed::Unknown(name.to_string());
        };
        let outcome = self.outcome(slot).await;
        let mut registry = Registry::default();
        register_outcomes(&mut registry, &[(slot.target.name.as_str(), outcome)]);
        Probed::Metrics(render(&registry))
    }

    async fn outcome(&self, slot: &Arc<Slot>) -> Arc<Outcome> {
        let label = target_label(&slot.target.name);
        if let Some(o) = slot.fresh(self.settings.cache) {
            self.cache_hits.get_or_create(&label).inc();
            return o;
        }
        let asked = Instant::now();
        let guard = slot.flight.clone().lock_owned().await;
        // A diagnosis that finished while we waited for the flight answers us too (even with
        // no cache at all): scrapes that arrive together share one diagnosis.
        if let Some(o) = slot
            .last()
            .filter(|o| o.at >= asked || o.at.elapsed() < self.settings.cache)
        {
            self.cache_hits.get_or_create(&label).inc();
            return o;
        }
        self.diagnoses.get_or_create(&label).inc();
        let (engine, slot2, running) = (self.engine.clone(), slot.clone(), self.running.clone());
        let task = tokio::spawn(async move {
            let _flight = guard;
            // The semaphore is never closed, so acquiring only waits.
            let _permit = running.acquire_owned().await.ok();
            let result = targets::diagnose_with(&engine, &slot2.target).await;
            let o = Arc::new(Outcome {
                at: Instant::now(),
                unix: unix_now(),
                result,
            });
            *slot2.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(o.clone());
            o
        });
        match task.await {
            Ok(o) => o,
            // The diagnosis panicked: report the target as unknown rather than hang up.
            Err(e) => Arc::new(Outcome {
                at: Instant::now(),
                unix: unix_now(),
                result: Err(format!("the diagnosis stopped unexpectedly: {e}")),
            }),
        }
    }

    /// `/metrics`: the process, the exporter's counters and the last result of each target
    /// (never a new diagnosis: scraping `/metrics` dials nothing).
    pub fn metrics(&self) -> String {
        let mut registry = Registry::default();
        let p = crate::platform::process_stats();
        if let Some(cpu) = p.cpu_seconds {
            let c = Counter::<f64, std::sync::atomic::AtomicU64>::default();
            c.inc_by(cpu);
            registry.register(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                c,
            );
        }
        for (name, help, v) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                p.resident_bytes,
            ),
            ("process_open_fds", "Open file descriptors", p.open_fds),
            (
                "process_max_fds",
                "Limit of open file descriptors",
                p.max_fds,
            ),
        ] {
            if let Some(v) = v {
                let g = Gauge::<i64>::default();
                g.set(i64::try_from(v).unwrap_or(i64::MAX));
                registry.register(name, help, g);
            }
        }
        let start = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        start.set(self.started_unix);
        registry.register(
            "process_start_time_seconds",
            "When the exporter started, as a Unix time",
            start,
        );
        registry.register(
            "serve_doctor_exporter_diagnoses",
            "Diagnoses started, per target",
            self.diagnoses.clone(),
        );
        registry.register(
            "serve_doctor_exporter_cache_hits",
            "Probes answered from the cache, per target",
            self.cache_hits.clone(),
        );
        registry.register(
            "serve_doctor_exporter_refused_probes",
            "Probes refused because the target was missing or not configured",
            self.refused.clone(),
        );
        let last: Vec<(&str, Arc<Outcome>)> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.target.name.as_str(), s.last()?)))
            .collect();
        register_outcomes(&mut registry, &last);
        render(&registry)
    }
}

/// The report's metrics of each outcome, and when it was taken.
fn register_outcomes(registry: &mut Registry, outcomes: &[(&str, Arc<Outcome>)]) {
    let samples: Vec<Sample> = outcomes
        .iter()
        .map(|(name, o)| Sample {
            target: (*name).to_string(),
            diagnosis: o.result.as_ref().ok(),
        })
        .collect();
    prom::register(registry, &samples);
    let at = Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for (name, o) in outcomes {
        at.get_or_create(&target_label(name)).set(o.unix);
    }
    registry.register(
        "serve_doctor_last_probe_timestamp_seconds",
        "When the result shown was taken, as a Unix time (a cached one is older than the scrape)",
        at,
    );
}

fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, registry);
    out
}
