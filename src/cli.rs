//! Headless subcommands on top of the library: `diagnose` now, `fix …` later.
//!
//! Flags win over the config file for the run; the config file is only read, never written, here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use serve_doctor::config;
use serve_doctor::engine::{Engine, Options};
use serve_doctor::exit::Exit;
use serve_doctor::report;

/// Overrides shared by the app and every subcommand.
#[derive(Debug, Clone, Args, Default)]
pub struct Common {
    /// Backend port serve should proxy to [default: config file, else the serve config's `/`
    /// target, else 18080]
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
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
    /// Extra trust anchors (PEM) on top of the system store
    #[arg(long = "ca-file", global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Bound for each network step and each CLI call, in seconds [default: 5]
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct DiagnoseArgs {
    /// Print one JSON object instead of text
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print a Markdown report to paste into an issue
    #[arg(long)]
    pub markdown: bool,
    /// Wait for every probe even when the verdict is already certain
    #[arg(long)]
    pub full: bool,
    /// Also run `tailscale cert` (bounded by --timeout, in a throw-away directory)
    #[arg(long)]
    pub deep: bool,
}

pub fn parse_host_port(s: &str) -> Result<String, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or("expected HOST:PORT, e.g. 127.0.0.1:8443")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} has no usable host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(s.to_string()),
        _ => Err(format!("{port:?} is not a port (1-65535)")),
    }
}

pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(v > 0.0 && v <= 3600.0) {
        return Err(format!("{s} is out of range (0 < SECS ≤ 3600)"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Config file + flags → engine options.
pub fn options(common: &Common) -> (Options, Option<String>) {
    let loaded = config::load();
    let mut o = Options::from_config(&loaded.config);
    if common.tailscale.is_some() {
        o.tailscale = common.tailscale.clone();
    }
    if common.socket.is_some() {
        o.socket = common.socket.clone();
    }
    if common.connect.is_some() {
        o.connect = common.connect.clone();
    }
    if common.ca_file.is_some() {
        o.ca_file = common.ca_file.clone();
    }
    o.port = common.port;
    if let Some(t) = common.timeout {
        o.timeout = t;
    }
    (o, loaded.problem)
}

pub fn diagnose(common: &Common, args: &DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let (mut opts, problem) = options(common);
    if let Some(p) = problem {
        eprintln!("serve-doctor: warning: {p}");
    }
    opts.full = args.full;
    opts.deep = args.deep;
    let engine = match Engine::new(opts) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("serve-doctor: {e}");
            return Ok(Exit::Usage.into());
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let d = rt.block_on(engine.diagnose(|_| {}));
    // Drop the runtime before printing so that every cancelled probe (and its process group)
    // is gone by the time a caller reads our output.
    drop(rt);
    let out = if args.json {
        report::json(&d) + "\n"
    } else if args.markdown {
        report::markdown(&d)
    } else {
        report::text(&d)
    };
    print!("{out}");
    Ok(Exit::health(d.health).into())
}
