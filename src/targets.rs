//! The places a user watches: this node, remote nodes over SSH, URLs seen from this device.
//!
//! "This node" is always the first target and needs no entry. Others live in the config file's
//! `targets` list (`serve-doctor targets add|remove` edits it; the app picks the change up when
//! it rereads the file). Each target is diagnosed by its own vantage point and gives one
//! [`Diagnosis`]; [`diagnose_all`] runs every target at once.

use std::path::Path;

use serde::Serialize;

use crate::config::{self, Config, Loaded, TargetEntry};
use crate::diagnosis::{Diagnosis, Health};
use crate::engine::{Engine, Options, PeerView};

/// The name of this node's own target.
pub const LOCAL: &str = "local";

/// Where a target is looked at from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum Kind {
    /// This node, through its own tailscaled.
    Local,
    /// A remote node, through `ssh [user@]host[:port]`.
    Ssh(String),
    /// A served URL, as this device sees it.
    Url(String),
}

/// One watched target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    #[serde(flatten)]
    pub kind: Kind,
}

impl Target {
    pub fn local() -> Target {
        Target {
            name: LOCAL.into(),
            kind: Kind::Local,
        }
    }

    /// "local", "laptop (ssh alice@laptop)", "site (https://…/)".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Local => "this node".into(),
            Kind::Ssh(d) => format!("{} (ssh {d})", self.name),
            Kind::Url(u) => format!("{} ({u})", self.name),
        }
    }
}

/// A name users can type and that reads well in a menu: letters, digits, `.`, `_`, `-`.
fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An entry as a target, or why it cannot be one.
pub fn from_entry(e: &TargetEntry) -> Result<Target, String> {
    if !valid_name(&e.name) || e.name == LOCAL {
        return Err(format!(
            "target name {:?} is not usable (1-40 letters, digits, '.', '_', '-'; not \"{LOCAL}\")",
            e.name
        ));
    }
    let kind = match (&e.ssh, &e.url) {
        (Some(dest), None) => Kind::Ssh(dest.clone()),
        (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://") => {
            Kind::Url(url.clone())
        }
        (None, Some(url)) => {
            return Err(format!("target {}: {url:?} is not an http(s) URL", e.name));
        }
        _ => {
            return Err(format!(
                "target {}: give exactly one of \"ssh\" and \"url\"",
                e.name
            ));
        }
    };
    Ok(Target {
        name: e.name.clone(),
        kind,
    })
}

/// This node, then every usable entry of `config`; the problems with the others.
pub fn all(config: &Config) -> (Vec<Target>, Vec<String>) {
    let mut out = vec![Target::local()];
    let mut problems = Vec::new();
    for e in &config.targets {
        match from_entry(e) {
            Ok(t) if out.iter().any(|o| o.name == t.name) => {
                problems.push(format!(
                    "target {} is listed twice; the first is used",
                    t.name
                ));
            }
            Ok(t) => out.push(t),
            Err(p) => problems.push(p),
        }
    }
    (out, problems)
}

/// Adds `entry` to the config file at `loaded.path` (refused when the file could not be read:
/// saving would lose what it holds).
pub fn add(loaded: &Loaded, entry: TargetEntry) -> Result<Target, String> {
    let target = from_entry(&entry)?;
    if !loaded.writable() {
        return Err(format!(
            "{} cannot be read, so it is not rewritten: fix it first ({})",
            loaded.path.display(),
            loaded.problem().unwrap_or_default()
        ));
    }
    let mut c = loaded.config.clone();
    if c.targets.iter().any(|t| t.name == entry.name) {
        return Err(format!("there is already a target called {}", entry.name));
    }
    c.targets.push(entry);
    save(&loaded.path, &c)?;
    Ok(target)
}

/// Removes the target called `name` from the config file.
pub fn remove(loaded: &Loaded, name: &str) -> Result<(), String> {
    if name == LOCAL {
        return Err("this node's own target cannot be removed".into());
    }
    if !loaded.writable() {
        return Err(format!(
            "{} cannot be read, so it is not rewritten",
            loaded.path.display()
        ));
    }
    let mut c = loaded.config.clone();
    let before = c.targets.len();
    c.targets.retain(|t| t.name != name);
    if c.targets.len() == before {
        return Err(format!("there is no target called {name}"));
    }
    save(&loaded.path, &c)
}

