//! How we reach tailscaled: the [`Route`] interface, with a CLI and a LocalAPI implementation.
//!
//! A route reads the node's status and its serve config (with the exact text, for backups, and
//! the ETag where the route has one), and carries out one [`Write`]. The engine's reads and the
//! fix pipeline both go through it, so "which way do we talk to the daemon" is decided in one
//! place per run and every report can name the route it used.
//!
//! The two routes can do different things, and the fix planner asks [`RouteKind`] which:
//! the CLI runs `tailscale` subcommands (`serve reset`, `serve --bg …`, `serve set-raw`), which
//! cannot be made conditional on the config not having changed; the LocalAPI replaces the whole
//! config in one `POST serve-config`, with `If-Match` so that a concurrent change is refused
//! (HTTP 412) instead of overwritten. The SSH route is the CLI route run on a remote node
//! through one [`Session`]: it writes what the CLI writes.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::localapi::{LocalApi, LocalApiError};
use super::ssh::{Exec, Reach, Session};
use super::{CliFailure, CliSource, Located, NotFound, RunError, ServeConfig, Status};
use crate::shell;

/// The serve config as read, with what a write back needs.
#[derive(Debug, Clone)]
pub struct ServeRead {
    pub config: ServeConfig,
    /// The exact JSON text the daemon gave: backups keep fields this version does not model.
    pub raw: String,
    /// The LocalAPI's ETag of that config; `None` on the CLI route.
    pub etag: Option<String>,
}

/// Which kind of route this is: what it can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Cli,
    LocalApi,
}

/// One change to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A `tailscale` subcommand (CLI route only): its arguments, and its stdin with the name it
    /// is shown under (`serve set-raw < BACKUP`).
    Cli {
        args: Vec<String>,
        stdin: Option<(Vec<u8>, String)>,
    },
    /// Replace the whole serve config (LocalAPI route only). With `if_match` the daemon refuses
    /// the write when the config changed since that ETag was read. `what` is the one-line
    /// summary the user sees.
    Config {
        body: Vec<u8>,
        if_match: Option<String>,
        what: String,
    },
}

impl Write {
    /// A CLI call without stdin.
    pub fn cli(args: &[&str]) -> Write {
        Write::Cli {
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: None,
        }
    }
}

/// One write call that ran, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    /// `None` when killed (at the deadline).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub ms: u64,
}

impl StepRecord {
    /// Exit 0 and not killed.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// What carrying out one [`Write`] did.
#[derive(Debug, Clone)]
pub struct Written {
    /// Every call made, in order (a retried call appears twice).
    pub steps: Vec<StepRecord>,
    /// The daemon refused the write because the config changed since it was read: the caller
    /// reads it again, plans again and retries.
    pub conflict: bool,
}

/// A way to read and change tailscaled's state. Reads return [`CliFailure`] whatever the route,
/// because that is the vocabulary the diagnosis rules understand.
pub trait Route: Send + Sync {
    fn kind(&self) -> RouteKind;
    /// For reports: "cli /usr/bin/tailscale (PATH)", "localapi unix:/var/run/… (default socket)".
    fn describe(&self) -> String;
    fn status(&self) -> impl Future<Output = Result<Status, CliFailure>> + Send;
    /// The status with the peers of this node's netmap (`Status::peer`).
    fn status_with_peers(&self) -> impl Future<Output = Result<Status, CliFailure>> + Send;
    fn serve_config(&self) -> impl Future<Output = Result<ServeRead, CliFailure>> + Send;
    /// How `w` is shown to the user: the exact command, or the request and what it changes.
    fn show(&self, w: &Write) -> String;
    fn write(&self, w: &Write) -> impl Future<Output = Written> + Send;
}

/// The CLI route.
#[derive(Debug, Clone)]
pub struct CliRoute {
    cli: Arc<Path>,
    /// How the binary is shown in printed commands (shell-quoted).
    shown: String,
    describe: String,
    timeout: Duration,
    /// Here, or on the node at the other end of an SSH session.
    exec: Exec,
}

/// What the CLI prints when a write lost an ETag race inside tailscaled; the same call is
/// simply made again.
const CONFIG_RACE: &str = "another client is changing the serve config";

impl CliRoute {
    /// `how` says where the binary was found ("PATH", "--tailscale"); empty for no remark.
    pub fn new(cli: &Path, how: &str, timeout: Duration) -> CliRoute {
        let describe = if how.is_empty() {
            format!("cli {}", cli.display())
        } else {
            format!("cli {} ({how})", cli.display())
        };
        CliRoute {
            shown: shell::word(&cli.to_string_lossy()),
            cli: Arc::from(cli),
            describe,
            timeout,
            exec: Exec::Local,
        }
    }

    pub fn path(&self) -> &Path {
        &self.cli
    }

    /// The binary as the user would type it here (inside its `ssh` line for a remote node).
    pub fn shown(&self) -> String {
        self.exec.prefix(&self.shown)
    }

