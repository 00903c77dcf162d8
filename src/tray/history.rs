//! The last state changes, kept across restarts: `history.json` in the data dir.
//!
//! A small JSON array (newest last, at most [`KEEP`] entries), rewritten atomically on every
//! change. Changes are rare (a few a day), so rewriting the whole file is simpler and safer than
//! appending. A file that does not parse is set aside as `history.json.bad` rather than lost.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnosis::{Cause, Diagnosis, Health};
use crate::tray::view::Wall;

/// How many entries the menu shows and the file keeps.
pub const KEEP: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: Wall,
    /// Stable cause code (`Cause::as_str`); kept as text so a newer version's codes survive.
    pub cause: String,
    pub health: String,
    pub summary: String,
}

impl Entry {
    pub fn new(at: Wall, d: &Diagnosis) -> Entry {
        Entry {
            at,
            cause: d.cause.as_str().to_string(),
            health: d.health.as_str().to_string(),
            summary: d.summary.clone(),
        }
    }

    pub fn cause(&self) -> Option<Cause> {
        Cause::parse(&self.cause)
    }

    pub fn health(&self) -> Option<Health> {
        Health::parse(&self.health)
    }
}

#[derive(Debug)]
pub struct History {
    path: Option<PathBuf>,
    entries: Vec<Entry>,
}

impl History {
    /// Loads `path` (missing → empty). `None` keeps history in memory only.
    pub fn load(path: Option<PathBuf>) -> History {
        let entries = match &path {
            Some(p) => match std::fs::read(p) {
                Ok(bytes) => match serde_json::from_slice::<Vec<Entry>>(&bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        let bad = p.with_extension("json.bad");
                        log::warn!(
                            "{} is not valid ({e}); moving it to {}",
                            p.display(),
                            bad.display()
                        );
                        if let Err(e) = std::fs::rename(p, &bad) {
                            log::warn!("cannot move it: {e}");
                        }
                        Vec::new()
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => {
                    log::warn!("cannot read {}: {e}", p.display());
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let mut h = History { path, entries };
        h.trim();
        h
    }

    fn trim(&mut self) {
        let extra = self.entries.len().saturating_sub(KEEP);
        self.entries.drain(..extra);
    }

    /// Oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn last_cause(&self) -> Option<Cause> {
        self.entries.last().and_then(Entry::cause)
    }

    /// Adds an entry and saves; a failed save is logged (the menu still shows it).
    pub fn push(&mut self, e: Entry) {
        self.entries.push(e);
        self.trim();
        if let Some(p) = &self.path
            && let Err(e) = save(p, &self.entries)
        {
            log::warn!("cannot save history to {}: {e}", p.display());
        }
    }
}

fn save(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&tmp, entries).map_err(std::io::Error::other)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tray::state::tests::{diag, wall};

    #[test]
    fn keeps_the_last_20_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/history.json");
        let mut h = History::load(Some(p.clone()));
        assert!(h.entries().is_empty());
        for i in 0..25 {
            let cause = if i % 2 == 0 {
                Cause::Healthy
            } else {
                Cause::BackendDown
            };
            h.push(Entry::new(wall(10, i, 0), &diag(cause)));
        }
        let h2 = History::load(Some(p));
        assert_eq!(h2.entries().len(), KEEP);
        assert_eq!(h2.entries()[0].at, wall(10, 5, 0));
        assert_eq!(h2.last_cause(), Some(Cause::Healthy));
        assert_eq!(h2.entries()[KEEP - 1].health(), Some(Health::Green));
    }

    #[test]
    fn a_broken_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.json");
        std::fs::write(&p, "[{").unwrap();
        let h = History::load(Some(p.clone()));
        assert!(h.entries().is_empty());
        assert!(dir.path().join("history.json.bad").exists());
    }
}
