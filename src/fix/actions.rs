//! The actions themselves: plan from the current status and serve config, then (confirmed)
//! lock, back up, run, verify, put the backup back if the result is not what was planned.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::findings::{self, FindingKind};
use super::{Action, FixError, FixOptions, FixReport, Outcome, StepRecord, backup, edit, lock};
use crate::config::DEFAULT_BACKEND_PORT;
use crate::diagnosis::Cause;
use crate::diagnosis::rules::ADMIN_DNS_URL;
use crate::engine::Engine;
use crate::shell;
use crate::tailscale::serve::{HttpHandler, proxy_target_port, split_host_port};
use crate::tailscale::{self, RunError, ServeConfig, Status};

/// The Funnel port capability: `https://tailscale.com/cap/funnel-ports?ports=443,8443,…`.
const FUNNEL_PORTS_CAP: &str = "https://tailscale.com/cap/funnel-ports?ports=";
/// The port Funnel is turned on for (the CLI's own Funnel check always looks at 443).
const FUNNEL_PORT: u16 = 443;
const HTTP_FALLBACK_PORT: u16 = 80;

/// A CLI call to make: its arguments, its stdin, and how it is shown to the user.
struct Cmd {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    shown: String,
}

/// A handler the result must contain.
struct Want {
    host: String,
    port: u16,
    path: String,
    /// `HttpHandler::describe()` of the handler: "proxy http://127.0.0.1:18080".
    what: String,
    /// Plain HTTP (the `--http` fallback) instead of HTTPS.
    http: bool,
    funnel: Option<bool>,
}

/// What the config read back must look like.
enum Expect {
    /// These handlers (and, for keep-others, these other mounts and forwards) are present.
    Has {
        want: Vec<Want>,
        others: Vec<(String, u16, String, String)>,
        forwards: Vec<(u16, String)>,
    },
    /// Exactly this config (modulo omitempty and key order).
    Exact(Value),
}

/// A planned change, or why there is none.
enum Prepared {
    Change {
        cmds: Vec<Cmd>,
        expect: Expect,
    },
    Refuse(String),
    /// Nothing to change (Funnel already off); the message says so.
    Nothing(String),
}

/// Everything a run has read and done so far.
struct Ctx<'a> {
    opts: &'a FixOptions,
    cli: PathBuf,
    cli_shown: String,
    timeout: Duration,
    report: FixReport,
}

impl Ctx<'_> {
    fn cmd(&self, args: &[&str], stdin: Option<(Vec<u8>, &str)>) -> Cmd {
        let mut shown = std::iter::once(self.cli_shown.clone())
            .chain(args.iter().map(|a| shell::word(a)))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some((_, from)) = &stdin {
            shown.push_str(" < ");
            shown.push_str(from);
        }
        Cmd {
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: stdin.map(|(b, _)| b),
            shown,
        }
    }

    /// Runs one call, records it and what it said; retries once on "Another client is changing
    /// the serve config". True when it exited 0 and said nothing we know to be a failure.
    async fn exec(&mut self, cmd: &Cmd) -> bool {
        let mut retried = false;
        loop {
            let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
            let res = tailscale::run(&self.cli, &args, cmd.stdin.as_deref(), self.timeout).await;
            let step = match res {
                Ok(o) => StepRecord {
                    command: cmd.shown.clone(),
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
                    command: cmd.shown.clone(),
                    stdout: String::from_utf8_lossy(&stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                    code: None,
                    timed_out: true,
                    ms: after.as_millis() as u64,
                },
                Err(e @ RunError::Spawn { .. }) => StepRecord {
                    command: cmd.shown.clone(),
                    stdout: String::new(),
                    stderr: e.to_string(),
                    code: None,
                    timed_out: false,
                    ms: 0,
                },
            };
            let text = format!("{}\n{}", step.stdout, step.stderr);
            if self.report.consent_url.is_none() {
                self.report.consent_url = findings::consent_url(&text);
            }
            let found = findings::scan(&text, step.timed_out);
            let ok = step.code == Some(0)
                && !step.timed_out
                && !found.iter().any(|f| f.kind == FindingKind::NotEnabled);
            let race = found.iter().any(|f| f.kind == FindingKind::ConfigRace);
            for f in found {
                if !self.report.findings.contains(&f) {
                    self.report.findings.push(f);
                }
            }
            self.report.steps.push(step);
            if !ok && race && !retried {
                retried = true;
                continue;
            }
            return ok;
        }
    }

    /// Reads the config back: the model and the JSON.
    async fn read_back(&self) -> Result<(ServeConfig, Value), String> {
        let (c, raw) = tailscale::serve_config(&self.cli, self.timeout)
            .await
            .map_err(|e| e.describe())?;
        let v: Value = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
        Ok((c, v))
    }

    /// `serve reset` then `serve set-raw` of `config` (unless it is empty).
    fn restore_cmds(&self, config: &Value, from: &str) -> Vec<Cmd> {
        let mut cmds = vec![self.cmd(&["serve", "reset"], None)];
        if !edit::is_empty(config) {
            let bytes = serde_json::to_vec(config).unwrap_or_default();
            cmds.push(self.cmd(&["serve", "set-raw"], Some((bytes, from))));
        }
        cmds
    }
}