    async fn run_once(&self, command: &str, args: &[String], stdin: Option<&[u8]>) -> StepRecord {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.exec.run(&self.cli, &args, stdin, self.timeout).await {
            Ok(o) => StepRecord {
                command: command.to_string(),
                stdout: o.stdout_text(),
                stderr: o.stderr_text(),
                code: o.code,
                timed_out: false,
                ms: o.ms,
            },
            Err(RunError::TimedOut {
                after,
                stdout,
                stderr,
                ..
            }) => StepRecord {
                command: command.to_string(),
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
                code: None,
                timed_out: true,
                ms: after.as_millis() as u64,
            },
            Err(e @ RunError::Spawn { .. }) => StepRecord {
                command: command.to_string(),
                stdout: String::new(),
                stderr: e.to_string(),
                code: None,
                timed_out: false,
                ms: 0,
            },
        }
    }
}

impl Route for CliRoute {
    fn kind(&self) -> RouteKind {
        RouteKind::Cli
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn status(&self) -> Result<Status, CliFailure> {
        super::status_on(&self.exec, &self.cli, self.timeout).await
    }

    async fn status_with_peers(&self) -> Result<Status, CliFailure> {
        super::status_with_peers(&self.exec, &self.cli, self.timeout).await
    }

    async fn serve_config(&self) -> Result<ServeRead, CliFailure> {
        let (config, raw) = super::serve_config_on(&self.exec, &self.cli, self.timeout).await?;
        Ok(ServeRead {
            config,
            raw,
            etag: None,
        })
    }

    fn show(&self, w: &Write) -> String {
        match w {
            Write::Cli { args, stdin } => {
                let line = std::iter::once(self.shown.clone())
                    .chain(args.iter().map(|a| shell::word(a)))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut shown = self.exec.show(line);
                if let Some((_, from)) = stdin {
                    shown.push_str(" < ");
                    shown.push_str(from);
                }
                shown
            }
            Write::Config { what, .. } => format!("(not possible over the CLI) {what}"),
        }
    }

    async fn write(&self, w: &Write) -> Written {
        let command = self.show(w);
        let Write::Cli { args, stdin } = w else {
            return Written {
                steps: vec![refused_step(
                    command,
                    "the CLI route cannot replace the whole config conditionally",
                )],
                conflict: false,
            };
        };
        let stdin = stdin.as_ref().map(|(b, _)| b.as_slice());
        let first = self.run_once(&command, args, stdin).await;
        let raced = !first.succeeded()
            && format!("{}\n{}", first.stdout, first.stderr)
                .to_ascii_lowercase()
                .contains(CONFIG_RACE);
        let mut steps = vec![first];
        if raced {
            steps.push(self.run_once(&command, args, stdin).await);
        }
        Written {
            steps,
            conflict: false,
        }
    }
}

fn refused_step(command: String, why: &str) -> StepRecord {
    StepRecord {
        command,
        stdout: String::new(),
        stderr: why.to_string(),
        code: None,
        timed_out: false,
        ms: 0,
    }
}

/// The LocalAPI route.
#[derive(Debug, Clone)]
pub struct ApiRoute {
    api: Arc<LocalApi>,
    describe: String,
}

impl ApiRoute {
    /// `how` says how the endpoint was found ("default socket", "--socket").
    pub fn new(api: Arc<LocalApi>, how: &str) -> ApiRoute {
        let describe = format!("localapi {} ({how})", api.endpoint);
        ApiRoute { api, describe }
    }

