//! `serve-doctor`: with no subcommand, the menu-bar app (the `tray` feature); `diagnose`, `fix`,
//! `targets` and `exporter` headless.
#![forbid(unsafe_code)]

mod cli;
mod fix_cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serve_doctor::exit::Exit;
use serve_doctor::settings::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "serve-doctor",
    version,
    about = "Diagnose `tailscale serve` over HTTPS: a menu-bar app and a CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    overrides: Overrides,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the diagnostic chain once and print the result (exit 0 green, 1 yellow, 2 red, 3 gray)
    Diagnose(cli::DiagnoseArgs),
    /// Change the serve config (recreate, restore, fallbacks) with a backup first; see `fix --help`
    Fix(fix_cli::FixArgs),
    /// Serve Prometheus metrics: /probe?target=NAME diagnoses a configured target, /metrics
    /// shows the exporter and the last results
    Exporter(cli::ExporterArgs),
    /// List, add and remove the targets to watch (remote nodes over SSH, URLs seen from here)
    Targets(cli::TargetsArgs),
}

#[cfg(feature = "tray")]
fn tray(overrides: Overrides) -> anyhow::Result<ExitCode> {
    serve_doctor::tray::run(overrides)
}

/// The headless build has no menu-bar app: say so, and what it does have.
#[cfg(not(feature = "tray"))]
fn tray(_: Overrides) -> anyhow::Result<ExitCode> {
    eprintln!(
        "serve-doctor: this build is headless (built without the \"tray\" feature): \
         run `serve-doctor diagnose`, `serve-doctor exporter` or `serve-doctor --help`"
    );
    Ok(Exit::Usage.into())
}

fn main() -> ExitCode {
    let args = match Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    let result = match &args.command {
        Some(Command::Diagnose(d)) => cli::diagnose(&args.overrides, d),
        Some(Command::Fix(f)) => fix_cli::run(&args.overrides, f),
        Some(Command::Targets(t)) => cli::targets(t),
        Some(Command::Exporter(e)) => cli::exporter(&args.overrides, e),
        None => tray(args.overrides),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("serve-doctor: error: {e:#}");
            Exit::Internal.into()
        }
    }
}
