//! The user's settings: one JSON file in the platform config dir ([`Dirs`], the platform's
//! places for our files, is re-exported here for the callers that load the config).
//!
//! macOS: `~/Library/Application Support/Serve Doctor/config.json`; Linux:
//! `$XDG_CONFIG_HOME/serve-doctor/config.json` (default `~/.config`). Unknown keys are kept on
//! save (a newer version's settings survive an older one), a file that does not parse is reported
//! and the defaults are used for the run, and it is never overwritten while broken.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::platform::Dirs;

/// Fallback backend port when neither a flag, the config, nor the serve config names one.
pub const DEFAULT_BACKEND_PORT: u16 = 18080;
pub const DEFAULT_POLL_SECS: u64 = 30;
pub const DEFAULT_TIMEOUT_SECS: u64 = 5;
/// While tailscaled's IPN bus announces changes, polling is only a safety net for what the bus
/// does not announce (a backend going down, a certificate nearing expiry).
pub const DEFAULT_SAFETY_POLL_SECS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IconStyle {
    /// Coloured dot with a shape inside.
    #[default]
    Color,
    /// macOS template image: monochrome, only the shape carries the state.
    Template,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The `tailscale` CLI to use instead of searching for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tailscale_path: Option<PathBuf>,
    /// tailscaled's LocalAPI socket to use instead of discovering it (forces that route).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_path: Option<PathBuf>,
    /// The port the user's web app listens on (what serve should proxy to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_port: Option<u16>,
    /// Dial this "host:port" for the HTTPS probe instead of the node's first Tailscale IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    /// SOCKS5 proxy into the tailnet (`--socks5`), for a userspace-networking node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socks5: Option<String>,
    /// Extra trust anchors (PEM) on top of the system store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
    pub poll_interval_secs: u64,
    /// Poll interval while the IPN bus is connected (see [`DEFAULT_SAFETY_POLL_SECS`]).
    pub safety_poll_secs: u64,
    pub notifications: bool,
    pub icon_style: IconStyle,
    /// SSH tunnel fallback: login user and host (defaults: `$USER` and the node's DNS name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_host: Option<String>,
    /// Local port of the SSH tunnel (default: the backend port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_local_port: Option<u16>,
    /// What else to watch besides this node (`serve-doctor targets`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetEntry>,
    /// Keys this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tailscale_path: None,
            socket_path: None,
            backend_port: None,
            connect: None,
            socks5: None,
            ca_file: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            poll_interval_secs: DEFAULT_POLL_SECS,
            safety_poll_secs: DEFAULT_SAFETY_POLL_SECS,
            notifications: true,
            icon_style: IconStyle::Color,
            ssh_user: None,
            ssh_host: None,
            tunnel_local_port: None,
            targets: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }
}

/// A place to watch besides this node, as the config file keeps it: a remote node over SSH
/// (`"ssh": "[user@]host[:port]"`) or a URL seen from this device (`"url": "https://…/"`).
/// Checked when used ([`crate::targets`]), so a bad entry is named rather than dropping the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The result of reading the config file: always usable settings, plus what went wrong, if anything.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// Set when the file exists but could not be read or parsed; the defaults are in `config`.
    pub problem: Option<String>,
}

impl Loaded {
    /// Whether saving is safe: never overwrite a file we could not parse.
    pub fn writable(&self) -> bool {
        self.problem.is_none()
    }
}

/// Reads the config at `path`. A missing file yields the defaults and no problem.
pub fn load_from(path: &Path) -> Loaded {
    let (config, problem) = match fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<Config>(&bytes) {
            Ok(c) => (c, None),
            Err(e) => (
                Config::default(),
                Some(format!(
                    "{} is not valid: {e}; using defaults until it is fixed",
                    path.display()
                )),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), None),
        Err(e) => (
            Config::default(),
            Some(format!("cannot read {}: {e}", path.display())),
        ),
    };
    Loaded {
        config,
        path: path.to_path_buf(),
        problem,
    }
}

/// Reads the config from its standard place; with no home directory, the defaults.
pub fn load() -> Loaded {
    match Dirs::discover() {
        Some(d) => load_from(&d.config_file()),
        None => Loaded {
            config: Config::default(),
            path: PathBuf::new(),
            problem: Some("no home directory: using defaults".into()),
        },
    }
}

/// Writes `config` to `path` atomically (temp file + fsync + rename), creating the directory.
pub fn save_to(path: &Path, config: &Config) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut text = serde_json::to_vec_pretty(config).map_err(std::io::Error::other)?;
    text.push(b'\n');
    tmp.write_all(&text)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Creates the file with defaults on first run; leaves an existing (even broken) file alone.
pub fn ensure_exists(loaded: &Loaded) -> std::io::Result<bool> {
    if loaded.path.as_os_str().is_empty() || loaded.path.exists() {
        return Ok(false);
    }
    save_to(&loaded.path, &loaded.config)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(&p, r#"{"backend_port": 3000, "future_key": {"a": [1, 2]}}"#).unwrap();
        let l = load_from(&p);
        assert!(l.problem.is_none());
        assert_eq!(l.config.backend_port, Some(3000));
        assert_eq!(l.config.poll_interval_secs, DEFAULT_POLL_SECS);
        save_to(&p, &l.config).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["future_key"]["a"][1], 2);
        assert_eq!(v["backend_port"], 3000);
    }

    #[test]
    fn broken_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(&p, "{ not json").unwrap();
        let l = load_from(&p);
        assert!(l.problem.as_deref().unwrap().contains("not valid"));
        assert_eq!(l.config, Config::default());
        assert!(!l.writable());
        assert!(!ensure_exists(&l).unwrap());
        assert_eq!(fs::read_to_string(&p).unwrap(), "{ not json");
    }

    #[test]
    fn first_run_creates_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/config.json");
        let l = load_from(&p);
        assert!(ensure_exists(&l).unwrap());
        assert_eq!(load_from(&p).config, Config::default());
    }
}