    pub fn api(&self) -> &LocalApi {
        &self.api
    }
}

/// LocalAPI errors in the words the rules already understand.
pub fn api_failure(e: LocalApiError) -> CliFailure {
    match e {
        LocalApiError::Connect { endpoint, message } => CliFailure::DaemonUnreachable {
            message: format!("failed to connect to local tailscaled at {endpoint}: {message}"),
        },
        LocalApiError::Timeout { after_ms, .. } => CliFailure::TimedOut { after_ms },
        LocalApiError::BadJson {
            error, first_bytes, ..
        } => CliFailure::Unparseable { first_bytes, error },
        other => CliFailure::Failed {
            code: None,
            message: other.to_string(),
        },
    }
}

impl Route for ApiRoute {
    fn kind(&self) -> RouteKind {
        RouteKind::LocalApi
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn status(&self) -> Result<Status, CliFailure> {
        self.api.status().await.map_err(api_failure)
    }

    async fn status_with_peers(&self) -> Result<Status, CliFailure> {
        self.api.status_with_peers().await.map_err(api_failure)
    }

    async fn serve_config(&self) -> Result<ServeRead, CliFailure> {
        let (config, raw, etag) = self.api.serve_config().await.map_err(api_failure)?;
        Ok(ServeRead { config, raw, etag })
    }

    fn show(&self, w: &Write) -> String {
        match w {
            Write::Config { if_match, what, .. } => format!(
                "POST /localapi/v0/serve-config ({}): {what}",
                if if_match.is_some() {
                    "If-Match: the ETag just read"
                } else {
                    "unconditional"
                }
            ),
            Write::Cli { args, .. } => {
                format!(
                    "(not possible over the LocalAPI) tailscale {}",
                    args.join(" ")
                )
            }
        }
    }

    async fn write(&self, w: &Write) -> Written {
        let command = self.show(w);
        let Write::Config { body, if_match, .. } = w else {
            return Written {
                steps: vec![refused_step(
                    command,
                    "the LocalAPI route runs no CLI commands",
                )],
                conflict: false,
            };
        };
        let started = Instant::now();
        let result = self.api.set_serve_config(body, if_match.as_deref()).await;
        let step = StepRecord {
            command,
            stdout: String::new(),
            stderr: result
                .as_ref()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            code: Some(if result.is_ok() { 0 } else { 1 }),
            timed_out: matches!(result, Err(LocalApiError::Timeout { .. })),
            ms: started.elapsed().as_millis() as u64,
        };
        Written {
            steps: vec![step],
            conflict: matches!(result, Err(LocalApiError::PreconditionFailed { .. })),
        }
    }
}

/// Either route, chosen at run time; delegates to the one it holds.
#[derive(Debug, Clone)]
pub enum AnyRoute {
    Cli(CliRoute),
    Api(ApiRoute),
    Ssh(SshRoute),
}

impl AnyRoute {
    /// The CLI found on the remote node, for an SSH route (the local search does not apply).
    pub fn remote_cli(&self) -> Option<Result<Located, NotFound>> {
        match self {
            AnyRoute::Ssh(r) => Some(r.located.clone()),
            _ => None,
        }
    }
}

impl Route for AnyRoute {
    fn kind(&self) -> RouteKind {
        match self {
            AnyRoute::Cli(r) => r.kind(),
            AnyRoute::Api(r) => r.kind(),
            AnyRoute::Ssh(r) => r.cli.kind(),
        }
    }

    fn describe(&self) -> String {
        match self {
            AnyRoute::Cli(r) => r.describe(),
            AnyRoute::Api(r) => r.describe(),
            AnyRoute::Ssh(r) => r.cli.describe(),
        }
    }

    async fn status(&self) -> Result<Status, CliFailure> {
        match self {
            AnyRoute::Cli(r) => r.status().await,
            AnyRoute::Api(r) => r.status().await,
            AnyRoute::Ssh(r) => r.cli.status().await,
        }
    }

    async fn status_with_peers(&self) -> Result<Status, CliFailure> {
        match self {
            AnyRoute::Cli(r) => r.status_with_peers().await,
            AnyRoute::Api(r) => r.status_with_peers().await,
            AnyRoute::Ssh(r) => r.cli.status_with_peers().await,
        }
    }

    async fn serve_config(&self) -> Result<ServeRead, CliFailure> {
        match self {
            AnyRoute::Cli(r) => r.serve_config().await,
            AnyRoute::Api(r) => r.serve_config().await,
            AnyRoute::Ssh(r) => r.cli.serve_config().await,
        }
    }

    fn show(&self, w: &Write) -> String {
        match self {
            AnyRoute::Cli(r) => r.show(w),
            AnyRoute::Api(r) => r.show(w),
            AnyRoute::Ssh(r) => r.cli.show(w),
        }
    }

    async fn write(&self, w: &Write) -> Written {
        match self {
            AnyRoute::Cli(r) => r.write(w).await,
            AnyRoute::Api(r) => r.write(w).await,
            AnyRoute::Ssh(r) => r.cli.write(w).await,
        }
    }
}

/// The CLI route on a remote node, through an SSH [`Session`]; when ssh did not get in, or the
/// node has no CLI, every call says so.
#[derive(Debug, Clone)]
pub struct SshRoute {
    cli: CliRoute,
    located: Result<Located, NotFound>,
}

impl SshRoute {
    pub fn new(session: &Session) -> SshRoute {
        let dest = session.target().shown();
        let (located, describe) = match session.reach() {
            Reach::Cli(l) => (Ok(l.clone()), None),
            Reach::NoCli(nf) => (Err(nf.clone()), Some("no tailscale CLI there")),
            Reach::Down(_) => (Ok(not_looked_for(session)), Some("not connected")),
        };
        let at = located
            .as_ref()
            .map_or_else(|_| not_looked_for(session), Clone::clone);
        let mut cli = CliRoute::new(&at.path, at.source.describe(), session.timeout());
        cli.describe = match describe {
            None => format!("ssh {dest}: {}", cli.describe),
            Some(why) => format!("ssh {dest} ({why})"),
        };
        cli.exec = session.exec();
        SshRoute { cli, located }
    }

    /// The node's CLI as the user would type it here, inside its `ssh` line.
    pub fn cli_shown(&self) -> String {
        self.cli.shown()
    }
}

/// Where the CLI would be had ssh got in to look: the path given, else the name.
fn not_looked_for(session: &Session) -> Located {
    match session.given_cli() {
        Some(p) => Located {
            path: p.to_path_buf(),
            source: CliSource::Flag,
        },
        None => Located {
            path: "tailscale".into(),
            source: CliSource::Path,
        },
    }
}