fn verify(expect: &Expect, got: &ServeConfig, got_raw: &Value) -> Result<(), String> {
    match expect {
        Expect::Exact(want) => {
            if edit::normalize(want) == edit::normalize(got_raw) {
                Ok(())
            } else {
                Err("the config read back differs from the one written".into())
            }
        }
        Expect::Has {
            want,
            others,
            forwards,
        } => {
            let mounts: Vec<_> = got.mounts().into_iter().filter(|m| !m.foreground).collect();
            for w in want {
                let Some(m) = mounts
                    .iter()
                    .find(|m| m.host == w.host && m.port == w.port && m.path == w.path)
                else {
                    return Err(format!(
                        "no handler for {}:{}{} in the config read back",
                        w.host, w.port, w.path
                    ));
                };
                if m.what != w.what {
                    return Err(format!(
                        "{}:{}{} is \"{}\", not \"{}\"",
                        w.host, w.port, w.path, m.what, w.what
                    ));
                }
                let tcp = got.tcp.get(&w.port.to_string());
                let scheme_ok = if w.http {
                    tcp.is_some_and(|t| t.http)
                } else {
                    tcp.is_some_and(|t| t.https)
                };
                if !scheme_ok {
                    return Err(format!(
                        "port {} is not served over {}",
                        w.port,
                        if w.http { "HTTP" } else { "HTTPS" }
                    ));
                }
                if let Some(f) = w.funnel
                    && m.funnel != f
                {
                    return Err(format!(
                        "Funnel is {} for {}:{}",
                        if m.funnel { "on" } else { "off" },
                        w.host,
                        w.port
                    ));
                }
            }
            for (h, p, path, what) in others {
                if !mounts
                    .iter()
                    .any(|m| &m.host == h && m.port == *p && &m.path == path && &m.what == what)
                {
                    return Err(format!("{h}:{p}{path} ({what}) was not put back"));
                }
            }
            let got_fw = got.tcp_forwards();
            for f in forwards {
                if !got_fw.contains(f) {
                    return Err(format!("TCP forward {} → {} was not put back", f.0, f.1));
                }
            }
            Ok(())
        }
    }
}

/// Every entry of a config, one line each, for "this removes".
fn inventory(c: &ServeConfig) -> Vec<String> {
    let mut out = Vec::new();
    for m in c.mounts() {
        let scheme = if m.https { "https" } else { "http" };
        let mut line = format!("{scheme}://{}:{}{} → {}", m.host, m.port, m.path, m.what);
        if m.funnel {
            line.push_str(" (Funnel: public)");
        }
        if m.foreground {
            line.push_str(" (foreground session)");
        }
        out.push(line);
    }
    for (port, target) in c.tcp_forwards() {
        out.push(format!("TCP port {port} → {target}"));
    }
    let mounted: Vec<u16> = c.mounts().iter().map(|m| m.port).collect();
    for (port, t) in &c.tcp {
        if t.tcp_forward.is_empty() && port.parse::<u16>().is_ok_and(|p| !mounted.contains(&p)) {
            out.push(format!(
                "port {port} ({})",
                if t.https {
                    "HTTPS, no handler"
                } else {
                    "no handler"
                }
            ));
        }
    }
    for (hp, on) in &c.allow_funnel {
        if *on && !c.web.contains_key(hp) {
            out.push(format!("Funnel entry {hp} (no handler)"));
        }
    }
    for svc in c.services.keys() {
        out.push(format!("Service {svc}"));
    }
    out
}

/// The backend target: `--port`, the config file's port, the existing `/` handler's proxy on
/// `port_hint`'s port (kept exactly as it was), else the default port.
fn target(opts: &FixOptions, serve: &ServeConfig, https_port: Option<u16>) -> String {
    if let Some(p) = opts.engine.port.or(opts.engine.config_port) {
        return format!("http://127.0.0.1:{p}");
    }
    serve
        .mounts()
        .into_iter()
        .filter(|m| !m.foreground && m.path == "/" && m.https)
        .filter(|m| https_port.is_none_or(|p| p == m.port))
        .find_map(|m| m.proxy)
        .unwrap_or_else(|| format!("http://127.0.0.1:{DEFAULT_BACKEND_PORT}"))
}

