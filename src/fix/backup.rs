//! Backups of the serve config: written before every change, listed, pruned to the last 50.
//!
//! A backup is the exact text `serve status --json` printed (unknown fields included), in
//! `<data>/backups/serve-<UTC timestamp>-<node>.json`. The timestamp sorts lexically, so the
//! newest backup is the last name; the file and its directory are fsync'd before any write
//! command runs, so a crash right after cannot lose the only copy.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::tailscale::ServeConfig;

/// How many backups are kept; older ones are removed after each new one.
pub const KEEP: usize = 50;
const PREFIX: &str = "serve-";
const SUFFIX: &str = ".json";
/// Millisecond precision: a recreate and the restore right after it land in the same second.
const TS_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// `<data>/backups`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// Keeps only characters that are safe in a file name and cannot be a path separator.
fn file_safe(node: &str) -> String {
    let s: String = node
        .trim_end_matches('.')
        .chars()
        .map(|c| {
            // '-' is safe: the timestamp before it has none, so the name still splits there.
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("node{s}")
    } else {
        s
    }
}

/// Writes `raw` as a new backup for `node`, fsyncs file and directory, prunes to [`KEEP`].
/// Returns the new file's path.
pub fn write(data_dir: &Path, node: &str, raw: &str, now: DateTime<Utc>) -> io::Result<PathBuf> {
    let dir = dir(data_dir);
    fs::create_dir_all(&dir)?;
    let node = file_safe(node);
    let mut ts = now;
    let (path, mut file) = loop {
        let name = format!("{PREFIX}{}-{node}{SUFFIX}", ts.format(TS_FORMAT));
        let path = dir.join(name);
        match crate::platform::create_new_private_file(&path) {
            Ok(f) => break (path, f),
            // Same millisecond as an earlier backup: the next millisecond keeps the order.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                ts += TimeDelta::milliseconds(1);
            }
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(raw.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A torn backup must not be mistaken for a good one by `restore`.
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    File::open(&dir)?.sync_all()?;
    prune(&dir, KEEP)?;
    Ok(path)
}

/// Our backup files in `dir`, oldest first (by name, which is by time).
fn names(dir: &Path) -> io::Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        .collect();
    v.sort();
    Ok(v)
}

/// Removes all but the newest `keep` backups; other files in the directory are left alone.
pub fn prune(dir: &Path, keep: usize) -> io::Result<Vec<PathBuf>> {
    let all = names(dir)?;
    let excess = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for n in &all[..excess] {
        let p = dir.join(n);
        match fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// One backup, for `fix backups` and the app's restore menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupInfo {
    pub path: PathBuf,
    /// From the file name; `None` when the name was not made by us.
    pub time: Option<DateTime<Utc>>,
    pub node: String,
    /// What it holds, one line: "3 handlers on ports 443, 8443; Funnel on 443; TCP 2222".
    pub holds: String,
}

fn parse_name(name: &str) -> (Option<DateTime<Utc>>, String) {
    let core = name
        .strip_prefix(PREFIX)
        .and_then(|n| n.strip_suffix(SUFFIX))
        .unwrap_or(name);
    let (ts, node) = core.split_once('-').unwrap_or((core, ""));
    let time = NaiveDateTime::parse_from_str(ts, TS_FORMAT)
        .ok()
        .map(|t| t.and_utc());
    (time, node.to_string())
}

/// One line describing a config.
pub fn describe(c: &ServeConfig) -> String {
    let mounts: Vec<_> = c.mounts().into_iter().filter(|m| !m.foreground).collect();
    let mut ports: Vec<u16> = mounts.iter().map(|m| m.port).collect();
    ports.sort_unstable();
    ports.dedup();
    let mut parts = Vec::new();
    if !mounts.is_empty() {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        parts.push(format!(
            "{} handler{} on port{} {}",
            mounts.len(),
            if mounts.len() == 1 { "" } else { "s" },
            if ports.len() == 1 { "" } else { "s" },
            list.join(", ")
        ));
    }
    let funnel: Vec<&str> = c
        .allow_funnel
        .iter()
        .filter(|(_, on)| **on)
        .map(|(k, _)| k.as_str())
        .collect();
    if !funnel.is_empty() {
        parts.push(format!("Funnel on {}", funnel.join(", ")));
    }
    for (port, target) in c.tcp_forwards() {
        parts.push(format!("TCP {port} → {target}"));
    }
    if !c.services.is_empty() {
        parts.push(format!("{} service(s)", c.services.len()));
    }
    if parts.is_empty() {
        "empty (no serve config)".to_string()
    } else {
        parts.join("; ")
    }
}

/// Every backup, newest first.
pub fn list(data_dir: &Path) -> io::Result<Vec<BackupInfo>> {
    let dir = dir(data_dir);
    let mut out = Vec::new();
    for n in names(&dir)?.into_iter().rev() {
        let path = dir.join(&n);
        let (time, node) = parse_name(&n);
        let holds = match fs::read(&path) {
            Ok(b) => match ServeConfig::from_json(&b) {
                Ok(c) => describe(&c),
                Err(e) => format!("not a serve config ({e})"),
            },
            Err(e) => format!("unreadable ({e})"),
        };
        out.push(BackupInfo {
            path,
            time,
            node,
            holds,
        });
    }
    Ok(out)
}

/// The newest backup, if any.
pub fn newest(data_dir: &Path) -> io::Result<Option<PathBuf>> {
    let dir = dir(data_dir);
    Ok(names(&dir)?.pop().map(|n| dir.join(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_collide_forward_and_prune_to_keep() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let a = write(d.path(), "box.t.ts.net.", "{}", now).unwrap();
        let b = write(d.path(), "box.t.ts.net.", "{}", now).unwrap();
        assert!(a < b, "{a:?} {b:?}");
        let info = list(d.path()).unwrap();
        assert_eq!(info[0].path, b);
        assert_eq!(info[0].node, "box.t.ts.net");
        assert!(info[0].time.is_some());
        assert_eq!(info[0].holds, "empty (no serve config)");
        fs::write(dir(d.path()).join("notes.txt"), "mine").unwrap();
        for i in 0..60 {
            write(d.path(), "n", "{}", now + TimeDelta::seconds(i)).unwrap();
        }
        assert_eq!(names(&dir(d.path())).unwrap().len(), KEEP);
        assert!(dir(d.path()).join("notes.txt").exists());
        assert!(!a.exists());
    }

    #[test]
    fn hostile_node_names_stay_in_the_directory() {
        assert_eq!(file_safe("../../etc/passwd"), "node.._.._etc_passwd");
        assert_eq!(file_safe(""), "node");
        assert_eq!(file_safe("a/b c"), "a_b_c");
    }
}
