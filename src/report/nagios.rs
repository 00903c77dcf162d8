//! The monitoring-plugin rendering (Nagios, Icinga, Naemon, Sensu): one status line with
//! performance data, then the checks as long output. The exit status is already the plugin
//! convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//!
//! Grammar kept to: `SERVICE STATUS - text | 'label'=value[UOM];[warn];[crit];[min];[max] …`,
//! labels quoted, no `|` or `'` inside text or labels, long output lines after the first.

use std::fmt::Write;

use crate::diagnosis::rules::EXPIRY_WARNING_DAYS;
use crate::diagnosis::{CheckStatus, Diagnosis, Health};

/// The status word of a health.
pub fn status_word(h: Health) -> &'static str {
    match h {
        Health::Green => "OK",
        Health::Yellow => "WARNING",
        Health::Red => "CRITICAL",
        Health::Gray => "UNKNOWN",
    }
}

/// Text that may not hold the separators of the format.
fn clean(s: &str) -> String {
    s.replace('|', "/").replace('\'', "’").replace('\n', " ")
}

fn secs(ms: u64) -> String {
    format!("{:.3}s", ms as f64 / 1000.0)
}

/// The plugin output for `d`.
pub fn render(d: &Diagnosis) -> String {
    let mut perf = vec![format!("'chain'={};;;0", secs(d.elapsed_ms))];
    for c in d.checks.iter().filter(|c| c.ms > 0) {
        perf.push(format!("'{}'={};;;0", c.id, secs(c.ms)));
    }
    if let Some(cert) = &d.certificate {
        perf.push(format!(
            "'cert_days'={};{EXPIRY_WARNING_DAYS};0",
            cert.days_left
        ));
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "SERVE-DOCTOR {} - {}: {} | {}",
        status_word(d.health),
        d.cause,
        clean(&d.summary),
        perf.join(" ")
    );
    for c in &d.checks {
        let mark = match c.status {
            CheckStatus::Pass => "[OK]",
            CheckStatus::Warn => "[WARNING]",
            CheckStatus::Fail => "[CRITICAL]",
            CheckStatus::Skip => "[SKIPPED]",
            CheckStatus::Error | CheckStatus::Pending => "[UNKNOWN]",
        };
        let _ = writeln!(s, "{mark} {}: {}", c.title, clean(&c.detail));
    }
    for e in d.endpoints.iter().filter(|e| !e.primary) {
        let _ = writeln!(
            s,
            "[{}] endpoint {}: {}",
            e.status.as_str().to_ascii_uppercase(),
            clean(&e.url),
            clean(&e.summary)
        );
    }
    if let Some(f) = d.fixes.first() {
        let _ = writeln!(s, "Fix: {}", clean(&f.title));
    }
    s
}

/// Several targets: the worst as the status line, then each target's own line as long output.
pub fn render_targets(reports: &[crate::targets::TargetReport], worst: Health) -> String {
    let mut s = String::new();
    let bad: Vec<String> = reports
        .iter()
        .filter(|r| r.health() != Health::Green)
        .map(|r| {
            let cause = r.diagnosis.as_ref().map_or("error", |d| d.cause.as_str());
            format!("{} {cause}", r.target.name)
        })
        .collect();
    let text = if bad.is_empty() {
        format!("{} target(s) healthy", reports.len())
    } else {
        bad.join(", ")
    };
    let perf: Vec<String> = reports
        .iter()
        .filter_map(|r| {
            let d = r.diagnosis.as_ref()?;
            Some(format!(
                "'{}_chain'={};;;0",
                clean(&r.target.name),
                secs(d.elapsed_ms)
            ))
        })
        .collect();
    let _ = writeln!(
        s,
        "SERVE-DOCTOR {} - {} | {}",
        status_word(worst),
        clean(&text),
        perf.join(" ")
    );
    for r in reports {
        match &r.diagnosis {
            Some(d) => {
                let _ = writeln!(
                    s,
                    "[{}] {}: {}: {}",
                    status_word(d.health),
                    r.target.name,
                    d.cause,
                    clean(&d.summary)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "[UNKNOWN] {}: {}",
                    r.target.name,
                    clean(r.error.as_deref().unwrap_or("not diagnosed"))
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::Cause;

    /// One performance datum: label, value, unit.
    type Datum = (String, f64, String);

    /// A strict reader of the plugin format: the status line's parts, or why it is not one.
    fn parse(out: &str) -> Result<(String, String, Vec<Datum>), String> {
        let first = out.lines().next().ok_or("no output")?;
        let rest = first
            .strip_prefix("SERVE-DOCTOR ")
            .ok_or("no service name")?;
        let (status, rest) = rest.split_once(" - ").ok_or("no ' - '")?;
        if !["OK", "WARNING", "CRITICAL", "UNKNOWN"].contains(&status) {
            return Err(format!("bad status {status}"));
        }
        let (text, perf) = rest.split_once(" | ").ok_or("no perfdata")?;
        if text.contains('|') {
            return Err("a | in the text".into());
        }
        let mut data = Vec::new();
        for item in perf.split(' ') {
            let (label, value) = item.split_once('=').ok_or(format!("{item}: no ="))?;
            let label = label
                .strip_prefix('\'')
                .and_then(|l| l.strip_suffix('\''))
                .ok_or(format!("{label}: not quoted"))?;
            if label.contains('\'') || label.contains('=') {
                return Err(format!("{label}: bad label"));
            }
            let fields: Vec<&str> = value.split(';').collect();
            if fields.len() > 5 {
                return Err(format!("{value}: too many fields"));
            }
            let num_end = fields[0]
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(fields[0].len());
            let (num, uom) = fields[0].split_at(num_end);
            let v: f64 = num.parse().map_err(|_| format!("{value}: not a number"))?;
            if !["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&uom) {
                return Err(format!("{uom}: not a unit"));
            }
            for f in &fields[1..] {
                if !f.is_empty() && f.parse::<f64>().is_err() {
                    return Err(format!("{value}: threshold {f} is not a number"));
                }
            }
            data.push((label.to_string(), v, uom.to_string()));
        }
        Ok((status.to_string(), text.to_string(), data))
    }

    #[test]
    fn every_cause_renders_as_a_valid_plugin_line_with_its_status() {
        let base = crate::diagnosis::tests::healthy_diagnosis();
        for &cause in Cause::ALL {
            let mut d = base.clone();
            d.cause = cause;
            d.health = cause.health();
            // Separators of the format inside the text must not break it.
            d.summary = format!("{} | with 'quotes'\nand a new line", cause.headline());
            let out = render(&d);
            let (status, text, perf) =
                parse(&out).unwrap_or_else(|e| panic!("{cause}: {e}\n{out}"));
            assert_eq!(status, status_word(cause.health()), "{cause}");
            assert!(text.starts_with(&format!("{cause}: ")), "{text}");
            assert_eq!(perf[0].0, "chain");
            assert!(
                perf.iter().any(|p| p.0 == "cert_days" && p.2.is_empty()),
                "{out}"
            );
            assert!(out.lines().count() > d.checks.len(), "long output: {out}");
        }
    }
}
