//! `serve-doctor fix <action>`: flags, the confirmation rule, and the text/JSON rendering of a
//! [`FixReport`]. The work is in the library (`serve_doctor::fix`), shared with the menu-bar app.
//!
//! Exit codes: [`Exit::fix`] (0 done, 1 failed, 2 refused, 3 not confirmed, 4 busy).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use serve_doctor::config::Dirs;
use serve_doctor::exit::Exit;
use serve_doctor::fix::{self, Action, FixOptions, FixReport, Outcome};

use serve_doctor::settings::Overrides;
use serve_doctor::tailscale::ssh::SshTarget;

use crate::cli;

#[derive(Debug, Clone, Args)]
pub struct FixArgs {
    #[command(subcommand)]
    pub action: FixAction,
    /// Carry the plan out (headless runs never change anything without it)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Print the report as one JSON object
    #[arg(long, global = true)]
    pub json: bool,
    /// Fix a remote node over one SSH connection (the backup is kept here)
    #[arg(
        long,
        global = true,
        value_name = "[USER@]HOST[:PORT]",
        allow_hyphen_values = true
    )]
    pub ssh: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum FixAction {
    /// Back up, `tailscale serve reset`, `tailscale serve --bg --https=P <backend>`, diagnose again
    Recreate {
        /// Put the other handlers back (restores the backup without our handler, then adds ours)
        #[arg(long)]
        keep_others: bool,
        /// HTTPS port to serve on [default: the existing `/` handler's port, else 443]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        https_port: Option<u16>,
    },
    /// Put a backup back: `serve reset`, then `serve set-raw` < BACKUP [default: the newest]
    Restore {
        /// A backup file, or its name in the backups directory
        backup: Option<PathBuf>,
        /// Rewrite host names of another node to this node's current name
        #[arg(long)]
        rename_to_current: bool,
    },
    /// List the backups (newest first): time, node, what each holds
    Backups,
    /// Serve the backend over plain HTTP on the tailnet: `serve --bg --http=80 <backend>`
    HttpFallback,
    /// Make the backend public on the internet: `funnel --bg --https=443 <backend>`
    FunnelOn,
    /// Turn Funnel off but keep tailnet-only serving (re-runs `serve --bg`)
    FunnelOff,
    /// Open the admin DNS page (or URL, a consent page a CLI call printed)
    OpenAdmin {
        /// https://login.tailscale.com/… to open instead of the admin DNS page
        url: Option<String>,
        /// Only print the URL
        #[arg(long)]
        print: bool,
    },
    /// Print the SSH tunnel command (shell-quoted)
    TunnelCommand {
        #[arg(long, value_name = "U")]
        user: Option<String>,
        #[arg(long, value_name = "H")]
        host: Option<String>,
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        local_port: Option<u16>,
    },
}

