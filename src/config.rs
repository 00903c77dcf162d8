//! The user's settings: one JSON file in the platform config dir ([`Dirs`], the platform's
//! places for our files, is re-exported here for the callers that load the config).
//!
//! macOS: `~/Library/Application Support/Serve Doctor/config.json`; Linux:
//! `$XDG_CONFIG_HOME/serve-doctor/config.json` (default `~/.config`). Unknown keys are kept on
//! save (a newer version's settings survive an older one). Each value is checked by the rules of
//! the flag it stands for: a bad one is reported (field, file, value) and its default used, the
//! others still apply; a file that is not a JSON object, or not a regular file, is reported and
//! the defaults are used. A file with any problem is never overwritten.

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

/// Largest config file read. A settings file is a few hundred bytes; anything bigger is not one,
/// and reading it whole (a log, an image, a disk) would only cost memory and time.
pub const MAX_BYTES: u64 = 1 << 20;

/// The result of reading the config file: always usable settings, plus what went wrong, if anything.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// What was wrong with the file, one sentence each: the whole file (unreadable, not JSON, not
    /// a regular file: the defaults are in `config`) or single fields (those are the defaults in
    /// `config`, the other fields are the file's).
    pub problems: Vec<String>,
}

impl Loaded {
    /// Whether saving is safe: never overwrite a file with a value we could not use (the save
    /// would replace the user's text with our defaults).
    pub fn writable(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems as one line, for the places that show one (menu, log).
    pub fn problem(&self) -> Option<String> {
        (!self.problems.is_empty()).then(|| self.problems.join("; "))
    }
}

/// Reads the config at `path`. A missing file yields the defaults and no problem.
pub fn load_from(path: &Path) -> Loaded {
    let (config, problems) = match read_capped(path) {
        Ok(None) => (Config::default(), vec![]),
        Ok(Some(bytes)) => parse(&bytes, path),
        Err(why) => (
            Config::default(),
            vec![format!("{}: {why}; using defaults", path.display())],
        ),
    };
    Loaded {
        config,
        path: path.to_path_buf(),
        problems,
    }
}

/// The file's bytes (`None`: there is no file). Only a regular file is opened, and without
/// blocking: opening a FIFO for reading waits for a writer forever, and a device never ends.
fn read_capped(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    not_a_file(&meta)?;
    // O_NONBLOCK: it may have been swapped for a FIFO since the stat; checked again below.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    not_a_file(&meta)?;
    let too_big = || {
        format!(
            "is larger than {} KiB, too big for a config file",
            MAX_BYTES / 1024
        )
    };
    if meta.len() > MAX_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_big());
    }
    Ok(Some(bytes))
}

fn not_a_file(meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(format!("is {what}, not a regular file"))
}

/// The file's JSON, field by field: a field with a value the flag would refuse (or of the wrong
/// type) is reported and left at its default; the other fields are used.
fn parse(bytes: &[u8], path: &Path) -> (Config, Vec<String>) {
    let whole = |why: String| {
        (
            Config::default(),
            vec![format!(
                "{} {why}; using defaults until it is fixed",
                path.display()
            )],
        )
    };
    let mut map = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(m)) => m,
        Ok(other) => return whole(format!("is not a JSON object (it is {})", kind(&other))),
        Err(e) => return whole(format!("is not valid JSON: {e}")),
    };
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let mut problems = vec![];
    map.retain(|key, value| match check_field(key, value) {
        Ok(()) => true,
        Err(why) => {
            let fallback = defaults.get(key).map_or_else(
                || "left unset".to_string(),
                |d| format!("using the default ({d})"),
            );
            problems.push(format!(
                "{}: {key} = {}: {why}; {fallback}",
                path.display(),
                shown(value)
            ));
            false
        }
    });
    match serde_json::from_value::<Config>(serde_json::Value::Object(map)) {
        Ok(c) => (c, problems),
        // Every known field was checked above; this is a field added without a check.
        Err(e) => whole(format!("is not valid: {e}")),
    }
}

/// A value as JSON text, cut short: the message names it, it need not repeat a huge one.
fn shown(v: &serde_json::Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value::*;
    match v {
        Null => "null",
        Bool(_) => "a boolean",
        Number(_) => "a number",
        String(_) => "a string",
        Array(_) => "an array",
        Object(_) => "an object",
    }
}

