//! A remote node over SSH: its destination checked, the `ssh` command lines built, one
//! multiplexed connection per [`Session`], and the remote `tailscale` run through it ([`Exec`]).
//!
//! One connection per diagnosis: the session starts a ControlMaster in a private directory
//! (backgrounded by `ControlPersist` once it has logged in), and every read and write is a client
//! of it (`ControlMaster=no`), so reads running at the same time do not each log in. The master
//! also holds a dynamic forward (`-D 127.0.0.1:PORT`): the probes that must start *on* the node
//! (its backends on its own 127.0.0.1, its TCP forwards' targets) go through it as SOCKS5 and
//! connect from the node, with no tool needed there. `ControlPersist` is short, so a master whose
//! owner died goes away by itself; [`Session::close`] ends it at once.
//!
//! Why the strictness: the destination may come from a config file someone else edited and
//! becomes an argument of `ssh`, and ssh hands the remote command to the remote user's shell as
//! one string. So a destination is refused unless it is plainly a user, a host and a port
//! (nothing starting with `-`, no shell characters), `--` ends ssh's options before the host, and
//! every word of the remote command is quoted with [`crate::shell::word`]. The remote login shell
//! must be POSIX-like (sh, dash, bash, zsh), as for any `ssh host command`.

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::locate::{HOMEBREW_ARM, MAC_GUI, USR_LOCAL};
use super::{CliFailure, CliSource, Located, NotFound, Output, RunError, first_line, run};
use crate::shell;

/// Extra `ssh` options for every call, `-o KEY=VALUE` words (a known_hosts file, an identity):
/// the environment, so the user's own SSH setup stays out of Serve Doctor's config and flags.
pub const OPTS_ENV: &str = "SERVE_DOCTOR_SSH_OPTS";

/// A checked `[user@]host[:port]` with the extra options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    user: Option<String>,
    /// Without brackets (an IPv6 address is given bracketed).
    host: String,
    port: Option<u16>,
    /// From [`OPTS_ENV`]: pairs of `-o`, `KEY=VALUE`.
    options: Vec<String>,
}

/// A destination or option that is refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {given:?} is refused: {why}")]
pub struct BadTarget {
    what: &'static str,
    given: String,
    why: &'static str,
}

impl SshTarget {
    /// `dest` with the options from [`OPTS_ENV`].
    pub fn new(dest: &str) -> Result<SshTarget, BadTarget> {
        SshTarget::parse(dest, &std::env::var(OPTS_ENV).unwrap_or_default())
    }

    /// `dest` (`[user@]host[:port]`) with `options` (words as in [`OPTS_ENV`]).
    pub fn parse(dest: &str, options: &str) -> Result<SshTarget, BadTarget> {
        let bad = |why| BadTarget {
            what: "ssh destination",
            given: dest.to_string(),
            why,
        };
        if dest.starts_with('-') {
            return Err(bad("it starts with '-' and would be read as an ssh option"));
        }
        let (user, rest) = match dest.split_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, dest),
        };
        if let Some(u) = user
            && !(valid_user(u))
        {
            return Err(bad(
                "the user must be letters, digits, '.', '_' or '-', not starting with '-'",
            ));
        }
        let (host, port) = split_port(rest).map_err(bad)?;
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => return Err(bad("the port must be 1-65535")),
                }
            }
            Some(_) => return Err(bad("the port must be 1-65535")),
        };
        Ok(SshTarget {
            user: user.map(str::to_string),
            host,
            port,
            options: parse_options(options)?,
        })
    }

    /// The destination as the user writes it: `user@host:port`, `[v6]:port`.
    pub fn shown(&self) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{user}{host}{port}")
    }

    /// How to log in by hand: `-p 2222 root@box` (for the commands shown to the user).
    pub fn login(&self) -> String {
        let port = self.port.map(|p| format!("-p {p} ")).unwrap_or_default();
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!("{port}{user}{}", self.host)
    }

    /// ssh's arguments naming the destination; after `--` nothing can be read as an option.
    fn destination(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(p) = self.port {
            v.extend(["-p".to_string(), p.to_string()]);
        }
        if let Some(u) = &self.user {
            v.extend(["-l".to_string(), u.clone()]);
        }
        v.extend(["--".to_string(), self.host.clone()]);
        v
    }
}

fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && !u.starts_with('-')
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A DNS name (letters, digits, inner hyphens; dots between labels) or an IPv4 address.
fn valid_host(h: &str) -> bool {
    if h.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    let name = h.strip_suffix('.').unwrap_or(h);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The host (brackets removed) and the port text, if any.
fn split_port(s: &str) -> Result<(String, Option<&str>), &'static str> {
    if let Some(inner) = s.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or("an IPv6 address must be in brackets: [::1]:22")?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err("the brackets must hold an IPv6 address");
        }
        return match after {
            "" => Ok((addr.to_string(), None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((addr.to_string(), Some(p))),
                None => Err("only ':PORT' may follow the brackets"),
            },
        };
    }
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err("an IPv6 address must be in brackets: [::1]:22");
    }
    if !valid_host(host) {
        return Err(
            "the host must be a DNS name, an IPv4 address or a bracketed IPv6 address, not starting with '-'",
        );
    }
    Ok((host.to_string(), port))
}

/// [`OPTS_ENV`]'s words: only `-o KEY=VALUE` (or `-oKEY=VALUE`), so nothing there can name a
/// host, a remote command or a flag that changes what we run.
fn parse_options(s: &str) -> Result<Vec<String>, BadTarget> {
    let bad = |given: &str, why| BadTarget {
        what: "SERVE_DOCTOR_SSH_OPTS word",
        given: given.to_string(),
        why,
    };
    let words = shlex::split(s).ok_or_else(|| bad(s, "its quotes do not pair up"))?;
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let value = match w.strip_prefix("-o") {
            Some("") => it.next().ok_or_else(|| bad(&w, "-o needs KEY=VALUE"))?,
            Some(v) => v.to_string(),
            None => return Err(bad(&w, "only -o KEY=VALUE options are taken")),
        };
        let key = value.split(['=', ' ']).next().unwrap_or_default();
        if key.is_empty()
            || key.len() == value.len()
            || !key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(bad(&value, "an option is KEY=VALUE"));
        }
        out.extend(["-o".to_string(), value]);
    }
    Ok(out)
}

/// The remote command line: each word quoted for the remote shell.
pub fn remote_command(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| shell::word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whole seconds for ssh's `ConnectTimeout`, at least 1.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

/// How to run `ssh` for one session.
#[derive(Debug)]
pub struct Ssh {
    program: PathBuf,
    target: SshTarget,
    /// The ControlPath: `<private dir>/%C`.
    control: PathBuf,
    timeout: Duration,
}

impl Ssh {
    fn new(target: SshTarget, dir: &Path, timeout: Duration) -> Ssh {
        Ssh {
            program: PathBuf::from("ssh"),
            target,
            control: dir.join("%C"),
            timeout,
        }
    }

    /// Every call's options. Ours come first: ssh keeps the first value given for an option.
    fn common(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "BatchMode=yes".to_string(),
            format!("ConnectTimeout={}", whole_secs(self.timeout)),
            format!("ControlPath={}", self.control.display()),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .collect();
        v.extend(self.target.options.iter().cloned());
        v
    }

    /// Logs in and backgrounds itself (`-f`) as the master, holding the dynamic forward.
    fn master_args(&self, socks_port: u16) -> Vec<String> {
        let mut v = self.common();
        // Long enough to bridge the pauses of one run (each at most the timeout), short
        // enough that a master whose owner was killed does not linger.
        let persist = 3 * whole_secs(self.timeout) + 10;
        for o in [
            "ControlMaster=yes".to_string(),
            format!("ControlPersist={persist}"),
            "ExitOnForwardFailure=yes".to_string(),
        ] {
            v.extend(["-o".to_string(), o]);
        }
        v.extend(["-D".to_string(), format!("127.0.0.1:{socks_port}")]);
        v.extend(["-N".to_string(), "-f".to_string()]);
        v.extend(self.target.destination());
        v
    }

    /// One command on the node through the master.
    fn client_args(&self, remote: &str) -> Vec<String> {
        let mut v = self.common();
        v.extend([
            "-o".to_string(),
            "ControlMaster=no".to_string(),
            "-T".to_string(),
        ]);
        v.extend(self.target.destination());
        v.push(remote.to_string());
        v
    }

    /// Asks the master something (`check`, `exit`).
    fn control_args(&self, op: &str) -> Vec<String> {
        let mut v = self.common();
        v.extend(["-O".to_string(), op.to_string()]);
        v.extend(self.target.destination());
        v
    }

    async fn ssh(
        &self,
        args: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, RunError> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&self.program, &args, stdin, timeout).await
    }

    /// "ssh to root@box did not answer within 2 s".
    fn silent(&self) -> CliFailure {
        CliFailure::NoConnection {
            message: format!(
                "ssh to {} did not answer within {} s",
                self.target.shown(),
                self.timeout.as_secs_f32()
            ),
        }
    }

    /// What ssh's own failure (exit 255) said, in one line.
    fn failure(&self, stderr: &str) -> CliFailure {
        // With StrictHostKeyChecking=no ssh first warns that it added the key; the error is last.
        let line = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
            .unwrap_or("")
            .to_string();
        if line.to_ascii_lowercase().contains("timed out") {
            return self.silent();
        }
        let line = if line.is_empty() {
            "ssh exited with 255".to_string()
        } else {
            line
        };
        CliFailure::NoConnection {
            message: format!("ssh to {} failed: {line}", self.target.shown()),
        }
    }
}