fn proxy_what(target: &str) -> String {
    HttpHandler {
        proxy: target.to_string(),
        ..HttpHandler::default()
    }
    .describe()
}

/// The ports the funnel-ports capability allows, as written ("443,8443,10000" or ranges).
fn funnel_port_allowed(st: &Status, port: u16) -> Result<(), String> {
    let Some(node) = st.self_node.as_ref() else {
        return Err("no self node in status".into());
    };
    let spec = node
        .cap_map
        .keys()
        .chain(node.capabilities.iter())
        .find_map(|k| k.strip_prefix(FUNNEL_PORTS_CAP))
        .map(str::to_string);
    let Some(spec) = spec else {
        return Err(format!(
            "port {port} is not allowed for Funnel: the node has no funnel-ports capability"
        ));
    };
    let ok = spec.split(',').any(|p| match p.split_once('-') {
        Some((a, b)) => {
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= port && port <= b)
        }
        None => p.parse::<u16>() == Ok(port),
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "port {port} is not allowed for Funnel; allowed ports are: {spec}"
        ))
    }
}

/// The backup to restore: a path, a name in the backups dir, or the newest.
fn resolve_backup(opts: &FixOptions, given: Option<&Path>) -> Result<Option<PathBuf>, FixError> {
    let dir = backup::dir(&opts.data_dir);
    match given {
        Some(p) if p.components().count() == 1 && dir.join(p).is_file() => Ok(Some(dir.join(p))),
        Some(p) => Ok(Some(p.to_path_buf())),
        None => backup::newest(&opts.data_dir).map_err(|source| FixError::Backups { dir, source }),
    }
}

