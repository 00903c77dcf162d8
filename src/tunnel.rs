//! The SSH tunnel fallback: `ssh -N -L <local>:<backend> <user>@<host>`, where `<backend>` is
//! the `host:port` (or socket path) serve proxies to, so the tunnel reaches what serve reaches
//! (a LAN backend stays a LAN backend). Built from values that may come from a config file
//! someone else edited, so every part is validated and quoted.
//!
//! We never run this command through a shell ourselves; it is shown and copied for the user to
//! paste into theirs, which is exactly why the quoting must be right.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    #[error("SSH {what} is empty")]
    Empty { what: &'static str },
    #[error("SSH {what} {value:?} starts with '-' and would be read as an ssh option")]
    LeadingDash { what: &'static str, value: String },
    #[error("SSH {what} {value:?} contains a control character or newline")]
    Control { what: &'static str, value: String },
    #[error("SSH user {value:?} contains '@'")]
    At { value: String },
    #[error("port 0 is not a port")]
    PortZero,
}

fn check(what: &'static str, v: &str) -> Result<(), TunnelError> {
    if v.is_empty() {
        return Err(TunnelError::Empty { what });
    }
    if v.starts_with('-') {
        return Err(TunnelError::LeadingDash {
            what,
            value: v.into(),
        });
    }
    if v.chars().any(char::is_control) {
        return Err(TunnelError::Control {
            what,
            value: v.into(),
        });
    }
    Ok(())
}

/// The tunnel command for a backend at `backend` as the remote machine dials it (`host:port`,
/// `[v6]:port`, or a unix socket path), reachable locally on `local_port`. Refuses values that
/// cannot be made safe; quotes the rest.
pub fn command(
    user: &str,
    host: &str,
    local_port: u16,
    backend: &str,
) -> Result<String, TunnelError> {
    check("user", user)?;
    check("host", host)?;
    check("backend", backend)?;
    if user.contains('@') {
        return Err(TunnelError::At { value: user.into() });
    }
    if local_port == 0 || backend.rsplit_once(':').is_some_and(|(_, p)| p == "0") {
        return Err(TunnelError::PortZero);
    }
    let target = format!("{user}@{host}");
    let forward = format!("{local_port}:{backend}");
    let q = crate::shell::word;
    Ok(format!("ssh -N -L {} {}", q(&forward), q(&target)))
}

/// The backend on the remote's IPv4 loopback, where a bare-port serve target points.
pub fn loopback(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The login name to suggest when the config names none.
pub fn default_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "user".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_left_readable() {
        assert_eq!(
            command("alice", "box.tail1234.ts.net", 18080, &loopback(18080)).unwrap(),
            "ssh -N -L 18080:127.0.0.1:18080 alice@box.tail1234.ts.net"
        );
        assert_eq!(
            command("alice", "box", 9000, "192.168.1.20:8080").unwrap(),
            "ssh -N -L 9000:192.168.1.20:8080 alice@box"
        );
        assert_eq!(
            command("alice", "box", 9000, "/run/app.sock").unwrap(),
            "ssh -N -L 9000:/run/app.sock alice@box"
        );
    }

    #[test]
    fn hostile_values_are_quoted_or_refused() {
        let c = command("a$(touch /tmp/x)", "h'o st", 1, "127.0.0.1:2").unwrap();
        let words = shlex::split(&c).unwrap();
        assert_eq!(
            words,
            [
                "ssh",
                "-N",
                "-L",
                "1:127.0.0.1:2",
                "a$(touch /tmp/x)@h'o st"
            ]
        );
        assert!(matches!(
            command("-oProxyCommand=x", "h", 1, "127.0.0.1:2"),
            Err(TunnelError::LeadingDash { .. })
        ));
        assert!(matches!(
            command("u", "-h", 1, "127.0.0.1:2"),
            Err(TunnelError::LeadingDash { .. })
        ));
        assert!(matches!(
            command("u", "h\nrm -rf ~", 1, "127.0.0.1:2"),
            Err(TunnelError::Control { .. })
        ));
        assert!(matches!(
            command("u@x", "h", 1, "127.0.0.1:2"),
            Err(TunnelError::At { .. })
        ));
        assert!(matches!(
            command("", "h", 1, "127.0.0.1:2"),
            Err(TunnelError::Empty { .. })
        ));
        assert_eq!(
            command("u", "h", 0, "127.0.0.1:2"),
            Err(TunnelError::PortZero)
        );
        assert_eq!(
            command("u", "h", 1, "127.0.0.1:0"),
            Err(TunnelError::PortZero)
        );
        assert!(matches!(
            command("u", "h", 1, "-oProxyCommand=x"),
            Err(TunnelError::LeadingDash { .. })
        ));
        let quoted = command("u", "h", 1, "/run/my app.sock").unwrap();
        assert_eq!(shlex::split(&quoted).unwrap()[3], "1:/run/my app.sock");
    }
}
