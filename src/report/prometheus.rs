//! The Prometheus text exposition of a diagnosis, for node_exporter's textfile collector (and
//! the exporter's scrapes): names follow blackbox_exporter where the meaning is the same
//! (`probe_success`, `probe_duration_seconds{phase}`, `probe_ssl_earliest_cert_expiry`,
//! `probe_http_status_code`), plus what only Serve Doctor knows: the health, the cause, and
//! each check's status. Encoded by `prometheus-client`, so the escaping and the format are the
//! library's, not ours.

use std::path::Path;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::diagnosis::{CheckId, Diagnosis, Health};

type Labels = Vec<(String, String)>;

/// `serve_doctor_health`'s value: 0 green, 1 yellow, 2 red, 3 gray (the exit status).
pub fn health_value(h: Health) -> i64 {
    match h {
        Health::Green => 0,
        Health::Yellow => 1,
        Health::Red => 2,
        Health::Gray => 3,
    }
}

/// One target's result: its diagnosis, or `None` when it could not be diagnosed at all (then
/// only `probe_success` 0 and `serve_doctor_health` 3, unknown, are shown for it: nothing is
/// guessed).
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    pub target: String,
    pub diagnosis: Option<&'a Diagnosis>,
}

/// Adds the metrics of each sample to `registry` (one family per metric, labelled by target,
/// so several targets share a registry).
pub fn register(registry: &mut Registry, samples: &[Sample]) {
    let success = Family::<Labels, Gauge>::default();
    let health = Family::<Labels, Gauge>::default();
    let cause = Family::<Labels, Gauge>::default();
    let check = Family::<Labels, Gauge>::default();
    let duration = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let expiry = Family::<Labels, Gauge>::default();
    let http = Family::<Labels, Gauge>::default();
    for sample in samples {
        let t = || vec![("target".to_string(), sample.target.clone())];
        let Some(d) = sample.diagnosis else {
            success.get_or_create(&t()).set(0);
            health.get_or_create(&t()).set(health_value(Health::Gray));
            continue;
        };
        success
            .get_or_create(&t())
            .set(i64::from(d.health == Health::Green));
        health.get_or_create(&t()).set(health_value(d.health));
        let mut l = t();
        l.push(("cause".into(), d.cause.as_str().into()));
        cause.get_or_create(&l).set(1);
        for c in &d.checks {
            let mut l = t();
            l.push(("check".into(), c.id.as_str().into()));
            l.push(("status".into(), c.status.as_str().into()));
            check.get_or_create(&l).set(1);
            if c.ms > 0 {
                let mut l = t();
                l.push(("phase".into(), c.id.as_str().into()));
                duration.get_or_create(&l).set(c.ms as f64 / 1000.0);
            }
        }
        let mut l = t();
        l.push(("phase".into(), "chain".into()));
        duration.get_or_create(&l).set(d.elapsed_ms as f64 / 1000.0);
        if let Some(cert) = &d.certificate {
            expiry.get_or_create(&t()).set(cert.not_after.timestamp());
        }
        if let Some(code) = via_status(d) {
            http.get_or_create(&t()).set(i64::from(code));
        }
    }
    registry.register(
        "probe_success",
        "Whether serve is healthy (1) or not (0)",
        success,
    );
    registry.register(
        "serve_doctor_health",
        "0 green, 1 yellow, 2 red, 3 gray (unknown)",
        health,
    );
    registry.register("serve_doctor_cause", "The root cause (value 1)", cause);
    registry.register(
        "serve_doctor_check",
        "Each check of the chain with its status (value 1)",
        check,
    );
    registry.register(
        "probe_duration_seconds",
        "Duration of each step (phase) and of the whole chain",
        duration,
    );
    registry.register(
        "probe_ssl_earliest_cert_expiry",
        "Expiry of the served certificate, as a Unix time",
        expiry,
    );
    registry.register(
        "probe_http_status_code",
        "HTTP status of the request through serve",
        http,
    );
}

/// The HTTP status of the request through serve, from its check line ("HTTP 200 through serve").
fn via_status(d: &Diagnosis) -> Option<u16> {
    let c = d.check(CheckId::ServeProxy)?;
    let rest = c.detail.split("HTTP ").nth(1)?;
    rest.split(|ch: char| !ch.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The text exposition of `samples`.
pub fn render(samples: &[Sample]) -> String {
    let mut registry = Registry::default();
    register(&mut registry, samples);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// Writes `text` to `path` atomically (temp file in the same directory, then rename), so the
/// textfile collector never reads half a file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // The collector runs as another user: make the file readable like one written by `>`.
    crate::platform::make_world_readable(tmp.path())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackbox_names_and_ours_with_the_cause_and_each_check() {
        let d = crate::diagnosis::tests::healthy_diagnosis();
        let text = render(&[Sample {
            target: "local".into(),
            diagnosis: Some(&d),
        }]);
        for line in [
            "probe_success{target=\"local\"} 1",
            "serve_doctor_health{target=\"local\"} 0",
            "serve_doctor_cause{target=\"local\",cause=\"healthy\"} 1",
            "serve_doctor_check{target=\"local\",check=\"tls_handshake\",status=\"pass\"} 1",
            "probe_http_status_code{target=\"local\"} 200",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(text.contains("probe_ssl_earliest_cert_expiry{target=\"local\"} "));
        assert!(text.contains("probe_duration_seconds{target=\"local\",phase=\"chain\"} 0.012"));
    }

    #[test]
    fn a_target_that_could_not_be_diagnosed_is_unknown_and_nothing_else() {
        let text = render(&[Sample {
            target: "laptop".into(),
            diagnosis: None,
        }]);
        assert!(
            text.contains("probe_success{target=\"laptop\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("serve_doctor_health{target=\"laptop\"} 3"),
            "{text}"
        );
        assert!(!text.contains("serve_doctor_cause{"), "{text}");
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("serve.prom");
        std::fs::write(&p, "old").unwrap();
        write_atomically(&p, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
