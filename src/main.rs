//! `serve-doctor`: with no subcommand, the menu-bar app; `diagnose` (and later `fix`) headless.
#![forbid(unsafe_code)]

mod cli;
mod fix_cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serve_doctor::exit::Exit;

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
    common: cli::Common,
    /// Menu-bar app: seconds between background checks [default: config file, else 30]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    interval: Option<u64>,
    /// Menu-bar app: also log to stderr
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the diagnostic chain once and print the result (exit 0 green, 1 yellow, 2 red, 3 gray)
    Diagnose(cli::DiagnoseArgs),
    /// Change the serve config (recreate, restore, fallbacks) with a backup first; see `fix --help`
    Fix(fix_cli::FixArgs),
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
        Some(Command::Diagnose(d)) => cli::diagnose(&args.common, d),
        Some(Command::Fix(f)) => fix_cli::run(&args.common, f),
        None => serve_doctor::tray::run(serve_doctor::tray::TrayArgs {
            tailscale: args.common.tailscale.clone(),
            socket: args.common.socket.clone(),
            connect: args.common.connect.clone(),
            ca_file: args.common.ca_file.clone(),
            port: args.common.port,
            timeout: args.common.timeout,
            interval: args.interval,
            verbose: args.verbose,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("serve-doctor: error: {e:#}");
            Exit::Internal.into()
        }
    }
}