/// Where a CLI call runs: on this machine, or on the node at the other end of a [`Session`].
#[derive(Debug, Clone, Default)]
pub enum Exec {
    #[default]
    Local,
    Ssh(Arc<Ssh>),
    /// A node that cannot run anything: every call fails with this.
    Down(CliFailure),
}

impl Exec {
    /// `cli args…` here or on the node.
    pub async fn run(
        &self,
        cli: &Path,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, RunError> {
        match self {
            Exec::Local => run(cli, args, stdin, timeout).await,
            Exec::Ssh(s) => {
                let cli = cli.to_string_lossy();
                let words: Vec<&str> = std::iter::once(cli.as_ref())
                    .chain(args.iter().copied())
                    .collect();
                s.ssh(&s.client_args(&remote_command(&words)), stdin, timeout)
                    .await
            }
            Exec::Down(f) => Err(RunError::Spawn {
                path: PathBuf::from("ssh"),
                source: std::io::Error::other(f.describe()),
            }),
        }
    }

    pub fn is_remote(&self) -> bool {
        !matches!(self, Exec::Local)
    }

    /// ssh's own failure (exit 255): the command may not have run at all.
    pub fn lost(&self, res: &Result<Output, RunError>) -> Option<CliFailure> {
        match (self, res) {
            (Exec::Ssh(s), Ok(o)) if o.code == Some(255) => Some(s.failure(&o.stderr_text())),
            (Exec::Down(f), _) => Some(f.clone()),
            _ => None,
        }
    }

    /// A command line as the user would type it here: a remote one inside its `ssh` line.
    pub fn show(&self, line: String) -> String {
        match self {
            Exec::Local => line,
            Exec::Ssh(s) => format!("ssh {} {}", s.target.login(), shell::word(&line)),
            Exec::Down(f) => format!("(not possible: {f}) {line}"),
        }
    }

    /// The CLI as the user would type it here, for undo lines: `ssh -p 2222 root@box /usr/bin/tailscale`.
    pub fn prefix(&self, cli_shown: &str) -> String {
        match self {
            Exec::Local => cli_shown.to_string(),
            Exec::Ssh(s) => format!("ssh {} {cli_shown}", s.target.login()),
            Exec::Down(_) => cli_shown.to_string(),
        }
    }
}

/// What a session found on the node.
#[derive(Debug, Clone)]
pub enum Reach {
    /// Logged in; the node's CLI is here.
    Cli(Located),
    /// Logged in; no CLI where the local search would look.
    NoCli(NotFound),
    /// ssh did not get in.
    Down(CliFailure),
}

/// Finds the node's CLI in one remote `sh -c`: the fixed places of the local search, then the
/// login shell's PATH (a non-interactive SSH session on macOS has only the system's), or only
/// the path given. Prints the path found; exits 3 when there is none.
const FIND_CLI: &str = r#"search=$1; shift
for p in "$@"; do if [ -f "$p" ] && [ -x "$p" ]; then printf '%s\n' "$p"; exit 0; fi; done
if [ "$search" = path ]; then command -v tailscale && exit 0; fi
exit 3"#;

/// The remote command that runs [`FIND_CLI`].
fn find_cli_command(given: Option<&Path>) -> String {
    let given = given.map(|p| p.to_string_lossy().into_owned());
    let mut words = vec!["sh", "-c", FIND_CLI, "sh"];
    match &given {
        Some(p) => words.extend(["given", p.as_str()]),
        None => words.extend(["path", MAC_GUI, HOMEBREW_ARM, USR_LOCAL]),
    }
    remote_command(&words)
}

/// [`FIND_CLI`]'s answer as a [`Reach`].
fn found_cli(given: Option<&Path>, out: &Output) -> Reach {
    let line = first_line(&out.stdout_text());
    if out.code == Some(0) && line.starts_with('/') {
        let source = match (given, line.as_str()) {
            (Some(_), _) => CliSource::Flag,
            (None, MAC_GUI) => CliSource::MacGui,
            (None, HOMEBREW_ARM) => CliSource::Homebrew,
            (None, USR_LOCAL) => CliSource::UsrLocal,
            (None, _) => CliSource::Path,
        };
        return Reach::Cli(Located {
            path: PathBuf::from(line),
            source,
        });
    }
    Reach::NoCli(match given {
        Some(p) => NotFound {
            searched: vec![p.to_path_buf()],
            forced: Some(p.to_path_buf()),
        },
        None => NotFound {
            searched: [
                MAC_GUI,
                HOMEBREW_ARM,
                USR_LOCAL,
                "tailscale (the node's PATH)",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            forced: None,
        },
    })
}

/// A port on this machine's loopback that nothing listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The control socket's directory, 0700. Kept short: a unix socket path has ~104 bytes on
/// macOS, and ssh adds the 40-character `%C` and a temporary suffix while binding.
fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let tmp = std::env::temp_dir();
    let text = tmp.to_string_lossy();
    let plain = !text.contains(|c: char| c.is_whitespace() || "%\"'\\".contains(c));
    let base = if text.len() <= 40 && plain {
        tmp
    } else {
        PathBuf::from("/tmp")
    };
    tempfile::Builder::new().prefix("sd-ssh-").tempdir_in(base)
}

/// One SSH connection to a node, for one diagnosis or one fix. Call [`Session::close`]; a
/// session dropped without it kills its master.
#[derive(Debug)]
pub struct Session {
    target: SshTarget,
    ssh: Option<Arc<Ssh>>,
    reach: Reach,
    socks5: Option<String>,
    given_cli: Option<PathBuf>,
    master_pid: Option<u32>,
    timeout: Duration,
    // Last: removed after the master is gone.
    dir: Option<tempfile::TempDir>,
}

impl Session {
    /// Logs in to `target` (bounded by `timeout`), starts the forward and finds the CLI
    /// (`given`: the node's path, else the search). Never fails: a session that did not get in
    /// says why in [`Session::reach`].
    pub async fn open(target: &SshTarget, given: Option<&Path>, timeout: Duration) -> Session {
        let mut s = Session {
            target: target.clone(),
            ssh: None,
            reach: Reach::Down(CliFailure::NoConnection {
                message: String::new(),
            }),
            socks5: None,
            given_cli: given.map(Path::to_path_buf),
            master_pid: None,
            timeout,
            dir: None,
        };
        let down = |why: String| {
            Reach::Down(CliFailure::NoConnection {
                message: format!("ssh to {}: {why}", target.shown()),
            })
        };
        let (dir, port) = match (private_dir(), free_port()) {
            (Ok(d), Ok(p)) => (d, p),
            (Err(e), _) => {
                s.reach = down(format!("no private directory for the control socket: {e}"));
                return s;
            }
            (_, Err(e)) => {
                s.reach = down(format!("no free local port for the forward: {e}"));
                return s;
            }
        };
        let ssh = Arc::new(Ssh::new(target.clone(), dir.path(), timeout));
        s.dir = Some(dir);
        let failed = match ssh.ssh(&ssh.master_args(port), None, timeout).await {
            Ok(o) if o.code == Some(0) => None,
            Ok(o) => Some(ssh.failure(&o.stderr_text())),
            Err(RunError::TimedOut { .. }) => Some(ssh.silent()),
            Err(e @ RunError::Spawn { .. }) => Some(CliFailure::Spawn {
                message: e.to_string(),
            }),
        };
        if let Some(f) = failed {
            s.reach = Reach::Down(f);
            return s;
        }
        s.master_pid = master_pid(&ssh.ssh(&ssh.control_args("check"), None, timeout).await);
        s.socks5 = Some(format!("127.0.0.1:{port}"));
        let find = ssh.client_args(&find_cli_command(given));
        let found = ssh.ssh(&find, None, timeout).await;
        s.reach = match (Exec::Ssh(ssh.clone()).lost(&found), found) {
            (Some(lost), _) => Reach::Down(lost),
            (None, Ok(o)) => found_cli(given, &o),
            (None, Err(RunError::TimedOut { .. })) => Reach::Down(ssh.silent()),
            (None, Err(e)) => Reach::Down(CliFailure::Spawn {
                message: e.to_string(),
            }),
        };
        s.ssh = Some(ssh);
        s
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// The `--tailscale` path given for the node, if any.
    pub fn given_cli(&self) -> Option<&Path> {
        self.given_cli.as_deref()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How commands run on the node; when ssh did not get in, or there is no CLI to run, every
    /// call fails with why.
    pub fn exec(&self) -> Exec {
        match (&self.reach, &self.ssh) {
            (Reach::Cli(_), Some(ssh)) => Exec::Ssh(ssh.clone()),
            (Reach::Down(f), _) => Exec::Down(f.clone()),
            (Reach::NoCli(_), _) | (Reach::Cli(_), None) => Exec::Down(CliFailure::Spawn {
                message: format!("no tailscale CLI on {}", self.target.shown()),
            }),
        }
    }

    /// The SOCKS5 proxy (`127.0.0.1:PORT` here) whose connections start on the node.
    pub fn socks5(&self) -> Option<&str> {
        self.socks5.as_deref()
    }

    /// Ends the master and waits (bounded) until it is gone.
    pub async fn close(mut self) {
        let Some(ssh) = self.ssh.take() else { return };
        let bound = self.timeout.min(Duration::from_secs(3));
        let _ = ssh.ssh(&ssh.control_args("exit"), None, bound).await;
        // The master removes its socket as it exits.
        let start = Instant::now();
        let empty = |d: &tempfile::TempDir| {
            std::fs::read_dir(d.path()).map_or(true, |mut r| r.next().is_none())
        };
        while self.dir.as_ref().is_some_and(|d| !empty(d)) && start.elapsed() < bound {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.dir.as_ref().is_some_and(empty) {
            self.master_pid = None;
        }
        // Otherwise Drop kills what is left.
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The daemonised master leads its own session, so its pid is its process group.
        if let Some(pid) = self.master_pid.take() {
            crate::platform::kill_process_group(pid);
        }
    }
}

/// The master's pid from `ssh -O check` ("Master running (pid=1234)").
fn master_pid(check: &Result<Output, RunError>) -> Option<u32> {
    let Ok(o) = check else { return None };
    let text = o.all_text();
    let (_, after) = text.split_once("pid=")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&p| p > 1)
}

#[cfg(test)]
mod tests;