fn action(a: &FixAction) -> Action {
    match a.clone() {
        FixAction::Recreate {
            keep_others,
            https_port,
        } => Action::Recreate {
            keep_others,
            https_port,
        },
        FixAction::Restore {
            backup,
            rename_to_current,
        } => Action::Restore {
            backup,
            rename_to_current,
        },
        FixAction::Backups => Action::Backups,
        FixAction::HttpFallback => Action::HttpFallback,
        FixAction::FunnelOn => Action::FunnelOn,
        FixAction::FunnelOff => Action::FunnelOff,
        FixAction::OpenAdmin { url, print } => Action::OpenAdmin {
            url,
            print_only: print,
        },
        FixAction::TunnelCommand {
            user,
            host,
            local_port,
        } => Action::TunnelCommand {
            user,
            host,
            local_port,
        },
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// The report as text: plan, backup, every call with its full output, verification, result.
pub fn render(r: &FixReport) -> String {
    let mut s = format!("serve-doctor fix {}", r.action);
    if let Some(route) = &r.route {
        s.push_str(&format!(" (via {route})"));
    }
    s.push('\n');
    let p = &r.plan;
    if !p.commands.is_empty() {
        s.push_str("\nPlan:\n");
        for (i, c) in p.commands.iter().enumerate() {
            s.push_str(&format!("  {}. {c}\n", i + 1));
        }
    }
    if !p.removes.is_empty() {
        s.push_str("\nThis removes or replaces:\n");
        for x in &p.removes {
            s.push_str(&format!("  - {x}\n"));
        }
    }
    if !p.notes.is_empty() {
        s.push_str("\nNotes:\n");
        for x in &p.notes {
            s.push_str(&format!("  - {x}\n"));
        }
    }
    if !p.undo.is_empty() {
        s.push_str("\nUndo:\n");
        for x in &p.undo {
            s.push_str(&format!("  {x}\n"));
        }
    }
    if let Some(b) = &r.backup {
        s.push_str(&format!("\nBackup: {}\n", b.display()));
    }
    if !r.steps.is_empty() {
        s.push_str("\nRan:\n");
        for st in &r.steps {
            s.push_str(&format!("  $ {}\n", st.command));
            s.push_str(&indent(st.stdout.trim_end(), "    | "));
            s.push_str(&indent(st.stderr.trim_end(), "    ! "));
            match (st.code, st.timed_out) {
                (_, true) => s.push_str(&format!("    (stopped after {} ms)\n", st.ms)),
                (Some(c), _) => s.push_str(&format!("    (exit {c})\n")),
                (None, _) => s.push_str("    (killed)\n"),
            }
        }
        s.push_str(&format!(
            "\nVerified by reading the config back: {}\n",
            if r.verified { "yes" } else { "no" }
        ));
    }
    for f in &r.findings {
        s.push_str(&format!("\nTailscale said: {}\n", f.line));
        if let Some(h) = &f.hint {
            s.push_str(&format!("  → {h}\n"));
        }
    }
    if let Some(u) = &r.consent_url {
        s.push_str(&format!("\nConsent page: {u}\n"));
    }
    if let Some(list) = &r.backups {
        for b in list {
            let t = b
                .time
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "?".into());
            s.push_str(&format!(
                "{t}  {}  {}\n    {}\n",
                b.node,
                b.holds,
                b.path.display()
            ));
        }
    }
    if let Some(c) = &r.command {
        s.push_str(&format!("\n{c}\n"));
    }
    if let (Some(h), Some(c)) = (r.new_health, r.new_cause) {
        s.push_str(&format!("\nHealth now: {h} ({c})\n"));
    }
    s.push_str(&format!("\n{}\n", r.message));
    s
}

pub fn run(overrides: &Overrides, args: &FixArgs) -> anyhow::Result<ExitCode> {
    let ssh = match args.ssh.as_deref().map(SshTarget::new).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("serve-doctor: {e}");
            return Ok(Exit::Usage.into());
        }
    };
    if let Some(why) = cli::socket_with_ssh(overrides, ssh.is_some()) {
        eprintln!("serve-doctor: {why}");
        return Ok(Exit::Usage.into());
    }
    let engine = cli::settings(overrides).engine;
    let dirs = Dirs::discover().context("no home directory: cannot find the data directory")?;
    let action = action(&args.action);
    let opts = FixOptions {
        engine,
        data_dir: dirs.data,
        confirmed: args.yes,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = match &ssh {
        Some(target) => rt.block_on(fix::run_ssh(&action, target, &opts)),
        None => rt.block_on(fix::run(&action, &opts)),
    };
    // Every CLI process group is gone before we print (the runtime drop kills stragglers).
    drop(rt);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("serve-doctor: fix {}: {e}", action.name());
            return Ok(Exit::FixFailed.into());
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding the report")?
        );
    } else {
        print!("{}", render(&report));
    }
    if report.outcome == Outcome::Planned {
        eprintln!(
            "serve-doctor: nothing changed: re-run with --yes to back up and apply this plan"
        );
    }
    Ok(Exit::fix(report.outcome).into())
}