pub(super) async fn run(action: &Action, opts: &FixOptions) -> Result<FixReport, FixError> {
    let mut report = FixReport::new(action);
    match action {
        Action::Backups => {
            let list = backup::list(&opts.data_dir).map_err(|source| FixError::Backups {
                dir: backup::dir(&opts.data_dir),
                source,
            })?;
            report.message = format!(
                "{} backup(s) in {}",
                list.len(),
                backup::dir(&opts.data_dir).display()
            );
            report.backups = Some(list);
            report.outcome = Outcome::Done;
            return Ok(report);
        }
        Action::OpenAdmin { url, print_only } => {
            return Ok(open_admin(report, url.as_deref(), *print_only).await);
        }
        Action::TunnelCommand {
            user,
            host,
            local_port,
        } => {
            return Ok(tunnel_command(report, opts, user, host, *local_port).await);
        }
        _ => {}
    }

    // recreate prefers the LocalAPI: it can swap our handler alone, under an ETag check.
    if let Action::Recreate { https_port, .. } = action
        && let Some((api, route, status)) = super::api::client(opts).await
    {
        return super::api::recreate(report, opts, api, route, status, *https_port).await;
    }
    let located = tailscale::locate(
        opts.engine.tailscale.as_deref(),
        opts.engine.config_tailscale.as_deref(),
        std::env::var_os("PATH").as_deref(),
    )?;
    report.route = Some(format!("cli {}", located.path.display()));
    // Taken before reading the state the plan rests on, so nobody changes it in between.
    let Some(_lock) = lock::for_run(&opts.data_dir, opts.confirmed)? else {
        report.outcome = Outcome::Busy;
        report.message = lock::BUSY.into();
        return Ok(report);
    };
    let timeout = opts.engine.timeout.max(Duration::from_millis(100));
    let status = tailscale::status(&located.path, timeout)
        .await
        .map_err(|e| FixError::Status(e.describe()))?;
    let (serve, raw) = tailscale::serve_config(&located.path, timeout)
        .await
        .map_err(|e| FixError::ServeConfig(e.describe()))?;
    let mut ctx = Ctx {
        opts,
        cli_shown: shell::word(&located.path.to_string_lossy()),
        cli: located.path,
        timeout,
        report,
    };
    let Some(dns) = status.dns_name().map(str::to_string) else {
        ctx.report.outcome = Outcome::Refused;
        ctx.report.message =
            "this node has no DNS name (logged out?): log in to Tailscale first".into();
        return Ok(ctx.report);
    };
    if status.backend_state != "Running" {
        ctx.report.outcome = Outcome::Refused;
        ctx.report.message = format!(
            "Tailscale is not running (state {}): connect it first; serve cannot be changed now",
            status.backend_state
        );
        return Ok(ctx.report);
    }
    let original: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let mut original_clean = original.clone();
    edit::drop_foreground(&mut original_clean);

    let prepared = match action {
        Action::Recreate {
            keep_others,
            https_port,
        } => prepare_recreate(
            &mut ctx,
            &serve,
            &original_clean,
            &dns,
            *keep_others,
            *https_port,
        ),
        Action::Restore {
            backup,
            rename_to_current,
        } => prepare_restore(
            &mut ctx,
            &serve,
            &dns,
            backup.as_deref(),
            *rename_to_current,
        )?,
        Action::HttpFallback => prepare_http(&mut ctx, &serve, &dns),
        Action::FunnelOn => prepare_funnel_on(&mut ctx, &status, &serve, &dns).await,
        Action::FunnelOff => prepare_funnel_off(&mut ctx, &serve, &dns),
        Action::Backups | Action::OpenAdmin { .. } | Action::TunnelCommand { .. } => {
            unreachable!("handled above")
        }
    };
    let (cmds, expect) = match prepared {
        Prepared::Refuse(msg) => {
            ctx.report.outcome = Outcome::Refused;
            ctx.report.message = msg;
            return Ok(ctx.report);
        }
        Prepared::Nothing(msg) => {
            ctx.report.outcome = Outcome::Done;
            ctx.report.verified = true;
            ctx.report.message = msg;
            return Ok(ctx.report);
        }
        Prepared::Change { cmds, expect } => (cmds, expect),
    };
    ctx.report.plan.commands = cmds.iter().map(|c| c.shown.clone()).collect();
    if !opts.confirmed {
        ctx.report.outcome = Outcome::Planned;
        ctx.report.message =
            "nothing changed: confirm (--yes) to back up the config and run these commands".into();
        return Ok(ctx.report);
    }

    let path = backup::write(&opts.data_dir, &dns, &raw, chrono::Utc::now()).map_err(|source| {
        FixError::Backup {
            dir: backup::dir(&opts.data_dir),
            source,
        }
    })?;
    ctx.report.backup = Some(path.clone());

    let mut failed_at = None;
    for (i, c) in cmds.iter().enumerate() {
        if !ctx.exec(c).await {
            failed_at = Some(i);
            break;
        }
    }
    // Verified by reading back, whatever the exit codes said; a failed call fails the run even
    // when the config happens to look right (it may have been like that before).
    let back = ctx.read_back().await;
    let verdict = match &back {
        Ok((c, v)) => verify(&expect, c, v),
        Err(e) => Err(format!("cannot read the config back: {e}")),
    };
    let got = back.ok().map(|(_, v)| v);
    let checked = match (verdict, failed_at) {
        (Ok(()), Some(i)) => Err((format!("`{}` did not succeed", cmds[i].shown), got)),
        (Ok(()), None) => Ok(()),
        (Err(e), _) => Err((e, got)),
    };
    match checked {
        Ok(()) => {
            ctx.report.verified = true;
            ctx.report.outcome = Outcome::Done;
            ctx.report.message = match action {
                Action::Recreate { .. } => format!("serve recreated for {dns}"),
                Action::Restore { .. } => "the backup is restored".into(),
                Action::HttpFallback => format!(
                    "serving over plain HTTP at http://{dns}/ (undo: {} serve --http={HTTP_FALLBACK_PORT} off)",
                    ctx.cli_shown
                ),
                Action::FunnelOn => format!(
                    "Funnel is on: https://{dns}/ is public on the internet (undo: serve-doctor fix funnel-off)"
                ),
                Action::FunnelOff => format!("Funnel is off: https://{dns}/ is tailnet-only again"),
                _ => String::new(),
            };
        }
        Err((why, got)) => {
            ctx.report.outcome = Outcome::Failed;
            let mut msg = match failed_at {
                Some(i) => format!(
                    "`{}` failed; the change is not in place ({why})",
                    cmds[i].shown
                ),
                None => format!("the commands ran but the change is not in place ({why})"),
            };
            if let Some(f) = ctx.report.findings.iter().find(|f| f.hint.is_some()) {
                msg.push_str(&format!(
                    ": {} — {}",
                    f.line,
                    f.hint.as_deref().unwrap_or("")
                ));
            }
            // Lose nothing: if the config is no longer what it was, put the backup back.
            let changed =
                got.is_none_or(|v| edit::normalize(&v) != edit::normalize(&original_clean));
            if changed {
                let shown = path.display().to_string();
                let back = ctx.restore_cmds(&original_clean, &shown);
                let mut ok = true;
                for c in &back {
                    ok = ok && ctx.exec(c).await;
                }
                let restored = match ctx.read_back().await {
                    Ok((_, v)) => edit::normalize(&v) == edit::normalize(&original_clean),
                    Err(_) => false,
                };
                ctx.report.rolled_back = ok && restored;
                if ctx.report.rolled_back {
                    msg.push_str(". The previous config was put back from the backup.");
                } else {
                    msg.push_str(&format!(
                        ". Putting the previous config back FAILED: run `serve-doctor fix restore {shown} --yes`"
                    ));
                }
            } else {
                msg.push_str(". Nothing was changed.");
            }
            ctx.report.message = msg;
        }
    }
    if matches!(action, Action::Recreate { .. }) && ctx.report.outcome == Outcome::Done {
        rediagnose(&mut ctx.report, opts).await;
    }
    Ok(ctx.report)
}

