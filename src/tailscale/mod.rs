//! The only room that runs the `tailscale` CLI: find it, run it bounded, model its JSON.
//!
//! Reads only. The functions here turn a CLI call into typed evidence (`Status`, `ServeConfig`,
//! or a [`CliFailure`] saying precisely how it failed); they never judge what that means.

pub mod health;
pub mod localapi;
pub mod locate;
pub mod ports;
pub mod route;
pub mod run;
pub mod serve;
pub mod ssh;
pub mod status;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

pub use locate::{CliSource, Located, NotFound, locate};
pub use run::{Output, RunError, run};
pub use serve::ServeConfig;
pub use ssh::Exec;
pub use status::{BackendState, Status};

/// Printed on stdout, with exit 0, by the macOS GUI binary when it cannot reach the GUI
/// (docs/TAILSCALE.md#the-cli): launched from Finder, launchd or at login.
pub const GUI_FAILED: &str = "The Tailscale GUI failed to start";

/// How a read call failed. Distinct variants because they lead to distinct causes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CliFailure {
    /// "failed to connect to local tailscaled / Tailscale service / daemon …".
    DaemonUnreachable { message: String },
    /// The macOS GUI binary could not reach its GUI (#16063).
    GuiUnavailable { message: String },
    /// Exit 0 but the output is not the JSON we asked for.
    Unparseable { first_bytes: String, error: String },
    /// Non-zero exit with some other message.
    Failed { code: Option<i32>, message: String },
    /// Killed at the deadline.
    TimedOut { after_ms: u64 },
    /// Could not be started at all.
    Spawn { message: String },
    /// The node itself could not be reached (`ssh` did not connect or log in): nothing is known
    /// about its daemon.
    NoConnection { message: String },
}

impl CliFailure {
    pub fn describe(&self) -> String {
        match self {
            CliFailure::DaemonUnreachable { message } | CliFailure::GuiUnavailable { message } => {
                message.clone()
            }
            CliFailure::Unparseable { first_bytes, error } => {
                format!("not the JSON object expected ({error}): {first_bytes:?}")
            }
            CliFailure::Failed { code, message } => match code {
                Some(c) => format!("exit {c}: {message}"),
                None => format!("killed: {message}"),
            },
            CliFailure::TimedOut { after_ms } => {
                format!(
                    "no answer within {:.1} s (stopped)",
                    *after_ms as f64 / 1000.0
                )
            }
            CliFailure::Spawn { message } | CliFailure::NoConnection { message } => message.clone(),
        }
    }
}

impl std::fmt::Display for CliFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// First non-empty line of a message, trimmed, for one-line evidence.
pub fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let t: String = text.trim().chars().take(120).collect();
    t
}

