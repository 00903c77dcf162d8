//! What the CLI said, in words we can act on: the consent URL and the known refusals.
//!
//! The exit code of `tailscale serve` is not trusted (the consent flow exits 0 having done
//! nothing), so every call's output is scanned for these messages and each one is reported with
//! the line it came from and, where there is one, the fix.

use serde::Serialize;

/// The prefix of the consent pages control hands out (`/f/serve`, `/f/funnel`).
pub const CONSENT_PREFIX: &str = "https://login.tailscale.com/f/";

/// A message we recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// "Serve is not enabled on your tailnet." / "Funnel is not enabled …" plus a consent URL.
    NotEnabled,
    /// "Funnel not available; HTTPS must be enabled …" / "… node attribute not set".
    FunnelNotAvailable,
    /// "port N is not allowed for funnel …".
    FunnelPortNotAllowed,
    /// "Unable to turn on Funnel while shields-up is enabled".
    ShieldsUp,
    /// "Access denied: serve config denied" (Linux, not root and not the operator).
    AccessDenied,
    /// "Another client is changing the serve config" (an ETag race; retried once).
    ConfigRace,
    /// tailscaled is not running.
    DaemonUnreachable,
    /// The call was killed at its deadline (the consent flow that waits forever, a hung daemon).
    TimedOut,
}

/// One recognised message, the line it came from, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub line: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The first consent URL in `text`, if any.
pub fn consent_url(text: &str) -> Option<String> {
    let start = text.find(CONSENT_PREFIX)?;
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>'))
        .collect();
    (url.len() > CONSENT_PREFIX.len()).then_some(url)
}

/// Every known message in `text` (stdout and stderr together), in the order of the lines.
pub fn scan(text: &str, timed_out: bool) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut push = |kind, line: &str, hint: Option<&str>| {
        if !out.iter().any(|f| f.kind == kind) {
            out.push(Finding {
                kind,
                line: line.trim().to_string(),
                hint: hint.map(str::to_string),
            });
        }
    };
    let url = consent_url(text);
    for line in text.lines() {
        let l = line.to_ascii_lowercase();
        if l.contains("is not enabled on your tailnet") {
            let hint = match &url {
                Some(u) => format!(
                    "open {u} (serve-doctor fix open-admin {}), then run the fix again",
                    crate::shell::word(u)
                ),
                None => "enable it in the admin console, then run the fix again".to_string(),
            };
            push(FindingKind::NotEnabled, line, Some(&hint));
        } else if l.contains("funnel not available") {
            push(
                FindingKind::FunnelNotAvailable,
                line,
                Some(
                    "see the URL in the message; Funnel needs HTTPS certificates and the \"funnel\" node attribute (tailnet policy file)",
                ),
            );
        } else if l.contains("is not allowed for funnel") {
            push(
                FindingKind::FunnelPortNotAllowed,
                line,
                Some(
                    "use an allowed port, or allow this one in the funnel nodeAttrs of the tailnet policy file",
                ),
            );
        } else if l.contains("shields-up") || l.contains("shields up") {
            push(
                FindingKind::ShieldsUp,
                line,
                Some("tailscale set --shields-up=false"),
            );
        } else if l.contains("serve config denied") {
            // The CLI says "Access denied: serve config denied"; the LocalAPI answers 403 with
            // "serve config denied" alone.
            push(
                FindingKind::AccessDenied,
                line,
                Some("sudo tailscale set --operator=$USER (once), then run the fix again"),
            );
        } else if l.contains("another client is changing the serve config") {
            push(FindingKind::ConfigRace, line, None);
        } else if l.contains("failed to connect to local tailscale") {
            push(
                FindingKind::DaemonUnreachable,
                line,
                Some("start Tailscale, then run the fix again"),
            );
        }
    }
    if timed_out {
        let hint = if url.is_some() {
            "the CLI was waiting for the consent page to be approved; approve it, then run the fix again"
        } else {
            "the CLI did not answer in time; try a longer --timeout"
        };
        push(FindingKind::TimedOut, "stopped at the deadline", Some(hint));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_output_gives_the_url_and_the_finding() {
        let text = "\nServe is not enabled on your tailnet.\nTo enable, visit:\n\n         https://login.tailscale.com/f/serve?node=nT1\n\n";
        assert_eq!(
            consent_url(text).as_deref(),
            Some("https://login.tailscale.com/f/serve?node=nT1")
        );
        let f = scan(text, false);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::NotEnabled);
        assert!(f[0].hint.as_deref().unwrap().contains("/f/serve?node=nT1"));
    }

    #[test]
    fn the_open_admin_hint_is_one_shell_word_whatever_the_url_holds() {
        let url = "https://login.tailscale.com/f/serve?node=n$(id)`id`;a&b|c";
        let text = format!("Serve is not enabled on your tailnet.\nTo enable, visit:\n\n  {url}\n");
        let f = scan(&text, false);
        let hint = f[0].hint.as_deref().unwrap();
        let cmd = hint
            .strip_prefix(&format!("open {url} ("))
            .and_then(|h| h.strip_suffix("), then run the fix again"))
            .unwrap_or_else(|| panic!("{hint}"));
        assert_eq!(
            crate::shell::argv_by_sh(cmd),
            ["serve-doctor", "fix", "open-admin", url]
        );
    }

    #[test]
    fn each_refusal_is_recognised() {
        for (text, kind) in [
            (
                "Funnel not available; \"funnel\" node attribute not set. See https://tailscale.com/s/no-funnel.",
                FindingKind::FunnelNotAvailable,
            ),
            (
                "port 443 is not allowed for funnel; allowed ports are: 8443",
                FindingKind::FunnelPortNotAllowed,
            ),
            (
                "sending serve config: updating config: Unable to turn on Funnel while shields-up is enabled",
                FindingKind::ShieldsUp,
            ),
            (
                "sending serve config: Access denied: serve config denied\n\nUse 'sudo tailscale serve reset'.",
                FindingKind::AccessDenied,
            ),
            (
                "/localapi/v0/serve-config: tailscaled refused (403): serve config denied",
                FindingKind::AccessDenied,
            ),
            (
                "Another client is changing the serve config; please try again.",
                FindingKind::ConfigRace,
            ),
        ] {
            let f = scan(text, false);
            assert_eq!(f.first().map(|f| f.kind), Some(kind), "{text}");
        }
        assert_eq!(scan("", true)[0].kind, FindingKind::TimedOut);
        assert!(consent_url("https://login.tailscale.com/f/").is_none());
    }
}
