//! `open-admin`: open the tailnet's admin DNS page, or a consent page a CLI call printed, in the
//! browser; print it when asked or when no browser opens. Only Tailscale's own pages are opened.

use crate::diagnosis::rules::ADMIN_DNS_URL;
use crate::fix::{FixReport, Outcome};

/// Only Tailscale's own pages are opened: the value may come from CLI output.
fn allowed_url(u: &str) -> bool {
    u.starts_with("https://login.tailscale.com/")
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub async fn run(mut report: FixReport, url: Option<&str>, print_only: bool) -> FixReport {
    let url = url.unwrap_or(ADMIN_DNS_URL).to_string();
    if !allowed_url(&url) {
        report.outcome = Outcome::Refused;
        report.message = format!(
            "{url:?} is not a Tailscale admin or consent page (https://login.tailscale.com/…); not opened"
        );
        return report;
    }
    report.url = Some(url.clone());
    report.outcome = Outcome::Done;
    if print_only {
        report.message = format!("open {url}");
        return report;
    }
    // `open` may block while it spawns the helper: keep it off the caller's (UI) thread.
    let u = url.clone();
    let opened = tokio::task::spawn_blocking(move || open::that_detached(&u)).await;
    report.message = match opened {
        Ok(Ok(())) => format!("opened {url} in the browser"),
        Ok(Err(e)) => format!("no browser could be opened ({e}); open this page yourself: {url}"),
        Err(e) => format!("no browser could be opened ({e}); open this page yourself: {url}"),
    };
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tailscale_pages_are_opened() {
        assert!(allowed_url("https://login.tailscale.com/f/serve?node=x"));
        assert!(!allowed_url("https://evil.example/"));
        assert!(!allowed_url("https://login.tailscale.com/x y"));
        assert!(!allowed_url("file:///etc/passwd"));
    }
}