/// A fresh diagnosis after recreate, so the user sees whether it helped.
pub(super) async fn rediagnose(report: &mut FixReport, opts: &FixOptions) {
    match Engine::new(opts.engine.clone()) {
        Ok(engine) => {
            let d = engine.diagnose(|_| {}).await;
            report.new_health = Some(d.health);
            report.new_cause = Some(d.cause);
            report.new_summary = Some(d.summary.clone());
            report.message.push_str(&format!(
                "; diagnosis now: {} ({}): {}",
                d.health, d.cause, d.summary
            ));
        }
        Err(e) => report
            .message
            .push_str(&format!("; could not diagnose again: {e}")),
    }
}

/// The backend target and the HTTPS port recreate serves it on (the port of the existing `/`
/// handler for that target, else 443). Shared by the CLI and LocalAPI paths.
pub(super) fn proxy_target_for(
    opts: &FixOptions,
    serve: &ServeConfig,
    https_port: Option<u16>,
) -> (String, u16) {
    let tgt = target(opts, serve, https_port);
    let port = https_port
        .or_else(|| {
            serve
                .mounts()
                .into_iter()
                .find(|m| {
                    !m.foreground && m.path == "/" && m.proxy.as_deref() == Some(tgt.as_str())
                })
                .map(|m| m.port)
        })
        .unwrap_or(443);
    (tgt, port)
}

fn prepare_recreate(
    ctx: &mut Ctx<'_>,
    serve: &ServeConfig,
    original: &Value,
    dns: &str,
    keep_others: bool,
    https_port: Option<u16>,
) -> Prepared {
    let (tgt, port) = proxy_target_for(ctx.opts, serve, https_port);
    let plan = &mut ctx.report.plan;
    plan.removes = inventory(serve);
    let mut cmds = vec![ctx.cmd(&["serve", "reset"], None)];
    let mut others_list = vec![];
    let mut forwards = vec![];
    if keep_others {
        let mut others = original.clone();
        edit::rename_hosts(&mut others, dns);
        for host in edit::host_names(original) {
            edit::remove_mount(&mut others, &host, port, "/");
        }
        edit::remove_mount(&mut others, dns, port, "/");
        if !edit::is_empty(&others) {
            let parsed = ServeConfig::from_json(others.to_string().as_bytes()).unwrap_or_default();
            others_list = parsed
                .mounts()
                .into_iter()
                .map(|m| (m.host, m.port, m.path, m.what))
                .collect();
            forwards = parsed.tcp_forwards();
            cmds.push(ctx.cmd(
                &["serve", "set-raw"],
                Some((
                    serde_json::to_vec(&others).unwrap_or_default(),
                    "<the backup without our handler>",
                )),
            ));
        }
        ctx.report.plan.notes.push(format!(
            "--keep-others: the other handlers are put back by restoring the backup without our handler (host names rewritten to {dns}) with `serve set-raw`, then ours is added; replaying them one by one with `serve --bg` would lose fields the CLI cannot express and fail for path handlers on macOS"
        ));
    } else if inventory(serve).len() > 1 {
        ctx.report.plan.notes.push(
            "The other entries listed are NOT put back: pass --keep-others to keep them, or run `serve-doctor fix restore` afterwards to bring back everything".into(),
        );
    }
    let port_s = format!("--https={port}");
    cmds.push(ctx.cmd(&["serve", "--bg", &port_s, &tgt], None));
    let plan = &mut ctx.report.plan;
    plan.notes.push(format!(
        "serves {tgt} at https://{dns}{}/ (tailnet only); the certificate is fetched on the first visit",
        if port == 443 { String::new() } else { format!(":{port}") }
    ));
    plan.undo.push(
        "serve-doctor fix restore --yes (restores the backup this run writes; `serve-doctor fix backups` lists them)".into(),
    );
    ctx.report.url = Some(format!(
        "https://{dns}{}/",
        if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        }
    ));
    Prepared::Change {
        cmds,
        expect: Expect::Has {
            want: vec![Want {
                host: dns.to_string(),
                port,
                path: "/".into(),
                what: proxy_what(&tgt),
                http: false,
                funnel: None,
            }],
            others: others_list,
            forwards,
        },
    }
}

