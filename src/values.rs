//! The rules for the values a user gives, written once: the flags' parsers (clap calls them) and
//! the config file's checks both use these, so a value means the same wherever it is written.

use std::time::Duration;

/// `--connect`: `HOST:PORT` with a usable host and a port in 1–65535.
pub fn parse_host_port(s: &str) -> Result<String, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or("expected HOST:PORT, e.g. 127.0.0.1:8443")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} has no usable host"));
    }
    parse_port(port).map(|_| s.to_string())
}

/// `--port` (and the port of `--connect`): 1–65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{s:?} is not a port (1-65535)")),
    }
}

/// `--interval`: whole seconds in 1..=86400 (a day).
pub fn parse_interval(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(v) if (1..=86400).contains(&v) => Ok(v),
        _ => Err(format!("{s} is not a whole number of seconds in 1..=86400")),
    }
}

/// `exporter --cache`: seconds, fractions allowed, 0 (no reuse) to 3600.
pub fn parse_cache_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("{s:?} is not a number of seconds in 0..=3600")),
    }
}

/// `--timeout`: seconds, fractions allowed, in (0, 3600].
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(v > 0.0 && v <= 3600.0) {
        return Err(format!("{s} is out of range (0 < SECS ≤ 3600)"));
    }
    Ok(Duration::from_secs_f64(v))
}