/// Whether `value` is usable for the known field `key`, by the rules of the matching flag.
/// Unknown keys are fine: they belong to another version and are kept.
fn check_field(key: &str, value: &serde_json::Value) -> Result<(), String> {
    use crate::values::{parse_host_port, parse_interval, parse_port, parse_secs};
    use serde_json::Value;
    let expected = |what: &str| Err(format!("expected {what}, not {}", kind(value)));
    let optional = matches!(
        key,
        "tailscale_path"
            | "socket_path"
            | "backend_port"
            | "connect"
            | "ca_file"
            | "ssh_user"
            | "ssh_host"
            | "tunnel_local_port"
    );
    if optional && value.is_null() {
        return Ok(());
    }
    match (key, value) {
        ("backend_port" | "tunnel_local_port", Value::Number(n)) => {
            parse_port(&n.to_string()).map(drop)
        }
        ("backend_port" | "tunnel_local_port", _) => expected("a port number"),
        ("connect", Value::String(s)) => parse_host_port(s).map(drop),
        ("connect", _) => expected("a \"HOST:PORT\" string"),
        ("timeout_secs", Value::Number(n)) => {
            parse_secs(&n.to_string())?;
            match n.as_u64() {
                Some(_) => Ok(()),
                None => Err(format!("{n} is not whole seconds")),
            }
        }
        ("timeout_secs", _) => expected("a number of seconds"),
        ("poll_interval_secs" | "safety_poll_secs", Value::Number(n)) => {
            parse_interval(&n.to_string()).map(drop)
        }
        ("poll_interval_secs" | "safety_poll_secs", _) => expected("a number of seconds"),
        ("tailscale_path" | "socket_path" | "ca_file", Value::String(s)) if s.is_empty() => {
            Err("an empty path".into())
        }
        (
            "tailscale_path" | "socket_path" | "ca_file" | "ssh_user" | "ssh_host",
            Value::String(_),
        ) => Ok(()),
        ("tailscale_path" | "socket_path" | "ca_file", _) => expected("a path (a string)"),
        ("ssh_user" | "ssh_host", _) => expected("a string"),
        ("notifications", Value::Bool(_)) => Ok(()),
        ("notifications", _) => expected("true or false"),
        ("icon_style", _) => serde_json::from_value::<IconStyle>(value.clone())
            .map(drop)
            .map_err(|_| "expected \"color\" or \"template\"".into()),
        _ => Ok(()),
    }
}

