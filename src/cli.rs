//! The headless subcommands on top of the library: `diagnose`, `targets` and `exporter` (`fix`
//! has its own room, `fix_cli`).
//!
//! Flags win over the config file for the run ([`settings::resolve`]). Only `targets add|remove`
//! writes the file, through [`targets::add`] and [`targets::remove`], which keep everything else
//! in it.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use serve_doctor::config;
use serve_doctor::diagnosis::Health;
use serve_doctor::exit::Exit;
use serve_doctor::report;
use serve_doctor::settings::{self, Overrides, Settings};
use serve_doctor::targets::{self, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
    /// The monitoring-plugin line with performance data, checks as long output.
    Nagios,
    /// The Prometheus text exposition (node_exporter's textfile collector).
    Prometheus,
}

#[derive(Debug, Clone, Args)]
pub struct DiagnoseArgs {
    /// Print one JSON object instead of text (same as --format json)
    #[arg(long, conflicts_with_all = ["markdown", "format"])]
    pub json: bool,
    /// Print a Markdown report to paste into an issue (same as --format markdown)
    #[arg(long, conflicts_with = "format")]
    pub markdown: bool,
    /// Output format
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the report to FILE atomically (temp file + rename) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Wait for every probe even when the verdict is already certain
    #[arg(long)]
    pub full: bool,
    /// Also run `tailscale cert` (bounded by --timeout, in a throw-away directory)
    #[arg(long)]
    pub deep: bool,
    /// Diagnose every target (`serve-doctor targets`) at once: one report, the worst exit
    #[arg(long, conflicts_with = "target")]
    pub all: bool,
    /// Diagnose this target from the config's list (`serve-doctor targets`)
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Diagnose a remote node over one SSH connection (`--tailscale` is then the node's CLI;
    /// extra ssh options: SERVE_DOCTOR_SSH_OPTS="-o KEY=VALUE …")
    #[arg(
        long,
        value_name = "[USER@]HOST[:PORT]",
        allow_hyphen_values = true,
        conflicts_with_all = ["all", "target"]
    )]
    pub ssh: Option<String>,
    /// Diagnose this URL (or a node's name) from this device, instead of this node's own serve
    #[arg(value_name = "URL", conflicts_with_all = ["all", "target", "ssh"])]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Address to serve /metrics and /probe on (loopback unless you say otherwise)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9839")]
    pub listen: std::net::SocketAddr,
    /// Reuse a target's result for this long, in seconds (0: only scrapes that arrive together
    /// share a diagnosis)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = serve_doctor::values::parse_cache_secs)]
    pub cache: std::time::Duration,
    /// Diagnoses (of different targets) running at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(Debug, Clone, Args)]
pub struct TargetsArgs {
    #[command(subcommand)]
    pub action: Option<TargetsAction>,
    /// Print the list as JSON
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TargetsAction {
    /// List the targets (this node first)
    List,
    /// Add a target: a remote node over SSH or a URL seen from this device
    Add {
        /// A short name (letters, digits, '.', '_', '-')
        name: String,
        /// [user@]host[:port] of a remote node
        #[arg(
            long,
            value_name = "DEST",
            conflicts_with = "url",
            required_unless_present = "url"
        )]
        ssh: Option<String>,
        /// https://name.tailnet.ts.net/ to watch from here
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Remove a target
    Remove { name: String },
}

/// `serve-doctor targets …`: the list lives in the config file; the app rereads it.
pub fn targets(args: &TargetsArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load();
    let done = match args.action.clone().unwrap_or(TargetsAction::List) {
        TargetsAction::List => {
            let (list, problems) = serve_doctor::targets::all(&loaded.config);
            for p in &problems {
                eprintln!("serve-doctor: warning: {p}");
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for t in &list {
                    println!("{:<16} {}", t.name, t.describe());
                }
            }
            Ok(())
        }
        TargetsAction::Add { name, ssh, url } => {
            let entry = config::TargetEntry { name, ssh, url };
            serve_doctor::targets::add(&loaded, entry).map(|t| {
                println!("added {}", t.describe());
            })
        }
        TargetsAction::Remove { name } => {
            serve_doctor::targets::remove(&loaded, &name).map(|()| println!("removed {name}"))
        }
    };
    match done {
        Ok(()) => Ok(Exit::Success.into()),
        Err(e) => {
            eprintln!("serve-doctor: {e}");
            Ok(Exit::Usage.into())
        }
    }
}

/// The config file read once, each of its problems warned about, the flags resolved over it.
pub fn settings(overrides: &Overrides) -> Settings {
    let loaded = config::load();
    for p in &loaded.problems {
        eprintln!("serve-doctor: warning: {p}");
    }
    settings::resolve(overrides, &loaded.config)
}

