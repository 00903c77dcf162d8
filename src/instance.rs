//! One menu-bar app per user session: a lock file in the app's runtime dir ([`Dirs::runtime`]).
//!
//! Launching the app a second time (Finder, the login item, a terminal) must not add a second icon:
//! the newcomer takes [`InstanceLock::acquire`], gets [`InstanceError::AlreadyRunning`] and exits,
//! while the first instance keeps running. The lock is an advisory whole-file lock
//! (`File::try_lock`, `flock(2)` on Linux and macOS) that the kernel drops when the holder's file
//! descriptor closes, including when the process crashes or is killed. So a lock file left behind
//! by a crash never blocks a new start: the file exists, but nobody holds its lock, and the next
//! start takes it over. The holder writes its pid into the file so the second start can say who
//! holds it.
//!
//! [`Dirs::runtime`]: crate::config::Dirs::runtime

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the lock inside the runtime dir.
pub const LOCK_FILE: &str = "serve-doctor.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another process holds the lock. `pid` is what that process wrote into the file; `None`
    /// when it could not be read (the holder may be between taking the lock and writing it).
    #[error("{}", already_running_message(*pid, path))]
    AlreadyRunning { pid: Option<u32>, path: PathBuf },
    /// The lock file could not be created, opened or locked for another reason (permissions, a
    /// file system without locks): the caller decides whether to run without the guarantee.
    #[error("cannot use the single-instance lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn already_running_message(pid: Option<u32>, path: &Path) -> String {
    let who = match pid {
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    };
    format!(
        "Serve Doctor is already running{who}; its icon is in the menu bar. \
         This start does nothing (lock: {}).",
        path.display()
    )
}

/// Proof that this process is the only running app; keep it alive for the app's whole life.
/// Dropping it (or the process ending in any way) releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    // Held only for its open descriptor: the lock lives exactly as long as this file is open.
    file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes the lock `dir/`[`LOCK_FILE`], creating `dir` (mode 0700 on Unix, as the XDG runtime
    /// dir rules ask) and the file as needed, and writes this process's pid into it.
    pub fn acquire(dir: &Path) -> Result<InstanceLock, InstanceError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| InstanceError::Io {
            path: path.clone(),
            source,
        };
        crate::platform::create_private_dir(dir).map_err(io)?;
        // No truncation on open: the file may be the running instance's, whose pid we want to read.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(InstanceError::AlreadyRunning {
                    pid: read_pid(&mut file),
                    path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Ours now; whatever a crashed holder wrote is stale.
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(InstanceLock { file, path })
    }

    /// Takes the lock in the standard runtime dir.
    pub fn acquire_default() -> Result<InstanceLock, InstanceError> {
        let dirs = crate::config::Dirs::discover().ok_or_else(|| InstanceError::Io {
            path: PathBuf::from(LOCK_FILE),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no home directory"),
        })?;
        Self::acquire(&dirs.runtime)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // The file itself stays: removing it would let a third process lock a fresh inode while a
        // second one still waits on the old, and both would think they are alone. Closing the
        // descriptor (right after this) is what releases the lock; unlocking first only makes the
        // release explicit.
        let _ = self.file.unlock();
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    // A few bytes are enough for a pid; never read a huge file someone put there.
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_the_same_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        match InstanceLock::acquire(dir.path()) {
            Err(InstanceError::AlreadyRunning { pid, path }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert_eq!(path, dir.path().join(LOCK_FILE));
            }
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        drop(first);
        let again = InstanceLock::acquire(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }

    #[test]
    fn a_left_over_lock_file_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "99999999\n").unwrap();
        let lock = InstanceLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
    }

    #[test]
    fn message_names_the_pid_and_says_what_happens() {
        let e = InstanceError::AlreadyRunning {
            pid: Some(42),
            path: PathBuf::from("/run/user/1/serve-doctor/serve-doctor.lock"),
        };
        let text = e.to_string();
        assert!(text.contains("already running (pid 42)"), "{text}");
        assert!(text.contains("does nothing"), "{text}");
        let e = InstanceError::AlreadyRunning {
            pid: None,
            path: PathBuf::from("x"),
        };
        assert!(
            e.to_string()
                .starts_with("Serve Doctor is already running;")
        );
    }

    #[test]
    fn creates_the_runtime_dir() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        let _lock = InstanceLock::acquire(&nested).unwrap();
        assert!(nested.join(LOCK_FILE).is_file());
    }
}
