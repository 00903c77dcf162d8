//! Planning, pure: a snapshot of the node (status, serve config with its raw text and ETag) and
//! what the action was given go in; a [`Proposal`] comes out — the writes to make, what the
//! config read back must look like, what the user is told — or a refusal. No I/O here, so every
//! action's plan is a unit test on plain data; [`super::exec`] carries a proposal out.

use serde_json::Value;

use super::Plan;
use super::edit;
use crate::config::DEFAULT_BACKEND_PORT;
use crate::tailscale::ports::served_target;
use crate::tailscale::route::{RouteKind, Write};
use crate::tailscale::serve::HttpHandler;
use crate::tailscale::{ServeConfig, Status};

/// The node as read just before planning.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: Status,
    /// This node's MagicDNS name, without the trailing dot.
    pub dns: String,
    pub serve: ServeConfig,
    /// The config's exact text, as backed up.
    pub raw: String,
    /// The config as JSON, `Foreground` removed (those sessions end with their terminals).
    pub clean: Value,
    /// The LocalAPI's ETag of `raw`; `None` on the CLI route.
    pub etag: Option<String>,
}

impl Snapshot {
    /// `None` when the node has no DNS name (logged out); a refusal is made of that.
    pub fn new(
        status: Status,
        serve: ServeConfig,
        raw: String,
        etag: Option<String>,
    ) -> Option<Snapshot> {
        let dns = status.dns_name()?.to_string();
        let mut clean: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
        edit::drop_foreground(&mut clean);
        Some(Snapshot {
            status,
            dns,
            serve,
            raw,
            clean,
            etag,
        })
    }

    /// `https://<dns>/`, with `:port` unless 443.
    pub fn https_url(&self, port: u16) -> String {
        format!("https://{}{}/", self.dns, port_suffix(port))
    }
}

/// `:port`, or nothing for 443.
pub fn port_suffix(port: u16) -> String {
    if port == 443 {
        String::new()
    } else {
        format!(":{port}")
    }
}

/// What the planner knows besides the snapshot.
#[derive(Debug, Clone)]
pub struct Env {
    /// What the route can write.
    pub route: RouteKind,
    /// The CLI as shown in commands the user may type (undo lines).
    pub cli: String,
    /// `--port`: rewire to `http://127.0.0.1:N`.
    pub port: Option<u16>,
    /// The config file's backend port: used only where serve has no proxy target yet.
    pub default_port: Option<u16>,
}

/// A handler the config read back must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub host: String,
    pub port: u16,
    pub path: String,
    /// `HttpHandler::describe()` of the handler: "proxy http://127.0.0.1:18080".
    pub what: String,
    /// Plain HTTP (the `--http` fallback) instead of HTTPS.
    pub http: bool,
    pub funnel: Option<bool>,
}

/// What the config read back must look like.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// These handlers (and, where other entries are put back, these mounts and forwards).
    Has {
        want: Vec<Want>,
        /// (host, port, path, what) of mounts that must still be there.
        others: Vec<(String, u16, String, String)>,
        forwards: Vec<(u16, String)>,
        /// "host:port" keys that must no longer be public (`AllowFunnel`).
        private: Vec<String>,
    },
    /// Exactly this config (modulo omitempty and key order).
    Exact(Value),
}

impl Expect {
    /// Just these handlers.
    pub fn has(want: Vec<Want>) -> Expect {
        Expect::Has {
            want,
            others: vec![],
            forwards: vec![],
            private: vec![],
        }
    }
}

/// A change ready to be carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub writes: Vec<Write>,
    pub expect: Expect,
    /// The message once verified.
    pub done: String,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Write(Change),
    /// Refused before changing anything: why, and what to do.
    Refuse(String),
    /// Already as wanted: nothing to change.
    Nothing(String),
}

/// A plan for the user (removes, notes, undo; the commands are filled from the writes by the
/// route that will make them) and the next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub plan: Plan,
    pub url: Option<String>,
    pub next: Next,
}

impl Proposal {
    /// An empty proposal for a planner to fill in (its `next` is set last).
    pub fn draft() -> Proposal {
        Proposal {
            plan: Plan::default(),
            url: None,
            next: Next::Nothing(String::new()),
        }
    }

    pub fn refuse(msg: impl Into<String>) -> Proposal {
        Proposal {
            plan: Plan::default(),
            url: None,
            next: Next::Refuse(msg.into()),
        }
    }
}

/// The refusal for a node without a name.
pub const NO_NAME: &str = "this node has no DNS name (logged out?): log in to Tailscale first";

/// Refuses when serve cannot be changed at all: no name, or Tailscale not running.
pub fn preflight(status: &Status) -> Option<String> {
    if status.dns_name().is_none() {
        return Some(NO_NAME.into());
    }
    if !status.backend_state.is_running() {
        return Some(format!(
            "Tailscale is not running (state {}): connect it first; serve cannot be changed now",
            status.backend_state
        ));
    }
    None
}

