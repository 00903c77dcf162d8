//! The AppleScript text of a macOS notification (`osascript -e 'display notification …'`), as
//! plain functions compiled everywhere so the escaping is tested on Linux too.

use std::time::Duration;

/// How long a notification may take before we give up on it.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// `s` as an AppleScript string literal: quotes and backslashes escaped, control characters
/// (which AppleScript would take literally or choke on) turned into spaces.
pub fn applescript_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `osascript` argument list for a notification (also used by the tests on every platform).
pub fn osascript_args(title: &str, body: &str) -> Vec<String> {
    vec![
        "-e".to_string(),
        format!(
            "display notification {} with title {}",
            applescript_string(body),
            applescript_string(title)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applescript_strings_are_escaped() {
        assert_eq!(applescript_string("plain"), "\"plain\"");
        assert_eq!(applescript_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(applescript_string("x\ny\u{7}"), "\"x y \"");
        // An attempt to break out of the literal stays inside it.
        let evil = r#"" & (do shell script "rm -rf ~") & ""#;
        let lit = applescript_string(evil);
        assert_eq!(lit, r#""\" & (do shell script \"rm -rf ~\") & \"""#);
    }

    #[test]
    fn osascript_gets_one_script_argument() {
        let args = osascript_args("Serve Doctor: Serve broken", "HTTPS certificates are off.");
        assert_eq!(
            args,
            vec![
                "-e",
                "display notification \"HTTPS certificates are off.\" with title \"Serve Doctor: Serve broken\""
            ]
        );
    }
}
