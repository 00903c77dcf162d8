//! The app's log: a file in the platform log dir with a size cap, plus stderr with `--verbose`.
//!
//! One rotation: when `serve-doctor.log` passes [`MAX_BYTES`] it becomes `serve-doctor.log.1`
//! (replacing the previous one) and a new file starts, so the logs never take more than twice the
//! cap. A log that cannot be opened is not an error worth stopping for: the app then logs to
//! stderr only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};

/// Size cap of the current log file.
pub const MAX_BYTES: u64 = 1024 * 1024;
pub const FILE_NAME: &str = "serve-doctor.log";

struct Sink {
    path: PathBuf,
    file: File,
    written: u64,
    max: u64,
}

impl Sink {
    fn open(path: PathBuf, max: u64) -> std::io::Result<Sink> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Sink {
            path,
            file,
            written,
            max,
        })
    }

    fn write_line(&mut self, line: &str) {
        if self.written + line.len() as u64 > self.max && self.written > 0 {
            self.rotate();
        }
        if self.file.write_all(line.as_bytes()).is_ok() {
            self.written += line.len() as u64;
        }
    }

    fn rotate(&mut self) {
        let old = rotated(&self.path);
        let _ = std::fs::rename(&self.path, &old);
        match OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
        {
            Ok(f) => {
                self.file = f;
                self.written = 0;
            }
            // Keep writing to the renamed file rather than losing lines; try again next time.
            Err(_) => self.written = 0,
        }
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    path.with_file_name(name)
}

pub struct Logger {
    level: LevelFilter,
    stderr: bool,
    sink: Option<Mutex<Sink>>,
}

impl Logger {
    /// A logger writing to `dir/serve-doctor.log` (if given and openable) and, with `verbose`,
    /// to stderr as well. `verbose` also lowers the level to debug.
    pub fn new(dir: Option<&Path>, verbose: bool, max_bytes: u64) -> (Logger, Option<String>) {
        let mut problem = None;
        let sink = dir.and_then(|d| match Sink::open(d.join(FILE_NAME), max_bytes) {
            Ok(s) => Some(Mutex::new(s)),
            Err(e) => {
                problem = Some(format!("cannot open the log in {}: {e}", d.display()));
                None
            }
        });
        let level = if verbose {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        };
        // Without a file, stderr is the only place left for warnings.
        let stderr = verbose || sink.is_none();
        (
            Logger {
                level,
                stderr,
                sink,
            },
            problem,
        )
    }

    fn format(record: &Record<'_>) -> String {
        format!(
            "{} {:<5} {}: {}\n",
            chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
            record.level(),
            record.target(),
            record.args()
        )
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        // Our own crate at the chosen level; dependencies only from warnings up (GTK and rustls
        // are chatty at debug).
        m.level() <= self.level
            && (m.target().starts_with("serve_doctor") || m.level() <= log::Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = Self::format(record);
        if let Some(sink) = &self.sink
            && let Ok(mut s) = sink.lock()
        {
            s.write_line(&line);
        }
        if self.stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        if let Some(sink) = &self.sink
            && let Ok(mut s) = sink.lock()
        {
            let _ = s.file.flush();
        }
    }
}

/// Installs the logger for the process. Returns where the log goes (for the menu and `--help`),
/// and a note if the file could not be opened. Calling it twice keeps the first logger.
pub fn init(dir: Option<&Path>, verbose: bool) -> (Option<PathBuf>, Option<String>) {
    let (logger, problem) = Logger::new(dir, verbose, MAX_BYTES);
    let path = logger
        .sink
        .as_ref()
        .and_then(|s| s.lock().ok().map(|s| s.path.clone()));
    let level = logger.level;
    // `set_logger` wants a `'static` logger (the `std` feature's boxed variant is not enabled);
    // the logger lives as long as the process anyway.
    if log::set_logger(Box::leak(Box::new(logger))).is_ok() {
        log::set_max_level(level);
    }
    if let Some(p) = &problem {
        log::warn!("{p}; logging to stderr only");
    }
    (path, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_once_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let (logger, problem) = Logger::new(Some(dir.path()), false, 200);
        assert!(problem.is_none());
        for i in 0..20 {
            logger.log(
                &Record::builder()
                    .args(format_args!("line {i} with some padding"))
                    .level(log::Level::Info)
                    .target("serve_doctor::test")
                    .build(),
            );
        }
        logger.flush();
        let cur = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
        let old = std::fs::metadata(dir.path().join("serve-doctor.log.1"))
            .unwrap()
            .len();
        assert!(cur <= 200 && old <= 200, "{cur} {old}");
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(text.contains("line 19"));
        assert!(!dir.path().join("serve-doctor.log.2").exists());
    }

    #[test]
    fn dependencies_are_quiet_below_warn() {
        let (logger, _) = Logger::new(None, true, MAX_BYTES);
        let m = |target, level| Metadata::builder().target(target).level(level).build();
        assert!(logger.enabled(&m("serve_doctor::tray", log::Level::Debug)));
        assert!(!logger.enabled(&m("rustls::client", log::Level::Debug)));
        assert!(logger.enabled(&m("tray_icon", log::Level::Warn)));
    }

    #[test]
    fn an_unwritable_dir_falls_back_to_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let (logger, problem) = Logger::new(Some(&file), false, MAX_BYTES);
        assert!(problem.is_some());
        assert!(logger.stderr && logger.sink.is_none());
    }
}
