//! Where tailscaled's LocalAPI is, found in the same order as the Tailscale CLI.
//!
//! Order (the CLI's own, with its upstream references in docs/TAILSCALE.md#localapi):
//! 1. `--socket PATH` / the config's socket: forces the unix socket, nothing else is tried.
//! 2. macOS App Store: `lsof -n -a -u<uid> -c IPNExtension -F` lists the
//!    `…/.tailscale.ipn.macos/sameuserproof-<port>-<token>` file the extension keeps open.
//! 3. macOS Standalone: the symlink `/Library/Tailscale/ipnport` (target = port) and the token
//!    in `/Library/Tailscale/sameuserproof-<port>`, then a 1 s test dial, because those files
//!    outlive the app.
//! 4. The default socket (`/var/run/tailscaled.socket` on macOS, `/var/run/tailscale/
//!    tailscaled.sock` or `/run/tailscale/tailscaled.sock` on Linux).
//!
//! Every location lives in [`Roots`], so tests point it at temp directories; the `lsof` parsing
//! is the pure [`parse_lsof`], fed recorded output in tests. Discovery never fails: when
//! nothing is found it returns the default socket, and connecting to it gives the honest
//! "daemon unreachable". Notes say why earlier routes were passed over, never the token.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpStream;

use super::{Endpoint, Secret};
use crate::platform::Os;
use crate::tailscale::run::{RunError, run};

/// The text `lsof` output is searched for (`readMacosSameUserProof`).
const APP_STORE_PROOF: &str = ".tailscale.ipn.macos/sameuserproof-";

/// Every place discovery looks, so tests can stand temp directories in for the real ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// The real uid, glued to `lsof -u`: the App Store proof file is only visible to its owner.
    pub uid: u32,
    /// `lsof` for the App Store step; `None` skips the step (not macOS). An absolute path,
    /// because an app started at login has a bare `PATH`.
    pub lsof: Option<PathBuf>,
    /// The Standalone app's shared folder (`/Library/Tailscale`); `None` skips the step.
    pub standalone_dir: Option<PathBuf>,
    /// Socket candidates, in order. The first one that exists wins; when none does, the first
    /// is returned so that the error names the platform's usual place.
    pub sockets: Vec<PathBuf>,
    /// Bound for the `lsof` run (it walks every open file of the process).
    pub lsof_timeout: Duration,
    /// Bound for the Standalone test dial (the CLI uses 1 s).
    pub dial_timeout: Duration,
}

impl Roots {
    /// The real locations of this platform.
    pub fn system() -> Roots {
        match Os::current() {
            Os::MacOs => Roots::macos(Path::new("/")),
            Os::Linux | Os::Other => Roots::linux(Path::new("/")),
        }
    }

    /// The macOS locations under `root` (`/` for the real ones).
    pub fn macos(root: &Path) -> Roots {
        Roots {
            uid: current_uid(),
            lsof: Some(PathBuf::from("/usr/sbin/lsof")),
            standalone_dir: Some(root.join("Library/Tailscale")),
            sockets: vec![root.join("var/run/tailscaled.socket")],
            lsof_timeout: Duration::from_secs(3),
            dial_timeout: Duration::from_secs(1),
        }
    }

    /// The Linux locations under `root`. `/run` and `/var/run` are usually one directory, but
    /// systemd units name `/run/…` and minimal systems may lack the `/var/run` link.
    pub fn linux(root: &Path) -> Roots {
        Roots {
            uid: current_uid(),
            lsof: None,
            standalone_dir: None,
            sockets: vec![
                root.join("var/run/tailscale/tailscaled.sock"),
                root.join("run/tailscale/tailscaled.sock"),
            ],
            lsof_timeout: Duration::from_secs(3),
            dial_timeout: Duration::from_secs(1),
        }
    }
}

fn current_uid() -> u32 {
    crate::platform::uid()
}

/// Which step found the endpoint: reports say which route they used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `--socket PATH` or the config's socket.
    Configured,
    /// The macOS App Store app (IPNExtension's proof file, found with `lsof`).
    AppStore,
    /// The macOS Standalone app (`/Library/Tailscale/ipnport`).
    Standalone,
    /// The platform's default socket.
    DefaultSocket,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Configured => "configured",
            Via::AppStore => "app_store",
            Via::Standalone => "standalone",
            Via::DefaultSocket => "default_socket",
        }
    }

    /// One phrase for people.
    pub fn describe(self) -> &'static str {
        match self {
            Via::Configured => "the configured socket",
            Via::AppStore => "the macOS App Store app's local port",
            Via::Standalone => "the macOS Standalone app's local port",
            Via::DefaultSocket => "tailscaled's default socket",
        }
    }
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub endpoint: Endpoint,
    pub via: Via,
    /// Why earlier routes were passed over, one line each ("Standalone: port 61577 is not
    /// accepting connections (stale files?)"). Never contains the token.
    pub notes: Vec<String>,
}

