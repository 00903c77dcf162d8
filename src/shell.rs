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

#[cfg(test)]
mod tests {
    use super::word;

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
        }
    }
}
