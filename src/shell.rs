//! Shell quoting for every command we print for a person to paste: one word stays one word,
//! whatever a host name, user name or path contains (spaces, unicode, `$`, `;`, quotes).

use std::borrow::Cow;

/// `s` as one shell word. Plain words stay as they are, readable (`--https=443`,
/// `/usr/bin/tailscale`, `box.tail1234.ts.net`); anything else is single-quoted. Only NUL
/// cannot be quoted: it is shown as-is, and nothing we print is run through a shell by us.
pub fn word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,?".contains(c))
    {
        return s.to_string();
    }
    shlex::try_quote(s)
        .map(Cow::into_owned)
        .unwrap_or_else(|_| s.to_string())
}

/// The argv a real `sh` makes of `command` (with every expansion it would do), for tests that
/// prove a printed command means what it says. A command whose quoting is wrong shows up here as
/// an extra word, a missing one, or the output of a `$(…)`.
#[cfg(test)]
pub fn argv_by_sh(command: &str) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("set -- {command}\nprintf '%s\\0' \"$@\""))
        .current_dir(std::env::temp_dir())
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "sh rejected {command:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{argv_by_sh, word};

    #[test]
    fn plain_words_stay_and_the_rest_is_one_word() {
        assert_eq!(word("box.tail1234.ts.net"), "box.tail1234.ts.net");
        assert_eq!(word("--https=443"), "--https=443");
        for hostile in [
            "/Applications/Tailscale App.app/x",
            "a;rm -rf ~",
            "$(id)",
            "it's",
            "naïve",
            "",
        ] {
            let w = word(hostile);
            assert_eq!(shlex::split(&w).unwrap(), vec![hostile.to_string()], "{w}");
            assert_eq!(argv_by_sh(&format!("x {w}")), ["x", hostile], "{w}");
        }
    }
}