/// Finds the LocalAPI. `socket` is `--socket` / the config's socket, which forces that route.
pub async fn discover(socket: Option<&Path>, roots: &Roots) -> Discovery {
    if let Some(path) = socket {
        return Discovery {
            endpoint: Endpoint::Unix(path.to_path_buf()),
            via: Via::Configured,
            notes: Vec::new(),
        };
    }
    let mut notes = Vec::new();
    if let Some(lsof) = &roots.lsof {
        match app_store(lsof, roots).await {
            Ok((port, token)) => {
                return Discovery {
                    endpoint: Endpoint::Tcp { port, token },
                    via: Via::AppStore,
                    notes,
                };
            }
            Err(why) => notes.push(format!("App Store: {why}")),
        }
    }
    if let Some(dir) = &roots.standalone_dir {
        match standalone(dir, roots.dial_timeout).await {
            Ok((port, token)) => {
                return Discovery {
                    endpoint: Endpoint::Tcp { port, token },
                    via: Via::Standalone,
                    notes,
                };
            }
            Err(why) => notes.push(format!("Standalone: {why}")),
        }
    }
    let found = roots.sockets.iter().find(|p| is_socket(p));
    let path = match (found, roots.sockets.first()) {
        (Some(p), _) | (None, Some(p)) => p.clone(),
        // No candidates at all is a misconfigured `Roots`; the platform default still names
        // the place an error message should point at.
        (None, None) => Roots::system().sockets.first().cloned().unwrap_or_default(),
    };
    if found.is_none() {
        let tried: Vec<String> = roots
            .sockets
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        notes.push(format!("socket: none exists ({})", tried.join(", ")));
    }
    Discovery {
        endpoint: Endpoint::Unix(path),
        via: Via::DefaultSocket,
        notes,
    }
}

fn is_socket(path: &Path) -> bool {
    crate::platform::is_socket(path)
}

/// Why `lsof` output did not give a port and token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LsofError {
    #[error("no IPNExtension sameuserproof file is open")]
    NoProofFile,
    /// The first proof file found has no decimal port; like the CLI, the step gives up.
    #[error("invalid port {0:?} in the sameuserproof file name")]
    BadPort(String),
    /// The name ends right after `<port>-`: nothing to authenticate with.
    #[error("empty token in the sameuserproof file name")]
    EmptyToken,
}

/// Finds the App Store proof file in `lsof -F` output: the first line containing
/// `.tailscale.ipn.macos/sameuserproof-`, whose rest is cut at the first `-` into the port and
/// the token (the rest of the line). Lines without that `-` are skipped, as the CLI does.
///
/// One deviation from the CLI: an empty token is an error here (the CLI would send it and get
/// 403 "bad password"), so that discovery moves on to the Standalone app instead.
pub fn parse_lsof(output: &str) -> Result<(u16, Secret), LsofError> {
    for line in output.lines() {
        let Some(at) = line.find(APP_STORE_PROOF) else {
            continue;
        };
        let rest = &line[at + APP_STORE_PROOF.len()..];
        let Some((port, token)) = rest.split_once('-') else {
            continue;
        };
        let port: u16 = port
            .parse()
            .map_err(|_| LsofError::BadPort(port.to_string()))?;
        if token.is_empty() {
            return Err(LsofError::EmptyToken);
        }
        return Ok((port, Secret::new(token)));
    }
    Err(LsofError::NoProofFile)
}

async fn app_store(lsof: &Path, roots: &Roots) -> Result<(u16, Secret), String> {
    let uid = format!("-u{}", roots.uid);
    let args = ["-n", "-a", uid.as_str(), "-c", "IPNExtension", "-F"];
    let out = match run(lsof, &args, None, roots.lsof_timeout).await {
        Ok(out) => out,
        Err(e @ RunError::Spawn { .. }) => return Err(e.to_string()),
        Err(RunError::TimedOut { after, .. }) => {
            return Err(format!(
                "lsof did not finish within {} s",
                after.as_secs_f32()
            ));
        }
    };
    // lsof exits 1 when it finds no such process; the CLI reads the output only on success.
    if out.code != Some(0) {
        return Err(format!(
            "no IPNExtension process of uid {} (lsof exit {})",
            roots.uid,
            out.code
                .map_or_else(|| "by signal".to_string(), |c| c.to_string())
        ));
    }
    parse_lsof(&out.stdout_text()).map_err(|e| e.to_string())
}

