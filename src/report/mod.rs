//! Renderings of a [`Diagnosis`]: a terminal report, one JSON object, and Markdown that can be
//! pasted into an issue. Rendering only: nothing here decides anything.

pub mod nagios;
pub mod prometheus;

use std::fmt::Write;

use crate::diagnosis::{CheckStatus, Diagnosis, Health, PortSource};
use crate::targets::TargetReport;

fn health_word(h: Health) -> &'static str {
    match h {
        Health::Green => "GREEN",
        Health::Yellow => "YELLOW",
        Health::Red => "RED",
        Health::Gray => "GRAY",
    }
}

fn health_symbol(h: Health) -> &'static str {
    match h {
        Health::Green => "✓",
        Health::Yellow => "⚠",
        Health::Red => "✗",
        Health::Gray => "–",
    }
}

fn node_line(d: &Diagnosis) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &d.node.tailnet {
        parts.push(format!("tailnet {t}"));
    }
    if let Some(v) = &d.node.version {
        parts.push(format!("Tailscale {v}"));
    }
    let name = d.node.dns_name.as_deref().unwrap_or("(node name unknown)");
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", parts.join(", "))
    }
}

/// The backend port and where it came from; from another device it is out of sight.
fn backend_port(d: &Diagnosis) -> String {
    match d.backend_port_source {
        PortSource::Unseen => "Backend: on the serving node, not visible from here".into(),
        source => format!("Backend port {} ({})", d.backend_port, source.describe()),
    }
}

/// The terminal report: one line per check, then the verdict and the fixes.
pub fn text(d: &Diagnosis) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Serve Doctor — {}", node_line(d));
    let width = d
        .checks
        .iter()
        .map(|c| c.title.chars().count())
        .max()
        .unwrap_or(0);
    for c in &d.checks {
        let ms = if c.ms > 0 {
            format!("  ({} ms)", c.ms)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {} {:<width$}  {}{ms}",
            c.status.symbol(),
            c.title,
            c.detail
        );
    }
    // The other endpoints (the chain above follows the primary one); shown when there is more
    // than the one the chain already covers.
    if d.endpoints.len() > 1 || d.endpoints.iter().any(|e| !e.primary) {
        let _ = writeln!(s);
        let _ = writeln!(s, "Endpoints:");
        for e in &d.endpoints {
            let _ = writeln!(
                s,
                "  {} {}{}{}  {} — {}",
                e.status.symbol(),
                e.url,
                if e.public { " (public: Funnel)" } else { "" },
                if e.primary { " (main)" } else { "" },
                e.handler,
                e.summary
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{} {} — {}",
        health_symbol(d.health),
        health_word(d.health),
        d.cause
    );
    let _ = writeln!(s, "{}", d.summary);
    if !d.fixes.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Fix, in this order:");
        for (i, f) in d.fixes.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", i + 1, f.title);
            if let Some(c) = &f.command {
                let _ = writeln!(s, "     $ {c}");
            }
            if let Some(u) = &f.url {
                let _ = writeln!(s, "     {u}");
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}. Checked through {} in {} ms.",
        backend_port(d),
        d.route,
        d.elapsed_ms
    );
    s
}

/// One JSON object (pretty-printed), the `--json` interface.
pub fn json(d: &Diagnosis) -> String {
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn status_word(s: CheckStatus) -> &'static str {
    s.as_str()
}

/// A report to paste into an issue: checks as a table, the verdict, the fixes.
pub fn markdown(d: &Diagnosis) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Serve Doctor report: {} `{}`",
        health_word(d.health),
        d.cause
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "**{}**", cell(&d.summary));
    let _ = writeln!(s);
    let _ = writeln!(s, "Node: {}  ", cell(&node_line(d)));
    if !d.node.ips.is_empty() {
        let _ = writeln!(s, "IPs: {}  ", d.node.ips.join(", "));
    }
    let _ = writeln!(
        s,
        "{}; checked through {} in {} ms",
        backend_port(d),
        cell(&d.route),
        d.elapsed_ms
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "| | Check | Result | Evidence | ms |");
    let _ = writeln!(s, "|---|---|---|---|---:|");
    for c in &d.checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c.status.symbol(),
            c.title,
            status_word(c.status),
            cell(&c.detail),
            c.ms
        );
    }
    if !d.endpoints.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "| | Endpoint | Public | Handler | Verdict |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for e in &d.endpoints {
            let _ = writeln!(
                s,
                "| {} | {}{} | {} | {} | {} |",
                e.status.symbol(),
                cell(&e.url),
                if e.primary { " (main)" } else { "" },
                if e.public { "yes" } else { "no" },
                cell(&e.handler),
                cell(&e.summary)
            );
        }
    }
    if !d.fixes.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "#### Fixes, in order");
        let _ = writeln!(s);
        for (i, f) in d.fixes.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", i + 1, cell(&f.title));
            if let Some(c) = &f.command {
                let _ = writeln!(s, "   ```sh\n   {c}\n   ```");
            }
            if let Some(u) = &f.url {
                let _ = writeln!(s, "   <{u}>");
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "<sub>serve-doctor {}</sub>", env!("CARGO_PKG_VERSION"));
    s
}

/// Several targets in one JSON object: the worst health, then one entry per target.
pub fn json_targets(reports: &[TargetReport], worst: Health) -> String {
    let v = serde_json::json!({"health": worst, "targets": reports});
    serde_json::to_string_pretty(&v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Several targets, one section each (text or Markdown), the worst first in a summary line.
pub fn targets_text(reports: &[TargetReport], worst: Health, as_markdown: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} — {} target(s)",
        health_symbol(worst),
        health_word(worst),
        reports.len()
    );
    for r in reports {
        let cause = r.diagnosis.as_ref().map_or("error", |d| d.cause.as_str());
        let _ = writeln!(
            s,
            "  {} {:<16} {}",
            health_symbol(r.health()),
            r.target.name,
            cause
        );
    }
    for r in reports {
        let _ = writeln!(s);
        let _ = writeln!(s, "== {} — {}", r.target.name, r.target.describe());
        match &r.diagnosis {
            Some(d) if as_markdown => s.push_str(&markdown(d)),
            Some(d) => s.push_str(&text(d)),
            None => {
                let _ = writeln!(s, "{}", r.error.as_deref().unwrap_or("not diagnosed"));
            }
        }
    }
    s
}