/// `serve-doctor exporter`: serves until SIGINT or SIGTERM, then exits 0.
pub fn exporter(overrides: &Overrides, args: &ExporterArgs) -> anyhow::Result<ExitCode> {
    use serve_doctor::exporter::{self, Exporter};
    serve_doctor::logging::init(None, overrides.verbose);
    let loaded = config::load();
    for p in &loaded.problems {
        eprintln!("serve-doctor: warning: {p}");
    }
    let opts = serve_doctor::settings::resolve(overrides, &loaded.config).engine;
    let (list, problems) = targets::all(&loaded.config);
    for p in &problems {
        eprintln!("serve-doctor: warning: {p}");
    }
    let engine = match serve_doctor::engine::Engine::new(opts) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("serve-doctor: {e}");
            return Ok(Exit::Usage.into());
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("serve-doctor: cannot listen on {}: {e}", args.listen);
                return Ok(Exit::Usage.into());
            }
        };
        let addr = listener.local_addr().unwrap_or(args.listen);
        if !addr.ip().is_loopback() {
            eprintln!(
                "serve-doctor: warning: listening on {addr}, not loopback: anyone who reaches it \
                 can start diagnoses of the configured targets (bounded by --cache)"
            );
        }
        let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "serve-doctor exporter: listening on http://{addr}/ (targets: {})",
            names.join(", ")
        );
        let settings = exporter::Settings {
            cache: args.cache,
            concurrency: usize::from(args.concurrency),
        };
        let ex = std::sync::Arc::new(Exporter::new(engine, list, settings));
        exporter::http::serve(listener, ex, quit()).await;
        Ok(Exit::Success.into())
    })
}

/// SIGINT or SIGTERM, whichever comes first (a service manager stops us with the second).
async fn quit() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `--socket` names a socket on this machine, which a remote node's run cannot use: refused
/// rather than silently ignored.
pub fn socket_with_ssh(overrides: &Overrides, ssh: bool) -> Option<String> {
    (ssh && overrides.socket.is_some()).then(|| {
        "--socket names a socket on this machine and cannot be used with --ssh (the node's own \
         tailscale is used there; --tailscale PATH names its CLI)"
            .to_string()
    })
}

pub fn diagnose(overrides: &Overrides, args: &DiagnoseArgs) -> anyhow::Result<ExitCode> {
    if let Some(why) = socket_with_ssh(overrides, args.ssh.is_some()) {
        eprintln!("serve-doctor: {why}");
        return Ok(Exit::Usage.into());
    }
    let loaded = config::load();
    for p in &loaded.problems {
        eprintln!("serve-doctor: warning: {p}");
    }
    let mut opts = serve_doctor::settings::resolve(overrides, &loaded.config).engine;
    opts.full = args.full;
    opts.deep = args.deep;
    let (all, problems) = targets::all(&loaded.config);
    let chosen: Vec<Target> = if args.all {
        for p in &problems {
            eprintln!("serve-doctor: warning: {p}");
        }
        all
    } else if let Some(url) = &args.url {
        vec![Target {
            name: url.clone(),
            kind: targets::Kind::Url(url.clone()),
        }]
    } else if let Some(dest) = &args.ssh {
        vec![Target {
            name: dest.clone(),
            kind: targets::Kind::Ssh(dest.clone()),
        }]
    } else if let Some(name) = &args.target {
        match all.into_iter().find(|t| &t.name == name) {
            Some(t) => vec![t],
            None => {
                eprintln!(
                    "serve-doctor: there is no target called {name} (serve-doctor targets lists them)"
                );
                return Ok(Exit::Usage.into());
            }
        }
    } else {
        vec![Target::local()]
    };
    // Several targets share the machine's cores (handshakes, parsing); one needs one thread.
    let rt = if chosen.len() > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .context("starting the async runtime")?;
    let reports = rt.block_on(targets::diagnose_all(&chosen, &opts));
    // Drop the runtime before printing so that every cancelled probe (and its process group)
    // is gone by the time a caller reads our output.
    drop(rt);
    let format = match (args.json, args.markdown, args.format) {
        (true, _, _) => Format::Json,
        (_, true, _) => Format::Markdown,
        (_, _, f) => f.unwrap_or_default(),
    };
    let (out, health) = if args.all {
        let worst = targets::worst(&reports);
        (render_all(&reports, worst, format), worst)
    } else {
        let r = &reports[0];
        let Some(d) = &r.diagnosis else {
            eprintln!(
                "serve-doctor: {}",
                r.error.as_deref().unwrap_or("cannot diagnose")
            );
            return Ok(Exit::Usage.into());
        };
        (render_one(&r.target.name, d, format), d.health)
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = report::prometheus::write_atomically(path, &out) {
                eprintln!("serve-doctor: cannot write {}: {e}", path.display());
                return Ok(Exit::Usage.into());
            }
        }
        None => print!("{out}"),
    }
    Ok(Exit::health(health).into())
}

fn render_one(name: &str, d: &serve_doctor::diagnosis::Diagnosis, format: Format) -> String {
    match format {
        Format::Json => report::json(d) + "\n",
        Format::Markdown => report::markdown(d),
        Format::Text => report::text(d),
        Format::Nagios => report::nagios::render(d),
        Format::Prometheus => report::prometheus::render(&[report::prometheus::Sample {
            target: name.to_string(),
            diagnosis: Some(d),
        }]),
    }
}

fn render_all(reports: &[targets::TargetReport], worst: Health, format: Format) -> String {
    match format {
        Format::Json => report::json_targets(reports, worst) + "\n",
        Format::Text => report::targets_text(reports, worst, false),
        Format::Markdown => report::targets_text(reports, worst, true),
        Format::Nagios => report::nagios::render_targets(reports, worst),
        Format::Prometheus => {
            let samples: Vec<report::prometheus::Sample> = reports
                .iter()
                .map(|r| report::prometheus::Sample {
                    target: r.target.name.clone(),
                    diagnosis: r.diagnosis.as_ref(),
                })
                .collect();
            report::prometheus::render(&samples)
        }
    }
}
