//! One write action at a time, across processes: the CLI and the menu-bar app take the same
//! lock file in the data dir, so two fixes never interleave their `reset` and `serve` calls.
//!
//! `File::try_lock` (std, stable since 1.89) is an advisory whole-file lock that the OS drops
//! when the process dies, so a crashed fix never leaves the lock stuck.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Held while a fix runs; dropping it releases the lock.
#[derive(Debug)]
pub struct FixLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file's place in `data_dir`.
pub fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("fix.lock")
}

/// Takes the lock, or `Ok(None)` when another fix holds it.
pub fn try_lock(data_dir: &Path) -> io::Result<Option<FixLock>> {
    fs::create_dir_all(data_dir)?;
    let path = lock_path(data_dir);
    // Never truncated or removed: removing a lock file others may hold open would let a third
    // process lock a fresh inode while the first still runs.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(FixLock { _file: file, path })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The lock for a confirmed (writing) run: `Ok(Some(None))` when the run only plans and needs
/// no lock, `Ok(None)` when another fix holds it, the error when the lock file cannot be used.
pub(super) fn for_run(
    data_dir: &Path,
    confirmed: bool,
) -> Result<Option<Option<FixLock>>, super::FixError> {
    if !confirmed {
        return Ok(Some(None));
    }
    match try_lock(data_dir) {
        Ok(Some(l)) => Ok(Some(Some(l))),
        Ok(None) => Ok(None),
        Err(source) => Err(super::FixError::Lock {
            path: lock_path(data_dir),
            source,
        }),
    }
}

/// What a run reports when another fix holds the lock.
pub(super) const BUSY: &str = "another fix is running (from the menu-bar app or another serve-doctor); nothing changed — try again when it has finished";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_is_refused_until_the_first_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let first = try_lock(d.path()).unwrap().expect("free");
        assert!(try_lock(d.path()).unwrap().is_none());
        drop(first);
        assert!(try_lock(d.path()).unwrap().is_some());
    }
}