/// A CLI call with stdin shown as `< from`.
pub fn cli_with_stdin(args: &[&str], stdin: Vec<u8>, from: &str) -> Write {
    Write::Cli {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: Some((stdin, from.to_string())),
    }
}

/// `serve reset`, then `serve set-raw` of `config` unless it is empty: how the CLI puts a whole
/// config in place.
pub fn cli_replace(config: &Value, from: &str) -> Vec<Write> {
    let mut writes = vec![Write::cli(&["serve", "reset"])];
    if !edit::is_empty(config) {
        let bytes = serde_json::to_vec(config).unwrap_or_default();
        writes.push(cli_with_stdin(&["serve", "set-raw"], bytes, from));
    }
    writes
}

/// How a failed change is undone, and what the config must be afterwards. The LocalAPI puts the
/// exact text back in one unconditional write (whatever is there now is our half-done change);
/// the CLI resets and restores the config without its foreground entries.
pub fn put_back(route: RouteKind, snap: &Snapshot, backup_shown: &str) -> (Vec<Write>, Value) {
    match route {
        RouteKind::LocalApi => {
            let original: Value = serde_json::from_str(&snap.raw).unwrap_or(Value::Null);
            let body = if original.is_null() {
                b"{}".to_vec()
            } else {
                snap.raw.clone().into_bytes()
            };
            let w = Write::Config {
                body,
                if_match: None,
                what: "the backup".into(),
            };
            (vec![w], original)
        }
        RouteKind::Cli => (cli_replace(&snap.clean, backup_shown), snap.clean.clone()),
    }
}

/// Whether the config read back is the one planned.
pub fn verify(expect: &Expect, got: &ServeConfig, got_raw: &Value) -> Result<(), String> {
    let (want, others, forwards) = match expect {
        Expect::Exact(want) => {
            return if edit::same(want, got_raw) {
                Ok(())
            } else {
                Err("the config read back differs from the one written".into())
            };
        }
        Expect::Has {
            want,
            others,
            forwards,
            private,
        } => {
            if let Some(hp) = private
                .iter()
                .find(|hp| got.allow_funnel.get(*hp).copied().unwrap_or(false))
            {
                return Err(format!("{hp} is still public (Funnel on)"));
            }
            (want, others, forwards)
        }
    };
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

/// Every entry of a config, one line each, for "this removes".
pub fn inventory(c: &ServeConfig) -> Vec<String> {
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

/// `http://127.0.0.1:PORT`, what a bare port means to `tailscale serve`.
pub fn loopback_target(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The backend target: `--port` when given (the user asked to rewire it), else the proxy serve
/// already uses, kept exactly as it is (scheme, host, port, path; on `https_port` when it is
/// there), else the config file's port, else the default port.
pub fn target(env: &Env, serve: &ServeConfig, https_port: Option<u16>) -> String {
    if let Some(p) = env.port {
        return loopback_target(p);
    }
    served_target(serve, https_port)
        .map(|(t, _)| t)
        .unwrap_or_else(|| loopback_target(env.default_port.unwrap_or(DEFAULT_BACKEND_PORT)))
}

/// The backend target and the HTTPS port to serve it on: the port asked for, else the port of
/// the background `/` HTTPS handler for that target, else 443.
pub fn target_and_port(env: &Env, serve: &ServeConfig, https_port: Option<u16>) -> (String, u16) {
    let tgt = target(env, serve, https_port);
    let port = https_port
        .or_else(|| {
            serve
                .mounts()
                .into_iter()
                .find(|m| {
                    !m.foreground
                        && m.https
                        && m.path == "/"
                        && m.proxy.as_deref() == Some(tgt.as_str())
                })
                .map(|m| m.port)
        })
        .unwrap_or(443);
    (tgt, port)
}

/// How a proxy handler to `target` describes itself (what verification compares).
pub fn proxy_what(target: &str) -> String {
    HttpHandler {
        proxy: target.to_string(),
        ..HttpHandler::default()
    }
    .describe()
}

/// The `/` handler on `dns:port` proxying to `target`, as verification wants it.
pub fn want_proxy(dns: &str, port: u16, target: &str, http: bool, funnel: Option<bool>) -> Want {
    Want {
        host: dns.to_string(),
        port,
        path: "/".into(),
        what: proxy_what(target),
        http,
        funnel,
    }
}

/// "what it replaces": the `/` handler on `dns:port` that a `serve --bg` would overwrite, shown
/// under its address `url`.
pub fn replaced(serve: &ServeConfig, dns: &str, port: u16, url: &str) -> Vec<String> {
    serve
        .mounts()
        .into_iter()
        .filter(|m| m.host == dns && m.port == port && m.path == "/" && !m.foreground)
        .map(|m| format!("{url} → {} (replaced)", m.what))
        .collect()
}
