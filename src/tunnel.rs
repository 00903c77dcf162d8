//! The SSH tunnel fallback: `ssh -N -L <local>:127.0.0.1:<port> <user>@<host>`, built from values
//! that may come from a config file someone else edited, so every part is validated and quoted.
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

/// The tunnel command for a backend on the remote's `127.0.0.1:remote_port`, reachable locally
/// on `local_port`. Refuses values that cannot be made safe; quotes the rest.
pub fn command(
    user: &str,
    host: &str,
    local_port: u16,
    remote_port: u16,
) -> Result<String, TunnelError> {
    check("user", user)?;
    check("host", host)?;
    if user.contains('@') {
        return Err(TunnelError::At { value: user.into() });
    }
    if local_port == 0 || remote_port == 0 {
        return Err(TunnelError::PortZero);
    }
    let target = format!("{user}@{host}");
    let forward = format!("{local_port}:127.0.0.1:{remote_port}");
    let q = crate::shell::word;
    Ok(format!("ssh -N -L {} {}", q(&forward), q(&target)))
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
            command("alice", "box.tail1234.ts.net", 18080, 18080).unwrap(),
            "ssh -N -L 18080:127.0.0.1:18080 alice@box.tail1234.ts.net"
        );
    }

    #[test]
    fn hostile_values_are_quoted_or_refused() {
        let c = command("a$(touch /tmp/x)", "h'o st", 1, 2).unwrap();
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
            command("-oProxyCommand=x", "h", 1, 2),
            Err(TunnelError::LeadingDash { .. })
        ));
        assert!(matches!(
            command("u", "-h", 1, 2),
            Err(TunnelError::LeadingDash { .. })
        ));
        assert!(matches!(
            command("u", "h\nrm -rf ~", 1, 2),
            Err(TunnelError::Control { .. })
        ));
        assert!(matches!(
            command("u@x", "h", 1, 2),
            Err(TunnelError::At { .. })
        ));
        assert!(matches!(
            command("", "h", 1, 2),
            Err(TunnelError::Empty { .. })
        ));
        assert_eq!(command("u", "h", 0, 2), Err(TunnelError::PortZero));
    }
}