fn save(path: &Path, c: &Config) -> Result<(), String> {
    config::save_to(path, c).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Diagnoses one target from its vantage point; `Err` when it cannot even start (bad input,
/// such as an unreadable `--ca-file` or a destination that is refused).
pub async fn diagnose(target: &Target, opts: &Options) -> Result<Diagnosis, String> {
    let engine = Engine::new(opts.clone()).map_err(|e| e.to_string())?;
    diagnose_with(&engine, target).await
}

/// [`diagnose`] with an engine already made: its trust store (loading the system's is the
/// costliest part of starting) and its LocalAPI discovery serve every target.
pub async fn diagnose_with(engine: &Engine, target: &Target) -> Result<Diagnosis, String> {
    diagnose_in(engine, target, &PeerView::default()).await
}

/// [`diagnose_with`] as one of several targets of a run, which share `view` (this device's
/// status with its peers, read once for all URL targets).
async fn diagnose_in(
    engine: &Engine,
    target: &Target,
    view: &PeerView,
) -> Result<Diagnosis, String> {
    match &target.kind {
        Kind::Local => Ok(engine.diagnose(|_| {}).await),
        Kind::Ssh(dest) => {
            let t = crate::tailscale::ssh::SshTarget::new(dest).map_err(|e| e.to_string())?;
            Ok(engine.diagnose_ssh(&t, |_| {}).await)
        }
        Kind::Url(url) => {
            crate::diagnosis::remote::parse_target(url).map_err(|e| e.to_string())?;
            Ok(engine.diagnose_url_in(url, view).await)
        }
    }
}

/// One target's result in a report of several.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    #[serde(flatten)]
    pub target: Target,
    /// `None` with `error` set when the target could not be diagnosed at all.
    pub diagnosis: Option<Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TargetReport {
    /// The target's health; one that could not be diagnosed is gray (unknown).
    pub fn health(&self) -> Health {
        self.diagnosis.as_ref().map_or(Health::Gray, |d| d.health)
    }
}

/// Every target at once (each bounded by its own timeouts), with one engine; the results in
/// the order given.
pub async fn diagnose_all(targets: &[Target], opts: &Options) -> Vec<TargetReport> {
    let engine = match Engine::new(opts.clone()) {
        Ok(e) => std::sync::Arc::new(e),
        Err(e) => {
            return targets
                .iter()
                .map(|t| TargetReport {
                    target: t.clone(),
                    diagnosis: None,
                    error: Some(e.to_string()),
                })
                .collect();
        }
    };
    let view = std::sync::Arc::new(PeerView::default());
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (t, engine, view) = (t.clone(), engine.clone(), view.clone());
        set.spawn(async move {
            let r = diagnose_in(&engine, &t, &view).await;
            (i, t, r)
        });
    }
    let mut out: Vec<Option<TargetReport>> = vec![None; targets.len()];
    while let Some(joined) = set.join_next().await {
        // A panicked run leaves its slot empty and is reported as an error below.
        if let Ok((i, target, r)) = joined {
            let (diagnosis, error) = match r {
                Ok(d) => (Some(d), None),
                Err(e) => (None, Some(e)),
            };
            out[i] = Some(TargetReport {
                target,
                diagnosis,
                error,
            });
        }
    }
    out.into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| TargetReport {
                target: t.clone(),
                diagnosis: None,
                error: Some("the diagnosis stopped unexpectedly".into()),
            })
        })
        .collect()
}

/// The worst health of several (gray counts as worse than green but better than red: a target
/// that cannot be checked is not a broken one).
pub fn worst(reports: &[TargetReport]) -> Health {
    worst_of(reports.iter().map(TargetReport::health))
}

/// The worst of these healths by the same order as [`worst`]; green when there are none.
pub fn worst_of(healths: impl IntoIterator<Item = Health>) -> Health {
    let rank = |h: Health| match h {
        Health::Green => 0,
        Health::Gray => 1,
        Health::Yellow => 2,
        Health::Red => 3,
    };
    healths
        .into_iter()
        .max_by_key(|h| rank(*h))
        .unwrap_or(Health::Green)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, ssh: Option<&str>, url: Option<&str>) -> TargetEntry {
        TargetEntry {
            name: name.into(),
            ssh: ssh.map(Into::into),
            url: url.map(Into::into),
        }
    }

    #[test]
    fn this_node_first_then_the_usable_entries_and_the_problems_named() {
        let c = Config {
            targets: vec![
                entry("laptop", Some("alice@laptop"), None),
                entry("site", None, Some("https://box.t.ts.net/")),
                entry("both", Some("x"), Some("https://y/")),
                entry("bad name!", Some("x"), None),
                entry("laptop", Some("bob@other"), None),
                entry("ftp", None, Some("ftp://x/")),
            ],
            ..Config::default()
        };
        let (ts, problems) = all(&c);
        let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["local", "laptop", "site"]);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn add_and_remove_keep_everything_else_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"backend_port": 3000, "future": [1]}"#).unwrap();
        add(
            &config::load_from(&p),
            entry("laptop", Some("alice@laptop"), None),
        )
        .unwrap();
        let again = add(&config::load_from(&p), entry("laptop", Some("x"), None));
        assert!(again.unwrap_err().contains("already"));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["targets"][0]["ssh"], "alice@laptop");
        assert_eq!(
            (v["backend_port"].clone(), v["future"][0].clone()),
            (3000.into(), 1.into())
        );
        remove(&config::load_from(&p), "laptop").unwrap();
        assert!(remove(&config::load_from(&p), "laptop").is_err());
        assert!(remove(&config::load_from(&p), LOCAL).is_err());
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert!(v.get("targets").is_none() && v["future"][0] == 1);
    }

    #[test]
    fn a_broken_file_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, "{ broken").unwrap();
        assert!(add(&config::load_from(&p), entry("x", Some("h"), None)).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{ broken");
    }
}