/// Reads the config from its standard place; with no home directory, the defaults.
pub fn load() -> Loaded {
    match Dirs::discover() {
        Some(d) => load_from(&d.config_file()),
        None => Loaded {
            config: Config::default(),
            path: PathBuf::new(),
            problems: vec!["no home directory: using defaults".into()],
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
    use std::os::unix::fs::FileTypeExt;

    use super::*;

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(&p, r#"{"backend_port": 3000, "future_key": {"a": [1, 2]}}"#).unwrap();
        let l = load_from(&p);
        assert!(l.problems.is_empty());
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
        assert!(
            l.problem().unwrap().contains("not valid"),
            "{:?}",
            l.problems
        );
        assert_eq!(l.config, Config::default());
        assert!(!l.writable());
        assert!(!ensure_exists(&l).unwrap());
        assert_eq!(fs::read_to_string(&p).unwrap(), "{ not json");
    }

    /// Each bad value is named with its field, the file and the value, falls back to its
    /// default, and leaves the good fields in force and the file untouched.
    #[test]
    fn each_value_is_checked_like_its_flag() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        for (field, value, says) in [
            ("backend_port", "0", "not a port"),
            ("backend_port", "65536", "not a port"),
            ("backend_port", "-1", "not a port"),
            ("backend_port", "3000.5", "not a port"),
            (
                "backend_port",
                "\"3000\"",
                "expected a port number, not a string",
            ),
            (
                "tunnel_local_port",
                "true",
                "expected a port number, not a boolean",
            ),
            ("connect", "\"127.0.0.1\"", "expected HOST:PORT"),
            ("connect", "\":443\"", "no usable host"),
            ("connect", "\"a b:443\"", "no usable host"),
            ("connect", "\"host:0\"", "not a port"),
            (
                "connect",
                "443",
                "expected a \"HOST:PORT\" string, not a number",
            ),
            ("timeout_secs", "0", "out of range"),
            ("timeout_secs", "-5", "out of range"),
            ("timeout_secs", "3601", "out of range"),
            ("timeout_secs", "2.5", "not whole seconds"),
            (
                "timeout_secs",
                "null",
                "expected a number of seconds, not null",
            ),
            ("timeout_secs", "\"5\"", "not a string"),
            ("poll_interval_secs", "0", "1..=86400"),
            ("poll_interval_secs", "86401", "1..=86400"),
            ("safety_poll_secs", "-1", "1..=86400"),
            ("safety_poll_secs", "[300]", "not an array"),
            ("notifications", "\"yes\"", "expected true or false"),
            ("icon_style", "\"purple\"", "\"color\" or \"template\""),
            ("tailscale_path", "\"\"", "an empty path"),
            ("ca_file", "{}", "not an object"),
            ("ssh_user", "7", "expected a string"),
        ] {
            let text =
                format!(r#"{{"{field}": {value}, "backend_port_note": 1, "ssh_host": "jump"}}"#);
            let text = if field == "backend_port" {
                text
            } else {
                text.replace(r#""backend_port_note": 1"#, r#""backend_port": 4000"#)
            };
            fs::write(&p, &text).unwrap();
            let l = load_from(&p);
            assert_eq!(l.problems.len(), 1, "{field}={value}: {:?}", l.problems);
            let msg = &l.problems[0];
            let file = p.display().to_string();
            for part in [file.as_str(), field, value, says] {
                assert!(
                    msg.contains(part),
                    "{field}={value}: {msg:?} lacks {part:?}"
                );
            }
            assert!(
                msg.ends_with("left unset") || msg.contains("; using the default ("),
                "{msg}"
            );
            // The bad field is the default; the good ones are the file's.
            let mut expect = Config {
                ssh_host: Some("jump".into()),
                ..Config::default()
            };
            if field == "backend_port" {
                expect.extra.insert("backend_port_note".into(), 1.into());
            } else {
                expect.backend_port = Some(4000);
            }
            assert_eq!(l.config, expect, "{field}={value}");
            assert!(!l.writable());
            assert!(!ensure_exists(&l).unwrap());
            assert_eq!(fs::read_to_string(&p).unwrap(), text, "never rewritten");
        }
    }

    #[test]
    fn values_the_flags_accept_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(
            &p,
            r#"{"backend_port": 65535, "connect": "[::1]:8443", "timeout_secs": 3600,
                "poll_interval_secs": 86400, "safety_poll_secs": 1, "tunnel_local_port": null,
                "ssh_user": null, "icon_style": "template", "notifications": false}"#,
        )
        .unwrap();
        let l = load_from(&p);
        assert!(l.writable(), "{:?}", l.problems);
        assert_eq!(l.config.backend_port, Some(65535));
        assert_eq!(l.config.connect.as_deref(), Some("[::1]:8443"));
        assert_eq!(
            (l.config.timeout_secs, l.config.poll_interval_secs),
            (3600, 86400)
        );
        assert_eq!(l.config.icon_style, IconStyle::Template);
    }

    #[test]
    fn json_that_is_not_an_object_is_one_problem_and_all_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        for (text, says) in [
            ("[1, 2]", "not a JSON object (it is an array)"),
            ("\"backend_port\"", "(it is a string)"),
            ("null", "(it is null)"),
            ("", "not valid JSON"),
        ] {
            fs::write(&p, text).unwrap();
            let l = load_from(&p);
            assert_eq!(l.config, Config::default());
            assert!(
                l.problem().unwrap().contains(says),
                "{text}: {:?}",
                l.problems
            );
        }
    }

    /// `load_from` on another thread, failing the test (not hanging it) if it blocks.
    fn load_bounded(p: &Path) -> Loaded {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = p.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(load_from(&p));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("load_from blocked"))
    }

    #[test]
    fn a_fifo_a_device_or_a_directory_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        for (p, says) in [
            (fifo.as_path(), "a FIFO (named pipe)"),
            (link.as_path(), "a FIFO (named pipe)"),
            (dir.path(), "a directory"),
            (Path::new("/dev/zero"), "a character device"),
            (Path::new("/dev/null"), "a character device"),
        ] {
            let l = load_bounded(p);
            let msg = l.problem().unwrap();
            assert!(msg.contains(says), "{}: {msg}", p.display());
            assert!(msg.contains(&p.display().to_string()), "{msg}");
            assert_eq!(l.config, Config::default());
            assert!(!ensure_exists(&l).unwrap());
        }
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_huge_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let f = fs::File::create(&p).unwrap();
        f.set_len(MAX_BYTES + 1).unwrap();
        let l = load_from(&p);
        assert!(l.problem().unwrap().contains("too big"), "{:?}", l.problems);
        assert_eq!(l.config, Config::default());
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