/// Classifies a finished call that was supposed to print JSON.
fn classify<T>(
    res: Result<Output, RunError>,
    parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, CliFailure> {
    let out = match res {
        Ok(o) => o,
        Err(RunError::TimedOut { after, .. }) => {
            return Err(CliFailure::TimedOut {
                after_ms: after.as_millis() as u64,
            });
        }
        Err(e @ RunError::Spawn { .. }) => {
            return Err(CliFailure::Spawn {
                message: e.to_string(),
            });
        }
    };
    // A successful call's JSON is the answer, whatever text it holds: a host name or a health
    // message containing "failed to connect to local tailscaled" must change nothing. The
    // daemon's error texts are looked for only in a call that failed.
    let parse_error = match out.code {
        Some(0) => match parse(&out.stdout) {
            Ok(value) => return Ok(value),
            Err(e) => e.to_string(),
        },
        _ => String::new(),
    };
    let all = out.all_text();
    if all
        .to_ascii_lowercase()
        .contains("failed to connect to local tailscale")
    {
        let msg = [out.stderr_text(), out.stdout_text()]
            .into_iter()
            .map(|s| first_line(&s))
            .find(|l| l.to_ascii_lowercase().contains("failed to connect"))
            .unwrap_or_else(|| first_line(&all));
        return Err(CliFailure::DaemonUnreachable { message: msg });
    }
    if all.contains(GUI_FAILED) {
        return Err(CliFailure::GuiUnavailable {
            message: first_line(&out.stdout_text()),
        });
    }
    if out.code != Some(0) {
        let msg = first_line(&out.stderr_text());
        let msg = if msg.is_empty() {
            first_line(&out.stdout_text())
        } else {
            msg
        };
        return Err(CliFailure::Failed {
            code: out.code,
            message: msg,
        });
    }
    Err(CliFailure::Unparseable {
        first_bytes: snippet(&out.stdout),
        error: parse_error,
    })
}

/// The arguments of the status read.
pub const STATUS_ARGS: [&str; 3] = ["status", "--json", "--peers=false"];
/// The arguments of the serve config read.
pub const SERVE_ARGS: [&str; 3] = ["serve", "status", "--json"];

/// Runs a read command; when the GUI binary says it cannot reach its GUI (macOS, a bare launchd
/// environment: login item, Finder), retries once inside the user's login session, where the
/// platform has a way in ([`crate::platform::in_login_session`]). A remote CLI gets no such
/// retry: the way in would be this machine's, not the node's.
async fn read<T>(
    exec: &Exec,
    cli: &Path,
    args: &[&str],
    timeout: Duration,
    parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, CliFailure> {
    let res = exec.run(cli, args, None, timeout).await;
    if let Some(lost) = exec.lost(&res) {
        return Err(lost);
    }
    let first = classify(res, &parse);
    if !matches!(first, Err(CliFailure::GuiUnavailable { .. })) || exec.is_remote() {
        return first;
    }
    let Some((program, again)) = crate::platform::in_login_session(cli, args) else {
        return first;
    };
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    match classify(run(&program, &again, None, timeout).await, &parse) {
        Ok(v) => Ok(v),
        // Report the original message: it names the real problem, not launchctl's.
        Err(_) => first,
    }
}

/// `tailscale status --json --peers=false`.
pub async fn status(cli: &Path, timeout: Duration) -> Result<Status, CliFailure> {
    status_on(&Exec::Local, cli, timeout).await
}

/// [`status`], run where `exec` says.
pub async fn status_on(exec: &Exec, cli: &Path, timeout: Duration) -> Result<Status, CliFailure> {
    read(exec, cli, &STATUS_ARGS, timeout, Status::from_json).await
}

/// `tailscale status --json`: with the peers of this node's netmap, for a diagnosis of another
/// node from here.
pub async fn status_with_peers(
    exec: &Exec,
    cli: &Path,
    timeout: Duration,
) -> Result<Status, CliFailure> {
    read(exec, cli, &["status", "--json"], timeout, Status::from_json).await
}

/// `tailscale serve status --json`, with the raw text kept for backups.
pub async fn serve_config(
    cli: &Path,
    timeout: Duration,
) -> Result<(ServeConfig, String), CliFailure> {
    serve_config_on(&Exec::Local, cli, timeout).await
}

/// [`serve_config`], run where `exec` says.
pub async fn serve_config_on(
    exec: &Exec,
    cli: &Path,
    timeout: Duration,
) -> Result<(ServeConfig, String), CliFailure> {
    read(exec, cli, &SERVE_ARGS, timeout, |b| {
        ServeConfig::from_json(b).map(|c| (c, String::from_utf8_lossy(b).into_owned()))
    })
    .await
}

/// What `tailscale cert <name>` said (`--deep` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CertCommand {
    Succeeded { message: String, ms: u64 },
    Failed { message: String, ms: u64 },
    TimedOut { after_ms: u64 },
}

/// Runs `tailscale cert <name>` in a fresh 0700 temp dir that is removed afterwards, so the key
/// it writes never lingers. Bounded: it can hang forever on a stuck ACME order.
pub async fn cert(cli: &Path, name: &str, timeout: Duration) -> CertCommand {
    let dir = match tempfile::Builder::new()
        .prefix("serve-doctor-cert-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            return CertCommand::Failed {
                message: format!("cannot make a temp dir: {e}"),
                ms: 0,
            };
        }
    };
    // tempfile creates the dir 0700 already; keep the cert files inside it.
    let res = run::run_in(cli, &["cert", name], None, timeout, Some(dir.path())).await;
    drop(dir);
    match res {
        Ok(o) if o.code == Some(0) => CertCommand::Succeeded {
            message: first_line(&o.all_text()),
            ms: o.ms,
        },
        Ok(o) => {
            let m = cert_error_line(&o.stderr_text());
            let message = if m.is_empty() {
                first_line(&o.stdout_text())
            } else {
                m
            };
            CertCommand::Failed { message, ms: o.ms }
        }
        Err(RunError::TimedOut { after, .. }) => CertCommand::TimedOut {
            after_ms: after.as_millis() as u64,
        },
        Err(e) => CertCommand::Failed {
            message: e.to_string(),
            ms: 0,
        },
    }
}

