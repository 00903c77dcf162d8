//! What each check means, in three short sentences: what it looks at, what its failure means and
//! the fix. The menu shows them under each check line; the README prints the same table
//! (`<!-- CHECK-HELP-TABLE -->`, compared row by row by `tests/it/readme.rs`), so the two cannot
//! drift apart.

use crate::diagnosis::CheckId;

/// The README section that explains every check (its GitHub-style anchor).
pub const README_ANCHOR: &str = "what-each-check-means";

/// One check's explanation. Each sentence fits one menu line (the menu clips longer ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckHelp {
    pub looks_at: &'static str,
    pub failing: &'static str,
    pub fix: &'static str,
}

const fn h(looks_at: &'static str, failing: &'static str, fix: &'static str) -> CheckHelp {
    CheckHelp {
        looks_at,
        failing,
        fix,
    }
}

impl CheckId {
    /// Exhaustive, so a new check cannot reach the menu without its explanation.
    pub fn help(self) -> CheckHelp {
        match self {
            CheckId::TailscaleCli => h(
                "the tailscale CLI this app runs",
                "no CLI: nothing can be asked of Tailscale",
                "install Tailscale, or pass --tailscale PATH",
            ),
            CheckId::Daemon => h(
                "whether tailscaled answers the status request",
                "tailscaled is not running or did not answer",
                "start Tailscale (open the app, or start tailscaled)",
            ),
            CheckId::LoggedIn => h(
                "the node's login state and key expiry",
                "logged out, key expired, or not approved yet",
                "run tailscale up, or approve the machine",
            ),
            CheckId::Peer => h(
                "the serving node in this node's netmap",
                "the name is not a node here, or it is offline",
                "check the name with tailscale status; wake that node",
            ),
            CheckId::MagicdnsLookup => h(
                "the name's addresses asked of MagicDNS directly",
                "MagicDNS has no address for the name",
                "turn on MagicDNS in the admin console",
            ),
            CheckId::SystemDns => h(
                "the system resolver's addresses for the name",
                "this device does not use MagicDNS for the name",
                "let Tailscale set this device's DNS",
            ),
            CheckId::Magicdns => h(
                "whether MagicDNS is on for the tailnet",
                "no MagicDNS, so no HTTPS certificates either",
                "turn on MagicDNS, then HTTPS, in the admin console",
            ),
            CheckId::HttpsCerts => h(
                "whether the tailnet issues HTTPS certificates",
                "HTTPS certificates are off: every handshake fails",
                "enable HTTPS certificates in the admin console",
            ),
            CheckId::ServeConfig => h(
                "the serve config: an HTTPS handler for this node",
                "no handler, plain HTTP only, or keyed to another name",
                "recreate serve: tailscale serve --bg PORT",
            ),
            CheckId::Listener => h(
                "a TCP connection to the node's HTTPS port",
                "nothing accepts on that port",
                "read the daemon log; recreate serve",
            ),
            CheckId::TlsHandshake => h(
                "a TLS handshake with the node's name",
                "no certificate, or one that is not accepted",
                "tailscale cert NAME shows why; recreate serve",
            ),
            CheckId::Backend => h(
                "one request to the app serve proxies to",
                "the app is down or does not answer",
                "start the app on the proxied address",
            ),
            CheckId::ServeProxy => h(
                "one HTTPS request through serve itself",
                "serve cannot reach the app (502) or fails",
                "make the app reachable where tailscaled runs",
            ),
            CheckId::CertCommand => h(
                "what tailscale cert NAME says (with --deep)",
                "the certificate cannot be issued now (rate limit…)",
                "wait for the time it names; read the daemon log",
            ),
            CheckId::Control => h(
                "whether the node is online with control",
                "no control connection: no certificate renewals",
                "check the network and firewall",
            ),
            CheckId::HealthWarnings => h(
                "the health warnings in tailscaled's status",
                "a warning worth reading; only a pending certificate counts",
                "read the warning; wait a minute if a certificate is pending",
            ),
        }
    }
}

/// Where "Read more…" takes the browser: the published README when Cargo.toml names the
/// repository, else the README of the source tree this binary was built from (a developer's
/// build; a release should set `repository`).
pub fn readme_url() -> String {
    let repo = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    if repo.is_empty() {
        format!(
            "file://{}/README.md#{README_ANCHOR}",
            env!("CARGO_MANIFEST_DIR")
        )
    } else {
        format!("{repo}/blob/main/README.md#{README_ANCHOR}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With its prefix ("Failing means: ") every sentence still fits one menu line (76).
    #[test]
    fn every_sentence_fits_a_menu_line() {
        for id in CheckId::ALL {
            let h = id.help();
            for s in [h.looks_at, h.failing, h.fix] {
                assert!(!s.is_empty() && s.chars().count() <= 60, "{id}: {s}");
                assert!(
                    !s.contains('|') && !s.contains('`'),
                    "{id}: {s} breaks the table"
                );
            }
        }
    }

    #[test]
    fn read_more_points_at_the_section() {
        assert!(readme_url().ends_with("README.md#what-each-check-means"));
    }
}