fn prepare_restore(
    ctx: &mut Ctx<'_>,
    serve: &ServeConfig,
    dns: &str,
    given: Option<&Path>,
    rename: bool,
) -> Result<Prepared, FixError> {
    let Some(path) = resolve_backup(ctx.opts, given)? else {
        return Ok(Prepared::Refuse(format!(
            "no backups in {}: nothing to restore",
            backup::dir(&ctx.opts.data_dir).display()
        )));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            return Ok(Prepared::Refuse(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut v: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(&text) {
            Ok(v @ (Value::Object(_) | Value::Null)) => v,
            Ok(_) => {
                return Ok(Prepared::Refuse(format!(
                    "{} is not a serve config (not a JSON object)",
                    path.display()
                )));
            }
            Err(e) => {
                return Ok(Prepared::Refuse(format!(
                    "{} is not valid JSON: {e}",
                    path.display()
                )));
            }
        }
    };
    if ServeConfig::from_json(text.as_bytes()).is_err() {
        return Ok(Prepared::Refuse(format!(
            "{} is not a serve config",
            path.display()
        )));
    }
    let plan = &mut ctx.report.plan;
    if v.get("Foreground").is_some() {
        plan.notes.push(
            "Foreground entries are left out: their sessions ended with the terminals that made them".into(),
        );
    }
    edit::drop_foreground(&mut v);
    let foreign = edit::foreign_hosts(&v, dns);
    if !foreign.is_empty() {
        if !rename {
            return Ok(Prepared::Refuse(format!(
                "{} is keyed to {} but this node is {dns}: restored as is it would serve nothing (tailscaled matches the name exactly). Pass --rename-to-current to rewrite the names to {dns}",
                path.display(),
                foreign.join(", ")
            )));
        }
        edit::rename_hosts(&mut v, dns);
        ctx.report.plan.notes.push(format!(
            "host names {} are rewritten to {dns}",
            foreign.join(", ")
        ));
    }
    ctx.report.plan.removes = inventory(serve);
    ctx.report.plan.undo.push(
        "serve-doctor fix restore <the backup this run writes> --yes (`serve-doctor fix backups` lists them)".into(),
    );
    ctx.report
        .plan
        .notes
        .push(format!("restores {}", path.display()));
    let shown = path.display().to_string();
    let cmds = ctx.restore_cmds(&v, &shown);
    Ok(Prepared::Change {
        cmds,
        expect: Expect::Exact(v),
    })
}

fn prepare_http(ctx: &mut Ctx<'_>, serve: &ServeConfig, dns: &str) -> Prepared {
    let tgt = target(ctx.opts, serve, None);
    let port_s = format!("--http={HTTP_FALLBACK_PORT}");
    let cmd = ctx.cmd(&["serve", "--bg", &port_s, &tgt], None);
    let off = format!("{} serve --http={HTTP_FALLBACK_PORT} off", ctx.cli_shown);
    let plan = &mut ctx.report.plan;
    plan.removes = serve
        .mounts()
        .into_iter()
        .filter(|m| m.host == dns && m.port == HTTP_FALLBACK_PORT && m.path == "/" && !m.foreground)
        .map(|m| format!("http://{dns}/ → {} (replaced)", m.what))
        .collect();
    plan.notes.extend([
        format!("the address becomes http://{dns}/ (plain HTTP on the tailnet; WireGuard still encrypts the hop between your devices)"),
        "browsers will call it \"not secure\"; apps that need a secure context (clipboard, service workers, some web IDE features) may not fully work".into(),
        "the HTTPS handlers are left as they are".into(),
    ]);
    plan.undo.push(off);
    ctx.report.url = Some(format!("http://{dns}/"));
    Prepared::Change {
        cmds: vec![cmd],
        expect: Expect::Has {
            want: vec![Want {
                host: dns.to_string(),
                port: HTTP_FALLBACK_PORT,
                path: "/".into(),
                what: proxy_what(&tgt),
                http: true,
                funnel: None,
            }],
            others: vec![],
            forwards: vec![],
        },
    }
}

async fn prepare_funnel_on(
    ctx: &mut Ctx<'_>,
    status: &Status,
    serve: &ServeConfig,
    dns: &str,
) -> Prepared {
    let cannot_help = "Funnel uses the same certificate, so it cannot help; use `serve-doctor fix http-fallback` or `serve-doctor fix tunnel-command` instead";
    if !status.has_cap("https") || status.cert_domains.is_empty() {
        return Prepared::Refuse(format!(
            "HTTPS certificates are not enabled for this tailnet, and Funnel needs them: enable HTTPS in {ADMIN_DNS_URL} (serve-doctor fix open-admin). Until then {cannot_help}"
        ));
    }
    if let Some(w) = status
        .health
        .iter()
        .find(|h| h.contains("Fetching TLS certificate"))
    {
        return Prepared::Refuse(format!(
            "the certificate is still being issued (\"{w}\"); {cannot_help} until it is"
        ));
    }
    if !status.has_cap("funnel") {
        return Prepared::Refuse(
            "this node lacks the \"funnel\" node attribute: add it to the tailnet policy file (nodeAttrs, see https://tailscale.com/s/no-funnel), then try again".into(),
        );
    }
    if let Err(e) = funnel_port_allowed(status, FUNNEL_PORT) {
        return Prepared::Refuse(format!(
            "{e}: allow it in the funnel nodeAttrs of the tailnet policy file"
        ));
    }
    // Certificates that fail for serve fail for Funnel too: ask the diagnosis.
    if let Ok(engine) = Engine::new(ctx.opts.engine.clone()) {
        let d = engine.diagnose(|_| {}).await;
        if matches!(
            d.cause,
            Cause::HttpsDisabled
                | Cause::MagicdnsDisabled
                | Cause::CertIssuanceFailing
                | Cause::CertPending
                | Cause::CertInvalid
        ) {
            return Prepared::Refuse(format!(
                "certificates are failing ({}: {}); {cannot_help}",
                d.cause, d.summary
            ));
        }
    }
    let tgt = target(ctx.opts, serve, Some(FUNNEL_PORT));
    let port_s = format!("--https={FUNNEL_PORT}");
    let cmd = ctx.cmd(&["funnel", "--bg", &port_s, &tgt], None);
    let public = format!("https://{dns}/");
    let plan = &mut ctx.report.plan;
    plan.removes = serve
        .mounts()
        .into_iter()
        .filter(|m| m.host == dns && m.port == FUNNEL_PORT && m.path == "/" && !m.foreground)
        .map(|m| format!("https://{dns}/ → {} (replaced)", m.what))
        .collect();
    plan.notes.push(format!(
        "PUBLIC: {public} becomes reachable by anyone on the internet, not just your tailnet"
    ));
    plan.undo
        .push("serve-doctor fix funnel-off --yes (keeps tailnet-only serving)".into());
    ctx.report.url = Some(public);
    Prepared::Change {
        cmds: vec![cmd],
        expect: Expect::Has {
            want: vec![Want {
                host: dns.to_string(),
                port: FUNNEL_PORT,
                path: "/".into(),
                what: proxy_what(&tgt),
                http: false,
                funnel: Some(true),
            }],
            others: vec![],
            forwards: vec![],
        },
    }
}

/// What `serve` needs to re-create a handler: its target argument.
fn cli_target(h: &HttpHandler) -> Option<String> {
    if !h.proxy.is_empty() {
        Some(h.proxy.clone())
    } else if !h.path.is_empty() {
        Some(h.path.clone())
    } else if !h.text.is_empty() {
        Some(format!("text:{}", h.text))
    } else {
        None
    }
}

fn prepare_funnel_off(ctx: &mut Ctx<'_>, serve: &ServeConfig, dns: &str) -> Prepared {
    let mut cmds = vec![];
    let mut want = vec![];
    let mut removes = vec![];
    for (hp, on) in &serve.allow_funnel {
        let Some((host, port)) = split_host_port(hp) else {
            continue;
        };
        if !*on || host != dns {
            continue;
        }
        let Some(web) = serve.web.get(hp) else {
            continue;
        };
        // Re-running serve for one mount clears Funnel for the whole host:port.
        let Some((path, h)) = web
            .handlers
            .get_key_value("/")
            .or_else(|| web.handlers.iter().next())
        else {
            continue;
        };
        let Some(tgt) = cli_target(h) else {
            return Prepared::Refuse(format!(
                "the handler at {hp}{path} ({}) cannot be re-created with `tailscale serve`; turn Funnel off with `tailscale funnel --https={port} off` (this removes the handler)",
                h.describe()
            ));
        };
        let port_s = format!("--https={port}");
        let mut args = vec!["serve", "--bg", port_s.as_str()];
        let set_path = format!("--set-path={path}");
        if path != "/" {
            args.push(&set_path);
        }
        args.push(&tgt);
        cmds.push(ctx.cmd(&args, None));
        removes.push(format!("Funnel (public access) for https://{hp}"));
        want.push(Want {
            host: host.to_string(),
            port,
            path: path.clone(),
            what: h.describe(),
            http: false,
            funnel: Some(false),
        });
    }
    if cmds.is_empty() {
        return Prepared::Nothing(format!("Funnel is not on for {dns}; nothing to change"));
    }
    let plan = &mut ctx.report.plan;
    plan.removes = removes;
    plan.notes
        .push("the handlers stay: serving continues inside your tailnet only".into());
    plan.undo.push("serve-doctor fix funnel-on --yes".into());
    Prepared::Change {
        cmds,
        expect: Expect::Has {
            want,
            others: vec![],
            forwards: vec![],
        },
    }
}

/// Only Tailscale's own pages are opened: the value may come from CLI output.
fn allowed_url(u: &str) -> bool {
    u.starts_with("https://login.tailscale.com/")
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

async fn open_admin(mut report: FixReport, url: Option<&str>, print_only: bool) -> FixReport {
    let url = url.unwrap_or(ADMIN_DNS_URL).to_string();
    if !allowed_url(&url) {
        report.outcome = Outcome::Refused;
        report.message = format!(
            "{url:?} is not a Tailscale admin or consent page (https://login.tailscale.com/…); not opened"
        );
        return report;
    }
    report.url = Some(url.clone());
    report.outcome = Outcome::Done;
    if print_only {
        report.message = format!("open {url}");
        return report;
    }
    // `open` may block while it spawns the helper: keep it off the caller's (UI) thread.
    let u = url.clone();
    let opened = tokio::task::spawn_blocking(move || open::that_detached(&u)).await;
    report.message = match opened {
        Ok(Ok(())) => format!("opened {url} in the browser"),
        Ok(Err(e)) => format!("no browser could be opened ({e}); open this page yourself: {url}"),
        Err(e) => format!("no browser could be opened ({e}); open this page yourself: {url}"),
    };
    report
}

async fn tunnel_command(
    mut report: FixReport,
    opts: &FixOptions,
    user: &Option<String>,
    host: &Option<String>,
    local_port: Option<u16>,
) -> FixReport {
    let e = &opts.engine;
    let user = user
        .clone()
        .or_else(|| e.ssh_user.clone())
        .unwrap_or_else(crate::tunnel::default_user);
    let mut host = host.clone().or_else(|| e.ssh_host.clone());
    let mut remote = e.port.or(e.config_port);
    // The node's name and the serve config's backend port, only when not given.
    if host.is_none() || remote.is_none() {
        let cli = tailscale::locate(
            e.tailscale.as_deref(),
            e.config_tailscale.as_deref(),
            std::env::var_os("PATH").as_deref(),
        );
        if let Ok(cli) = cli {
            report.route = Some(format!("cli {}", cli.path.display()));
            if host.is_none()
                && let Ok(st) = tailscale::status(&cli.path, e.timeout).await
            {
                host = st.dns_name().map(str::to_string);
            }
            if remote.is_none()
                && let Ok((c, _)) = tailscale::serve_config(&cli.path, e.timeout).await
            {
                remote = c
                    .mounts()
                    .into_iter()
                    .filter(|m| m.path == "/")
                    .find_map(|m| m.proxy.as_deref().and_then(proxy_target_port));
            }
        }
    }
    let Some(host) = host else {
        report.outcome = Outcome::Refused;
        report.message =
            "the node's name is not known (Tailscale not reachable): pass --host".into();
        return report;
    };
    let remote = remote.unwrap_or(DEFAULT_BACKEND_PORT);
    let local = local_port.or(e.tunnel_local_port).unwrap_or(remote);
    match crate::tunnel::command(&user, &host, local, remote) {
        Ok(cmd) => {
            report.outcome = Outcome::Done;
            report.url = Some(format!("http://localhost:{local}/"));
            report.message =
                format!("run this on the other device, then open http://localhost:{local}/ there");
            report.command = Some(cmd);
        }
        Err(err) => {
            report.outcome = Outcome::Refused;
            report.message = format!("not offered: {err}");
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funnel_ports_singles_and_ranges() {
        let st = Status::from_json(
            br#"{"Self":{"CapMap":{"https://tailscale.com/cap/funnel-ports?ports=8443,10000-10010":null}}}"#,
        )
        .unwrap();
        assert!(
            funnel_port_allowed(&st, 443)
                .unwrap_err()
                .contains("allowed ports are: 8443,10000-10010")
        );
        assert!(funnel_port_allowed(&st, 10005).is_ok());
        let none = Status::from_json(br#"{"Self":{}}"#).unwrap();
        assert!(funnel_port_allowed(&none, 443).is_err());
    }

    #[test]
    fn only_tailscale_pages_are_opened() {
        assert!(allowed_url("https://login.tailscale.com/f/serve?node=x"));
        assert!(!allowed_url("https://evil.example/"));
        assert!(!allowed_url("https://login.tailscale.com/x y"));
        assert!(!allowed_url("file:///etc/passwd"));
    }
}
