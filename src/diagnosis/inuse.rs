//! "In use by another user": tailscaled serves one OS user at a time (Windows, and the builds
//! with unix-socket identity), and says who holds it only in its error text.
//!
//! The texts (`checkConnIdentityLocked` in `ipn/ipnserver/server.go`,
//! `CheckIPNConnectionAllowed` in `ipn/ipnlocal/local.go`): a LocalAPI call is answered 401 with
//! "Tailscale already in use by alice, pid 1234", or
//! `Tailscale already in use ("alice"); connection from "bob" not allowed`, or
//! `Tailscale running in server mode ("alice"); …`; the IPN bus sends the same as `ErrMessage`
//! with `State` InUseOtherUser. The status JSON never names the user.

/// Who holds tailscaled, as far as the text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    /// The other OS user, when named.
    pub user: Option<String>,
    /// Held in server mode (unattended): it stays that user's until they change it.
    pub server_mode: bool,
}

/// The other user `text` (a failed call's message) reports, if it says tailscaled is held.
pub fn parse(text: &str) -> Option<InUse> {
    let (reason, rest) = [
        "Tailscale already in use",
        "Tailscale running in server mode",
    ]
    .iter()
    .find_map(|m| text.find(m).map(|i| (*m, &text[i + m.len()..])))?;
    let user = if let Some(after) = rest.strip_prefix(" by ") {
        // "… by alice, pid 1234"
        after.split(',').next().map(str::trim).map(str::to_string)
    } else if let Some(after) = rest.strip_prefix(" (\"") {
        // `… ("alice"); connection from "bob" not allowed`
        after.split("\")").next().map(str::to_string)
    } else {
        None
    };
    Some(InUse {
        user: user.filter(|u| !u.is_empty()),
        server_mode: reason.ends_with("server mode"),
    })
}

/// The summary sentence.
pub fn sentence(u: Option<&InUse>) -> String {
    let who = u
        .and_then(|u| u.user.as_deref())
        .map_or("another user of this computer".to_string(), |n| {
            format!("another user of this computer ({n})")
        });
    let mode = if u.is_some_and(|u| u.server_mode) {
        " in server mode (unattended), so it stays theirs until they change it"
    } else {
        ""
    };
    format!(
        "Tailscale is in use by {who}{mode}: tailscaled serves one OS user at a time, so from this account its state and serve cannot be read or changed. This is not Tailscale being off: `tailscale up` here will not help."
    )
}

/// The fix's title.
pub fn fix_title(u: Option<&InUse>) -> String {
    match u.and_then(|u| u.user.as_deref()) {
        Some(n) => format!(
            "Run Serve Doctor as {n} (the user Tailscale is in use by), or have {n} quit Tailscale or turn off unattended mode so this account can take it over"
        ),
        None => "Run Serve Doctor as the user Tailscale is in use by, or have them quit Tailscale or turn off unattended mode so this account can take it over".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_texts_name_the_user() {
        let a = parse("HTTP 401: Tailscale already in use by DESKTOP-1\\alice, pid 4242").unwrap();
        assert_eq!(a.user.as_deref(), Some("DESKTOP-1\\alice"));
        assert!(!a.server_mode);
        let b = parse(
            r#"exit 1: Tailscale already in use ("alice"); connection from "bob" not allowed"#,
        )
        .unwrap();
        assert_eq!(b.user.as_deref(), Some("alice"));
        let c = parse(
            r#"Tailscale running in server mode ("alice"); connection from "bob" not allowed"#,
        )
        .unwrap();
        assert!(c.server_mode && c.user.as_deref() == Some("alice"));
        let d = parse("Tailscale already in use").unwrap();
        assert_eq!(d.user, None);
        assert_eq!(parse("exit 1: some other failure"), None);

        let s = sentence(Some(&c));
        assert!(
            s.contains("another user of this computer (alice) in server mode"),
            "{s}"
        );
        assert!(s.contains("`tailscale up` here will not help"), "{s}");
        assert!(fix_title(Some(&a)).starts_with("Run Serve Doctor as DESKTOP-1\\alice"));
        assert!(sentence(None).contains("another user of this computer:"));
    }
}