/// The error line of a failed `tailscale cert`: since 1.100 the CLI first prints the daemon's
/// "Fetching TLS certificate: …" notice while it waits (`watchCertPendingHealth`), and the
/// error comes after it.
fn cert_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("Fetching TLS certificate:"))
        .map(str::to_string)
        .unwrap_or_else(|| first_line(stderr))
}

/// Refuses JSON whose top-level value is not an object (or, where `null_ok`, `null`): serde would
/// read a struct field by field out of an array (`[]` became an empty status and an empty serve
/// config), and a string or number is no status either. The caller shows the first bytes.
pub(crate) fn expect_object(bytes: &[u8], null_ok: bool) -> Result<(), serde_json::Error> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => Ok(()),
        Some(b'n') if null_ok => Ok(()),
        None if null_ok => Ok(()),
        _ => Err(<serde_json::Error as serde::de::Error>::custom(
            "expected a JSON object at the top level",
        )),
    }
}

#[cfg(test)]
pub(crate) mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, stdout: &str, stderr: &str) -> Result<Output, RunError> {
        Ok(Output {
            code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
            ms: 1,
        })
    }

    #[test]
    fn daemon_messages_on_every_platform() {
        for msg in [
            "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)",
            "failed to connect to local Tailscale service; is Tailscale running?",
            "Failed to connect to local Tailscale daemon for /localapi/v0/serve-config; not running? Error: dial unix",
        ] {
            let r = classify(out(1, "", msg), Status::from_json);
            assert_eq!(
                r,
                Err(CliFailure::DaemonUnreachable {
                    message: msg.into()
                })
            );
        }
    }

    #[test]
    fn gui_wrapper_text_with_exit_zero_is_its_own_failure() {
        let r = classify(
            out(
                0,
                "The Tailscale GUI failed to start: The operation couldn’t be completed. (Tailscale.CLIError error 3.)",
                "",
            ),
            Status::from_json,
        );
        assert!(matches!(r, Err(CliFailure::GuiUnavailable { .. })), "{r:?}");
    }

    #[test]
    fn daemon_texts_inside_a_successful_answer_change_nothing() {
        let json = r#"{"BackendState":"Running","Self":{"HostName":"failed to connect to local tailscaled","DNSName":"x.ts.net."},"Health":["The Tailscale GUI failed to start"]}"#;
        let r = classify(out(0, json, ""), Status::from_json);
        assert_eq!(r.map(|s| s.backend_state), Ok(BackendState::Running));
    }

    #[test]
    fn a_failed_cert_reports_its_error_not_the_pending_notice() {
        let e = "Fetching TLS certificate: Fetching TLS certificate via ACME for: box.t.ts.net\n429 Too Many Requests: urn:ietf:params:acme:error:rateLimited: too many certificates\n";
        assert!(cert_error_line(e).starts_with("429 Too Many Requests"));
        assert_eq!(cert_error_line("boom\n"), "boom");
    }

    #[test]
    fn other_garbage_is_unparseable_with_first_bytes() {
        let r = classify(out(0, "Warning: something\n{", ""), Status::from_json);
        let Err(CliFailure::Unparseable { first_bytes, .. }) = r else {
            panic!("{r:?}")
        };
        assert!(first_bytes.starts_with("Warning: something"));
    }
}
