//! Flag beats file beats default, field by field.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::*;
use crate::config::{DEFAULT_POLL_SECS, DEFAULT_SAFETY_POLL_SECS, DEFAULT_TIMEOUT_SECS};

/// A config file that sets every field the flags can override.
fn file() -> Config {
    Config {
        tailscale_path: Some("/file/tailscale".into()),
        socket_path: Some("/file/sock".into()),
        backend_port: Some(1),
        connect: Some("file:1".into()),
        ca_file: Some("/file/ca.pem".into()),
        timeout_secs: 7,
        poll_interval_secs: 60,
        safety_poll_secs: 600,
        ssh_user: Some("u".into()),
        ssh_host: Some("h".into()),
        tunnel_local_port: Some(9),
        ..Config::default()
    }
}

fn flags() -> Overrides {
    Overrides {
        port: Some(2),
        tailscale: Some("/flag/tailscale".into()),
        socket: Some("/flag/sock".into()),
        connect: Some("flag:2".into()),
        socks5: Some("flag:1055".into()),
        ca_file: Some("/flag/ca.pem".into()),
        timeout: Some(Duration::from_millis(1500)),
        interval: Some(5),
        verbose: true,
    }
}

#[test]
fn a_flag_beats_the_file() {
    let s = resolve(&flags(), &file());
    let e = &s.engine;
    assert_eq!(e.tailscale, Some(PathBuf::from("/flag/tailscale")));
    assert_eq!(e.socket, Some(PathBuf::from("/flag/sock")));
    assert_eq!(e.connect.as_deref(), Some("flag:2"));
    assert_eq!(e.ca_file, Some(PathBuf::from("/flag/ca.pem")));
    assert_eq!(e.port, Some(2));
    assert_eq!(e.timeout, Duration::from_millis(1500));
    assert_eq!((s.interval_secs, s.interval_pinned), (5, true));
    // The file's values stay visible where a diagnosis reports them.
    assert_eq!(e.config_tailscale, Some(PathBuf::from("/file/tailscale")));
    assert_eq!(e.config_port, Some(1));
}

#[test]
fn the_file_beats_the_default() {
    let s = resolve(&Overrides::default(), &file());
    let e = &s.engine;
    assert_eq!(e.tailscale, None);
    assert_eq!(e.config_tailscale, Some(PathBuf::from("/file/tailscale")));
    assert_eq!(e.socket, Some(PathBuf::from("/file/sock")));
    assert_eq!(e.connect.as_deref(), Some("file:1"));
    assert_eq!(e.ca_file, Some(PathBuf::from("/file/ca.pem")));
    assert_eq!((e.port, e.config_port), (None, Some(1)));
    assert_eq!(e.timeout, Duration::from_secs(7));
    assert_eq!((s.interval_secs, s.interval_pinned), (60, false));
    assert_eq!(s.safety_poll, Duration::from_secs(600));
    assert_eq!(
        (
            e.ssh_user.as_deref(),
            e.ssh_host.as_deref(),
            e.tunnel_local_port
        ),
        (Some("u"), Some("h"), Some(9))
    );
    assert!(!e.full && !e.deep);
}

#[test]
fn nothing_given_is_the_defaults() {
    let s = resolve(&Overrides::default(), &Config::default());
    let e = &s.engine;
    assert_eq!(
        (&e.tailscale, &e.config_tailscale, &e.socket),
        (&None, &None, &None)
    );
    assert_eq!((&e.connect, &e.ca_file), (&None, &None));
    assert_eq!((e.port, e.config_port), (None, None));
    assert_eq!(e.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    assert_eq!(s.interval_secs, DEFAULT_POLL_SECS);
    assert_eq!(s.safety_poll, Duration::from_secs(DEFAULT_SAFETY_POLL_SECS));
}

#[test]
fn zero_seconds_in_the_file_mean_one() {
    let c = Config {
        timeout_secs: 0,
        poll_interval_secs: 0,
        safety_poll_secs: 0,
        ..Config::default()
    };
    let s = resolve(&Overrides::default(), &c);
    assert_eq!(s.engine.timeout, Duration::from_secs(1));
    assert_eq!(s.interval_secs, 1);
    assert_eq!(s.safety_poll, Duration::from_secs(1));
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    o: Overrides,
}

#[test]
fn flags_parse_with_their_checks() {
    let o = Cli::try_parse_from([
        "x",
        "--port",
        "3000",
        "--connect",
        "[::1]:8443",
        "--timeout",
        "0.5",
        "--interval",
        "10",
        "-v",
    ])
    .unwrap()
    .o;
    assert_eq!(o.port, Some(3000));
    assert_eq!(o.connect.as_deref(), Some("[::1]:8443"));
    assert_eq!(o.timeout, Some(Duration::from_millis(500)));
    assert_eq!((o.interval, o.verbose), (Some(10), true));
    for bad in [
        &["x", "--port", "0"][..],
        &["x", "--connect", "nohost"],
        &["x", "--connect", ":443"],
        &["x", "--timeout", "0"],
        &["x", "--timeout", "3601"],
        &["x", "--interval", "0"],
        &["x", "--socket", "/s", "--tailscale", "/t"],
    ] {
        assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} was accepted");
    }
}