async fn standalone(dir: &Path, dial_timeout: Duration) -> Result<(u16, Secret), String> {
    let link = dir.join("ipnport");
    let target = tokio::fs::read_link(&link)
        .await
        .map_err(|e| format!("{}: {e}", link.display()))?;
    // The link's target text is the port; it is used verbatim in the token file's name.
    let port_text = target.to_string_lossy().into_owned();
    let port: u16 = port_text
        .parse()
        .map_err(|_| format!("{} points to {port_text:?}, not a port", link.display()))?;
    let proof = dir.join(format!("sameuserproof-{port_text}"));
    // Mode 0640 root:admin: a user outside the admin group gets "permission denied" here.
    let bytes = tokio::fs::read(&proof)
        .await
        .map_err(|e| format!("{}: {e}", proof.display()))?;
    let token = String::from_utf8(bytes)
        .map_err(|_| format!("{} is not text", proof.display()))?
        .trim()
        .to_string();
    if token.is_empty() {
        return Err(format!("{} holds no token", proof.display()));
    }
    match tokio::time::timeout(
        dial_timeout,
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)),
    )
    .await
    {
        Ok(Ok(_probe)) => Ok((port, Secret::new(token))),
        Ok(Err(e)) => Err(format!(
            "127.0.0.1:{port} is not accepting connections (stale files?): {e}"
        )),
        Err(_) => Err(format!(
            "127.0.0.1:{port} did not accept within {} ms (stale files?)",
            dial_timeout.as_millis()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_proof_file_wins_and_the_token_keeps_its_dashes() {
        let out = "p812\ncIPNExtension\nn/usr/lib/dyld\n\
                   n/Users/a/Library/Group Containers/W5364U7YZB.io.tailscale.ipn.macos/sameuserproof-61577-2ae2ec9e0a-a2005784f1\n\
                   n/Users/a/Library/Group Containers/W5364U7YZB.io.tailscale.ipn.macos/sameuserproof-1-x\n";
        let (port, token) = parse_lsof(out).unwrap();
        assert_eq!(port, 61577);
        assert_eq!(token.expose(), "2ae2ec9e0a-a2005784f1");
    }

    #[test]
    fn a_name_without_a_dash_after_the_port_is_skipped() {
        let out = "n/x/io.tailscale.ipn.macos/sameuserproof-61577\n\
                   n/x/io.tailscale.ipn.macos/sameuserproof-61578-abc\n";
        assert_eq!(
            parse_lsof(out).map(|(p, t)| (p, t.expose().to_string())),
            Ok((61578, "abc".into()))
        );
    }

    #[test]
    fn bad_port_and_empty_token_and_nothing_are_errors() {
        assert_eq!(
            parse_lsof("n/x/io.tailscale.ipn.macos/sameuserproof-abc-123\n").unwrap_err(),
            LsofError::BadPort("abc".into())
        );
        assert_eq!(
            parse_lsof("n/x/io.tailscale.ipn.macos/sameuserproof-70000-123\n").unwrap_err(),
            LsofError::BadPort("70000".into())
        );
        assert_eq!(
            parse_lsof("n/x/io.tailscale.ipn.macos/sameuserproof-1234-\n").unwrap_err(),
            LsofError::EmptyToken
        );
        assert_eq!(parse_lsof("").unwrap_err(), LsofError::NoProofFile);
        // The Standalone app's file name has no token in it and is not this marker.
        assert_eq!(
            parse_lsof("n/Library/Tailscale/sameuserproof-61577\n").unwrap_err(),
            LsofError::NoProofFile
        );
    }

    #[test]
    fn crlf_output_does_not_leak_a_carriage_return_into_the_token() {
        let (_, token) = parse_lsof("n/x/io.tailscale.ipn.macos/sameuserproof-5-abc\r\n").unwrap();
        assert_eq!(token.expose(), "abc");
    }

    #[test]
    fn roots_name_the_real_places() {
        let mac = Roots::macos(Path::new("/"));
        assert_eq!(
            mac.standalone_dir.as_deref(),
            Some(Path::new("/Library/Tailscale"))
        );
        assert_eq!(mac.sockets, [PathBuf::from("/var/run/tailscaled.socket")]);
        let linux = Roots::linux(Path::new("/"));
        assert_eq!(
            linux.sockets,
            [
                PathBuf::from("/var/run/tailscale/tailscaled.sock"),
                PathBuf::from("/run/tailscale/tailscaled.sock")
            ]
        );
        assert!(linux.lsof.is_none() && linux.standalone_dir.is_none());
    }

    #[tokio::test]
    async fn configured_socket_is_taken_without_looking_elsewhere() {
        let roots = Roots {
            lsof: Some(PathBuf::from("/nonexistent/lsof")),
            ..Roots::macos(Path::new("/nonexistent"))
        };
        let d = discover(Some(Path::new("/tmp/x.sock")), &roots).await;
        assert_eq!(d.endpoint, Endpoint::Unix("/tmp/x.sock".into()));
        assert_eq!(d.via, Via::Configured);
        assert!(d.notes.is_empty());
    }
}
