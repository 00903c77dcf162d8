//! Headless subcommands on top of the library: `diagnose` now, `fix …` later.
//!
//! Flags win over the config file for the run ([`settings::resolve`]); the config file is only
//! read, never written, here.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use serve_doctor::config;
use serve_doctor::engine::Engine;
use serve_doctor::exit::Exit;
use serve_doctor::report;
use serve_doctor::settings::{self, Overrides, Settings};

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
    /// Diagnose this URL (or a node's name) from this device, instead of this node's own serve
    #[arg(value_name = "URL")]
    pub url: Option<String>,
}

/// The config file read once, its problem (if any) warned about, the flags resolved over it.
pub fn settings(overrides: &Overrides) -> Settings {
    let loaded = config::load();
    if let Some(p) = &loaded.problem {
        eprintln!("serve-doctor: warning: {p}");
    }
    settings::resolve(overrides, &loaded.config)
}

pub fn diagnose(overrides: &Overrides, args: &DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let mut opts = settings(overrides).engine;
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
    let d = match &args.url {
        Some(url) => {
            if let Err(e) = serve_doctor::diagnosis::remote::parse_target(url) {
                eprintln!("serve-doctor: {e}");
                return Ok(Exit::Usage.into());
            }
            rt.block_on(engine.diagnose_url(url))
        }
        None => rt.block_on(engine.diagnose(|_| {})),
    };
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
