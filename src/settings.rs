//! The run's settings: the command-line overrides, declared once for the CLI and the menu-bar
//! app, resolved against the config file into what every consumer uses.
//!
//! Precedence, for every field: a flag beats the config file, which beats the default. The
//! resolution is a pure function, so the app re-runs it whenever the config file changes (the
//! Settings menu, an edit on disk) and the flags keep winning.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::engine::Options;
use crate::probe::Via;
pub use crate::values::{parse_host_port, parse_interval, parse_port, parse_secs};

/// The global flags (`diagnose`, `fix` and the app) and the app's own ones; each wins over the
/// config file for this run.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Overrides {
    /// Backend port serve should proxy to [default: config file, else the serve config's `/`
    /// target, else 18080]
    #[arg(long, global = true, value_name = "N", value_parser = parse_port)]
    pub port: Option<u16>,
    /// The tailscale CLI to use (skips the search)
    #[arg(long, global = true, value_name = "PATH")]
    pub tailscale: Option<PathBuf>,
    /// tailscaled's LocalAPI socket: talk to the daemon directly over it (forces that route)
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "tailscale")]
    pub socket: Option<PathBuf>,
    /// Dial this address for the node's HTTPS port instead of its first Tailscale IP (the TLS
    /// server name stays the node's DNS name)
    #[arg(long, global = true, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub connect: Option<String>,
    /// Reach the node's tailnet addresses through this SOCKS5 proxy (tailscaled's own
    /// `--socks5-server` on a userspace-networking node); names are resolved by the proxy
    #[arg(long, global = true, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub socks5: Option<String>,
    /// Extra trust anchors (PEM) on top of the system store
    #[arg(long = "ca-file", global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Bound for each network step and each CLI call, in seconds [default: 5]
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    /// Menu-bar app: seconds between background checks [default: config file, else 30]
    #[arg(long, value_name = "SECS", value_parser = parse_interval)]
    pub interval: Option<u64>,
    /// Menu-bar app: also log to stderr
    #[arg(long, short)]
    pub verbose: bool,
}

/// [`Overrides`] over one reading of the config file.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What a diagnosis (and a fix) runs with; `full` and `deep` are off, `diagnose` sets them.
    pub engine: Options,
    /// Seconds between the app's background checks, at least 1.
    pub interval_secs: u64,
    /// `--interval` was given: the Settings menu cannot change the interval, and the poll does
    /// not slow down while the IPN bus is up.
    pub interval_pinned: bool,
    /// The poll while the IPN bus is connected, at least 1 s.
    pub safety_poll: Duration,
}

/// The flags over the config file `c`.
pub fn resolve(o: &Overrides, c: &Config) -> Settings {
    let engine = Options {
        tailscale: o.tailscale.clone(),
        socket: o.socket.clone().or_else(|| c.socket_path.clone()),
        config_tailscale: c.tailscale_path.clone(),
        connect: o.connect.clone().or_else(|| c.connect.clone()),
        socks5: o.socks5.clone().or_else(|| c.socks5.clone()),
        node_via: Via::Direct,
        route: None,
        ca_file: o.ca_file.clone().or_else(|| c.ca_file.clone()),
        // The config file's port is kept apart, so a diagnosis can say where the port came from.
        port: o.port,
        config_port: c.backend_port,
        timeout: o
            .timeout
            .unwrap_or_else(|| Duration::from_secs(c.timeout_secs.max(1))),
        full: false,
        deep: false,
        ssh_user: c.ssh_user.clone(),
        ssh_host: c.ssh_host.clone(),
        tunnel_local_port: c.tunnel_local_port,
    };
    Settings {
        engine,
        interval_secs: o.interval.unwrap_or(c.poll_interval_secs).max(1),
        interval_pinned: o.interval.is_some(),
        safety_poll: Duration::from_secs(c.safety_poll_secs.max(1)),
    }
}

#[cfg(test)]
mod tests;
