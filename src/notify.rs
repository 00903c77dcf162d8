//! Desktop notifications, best effort: a failure is logged by the caller and never fatal.
//!
//! Linux: the freedesktop notification service over D-Bus (notify-rust's `d` backend).
//! macOS: `osascript -e 'display notification …'` as a bounded child process, so the crate needs no
//! Objective-C build step (notify-rust on macOS pulls in mac-notification-sys, which compiles
//! Objective-C and breaks the cross-check from Linux). The text is passed as an argument without a
//! shell and escaped as an AppleScript string literal.
//!
//! Both calls block (D-Bus round trip, child process): call them off the UI thread.

use std::time::Duration;

/// How long a notification may take before we give up on it.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Shows a notification with `title` and `body`.
pub fn send(title: &str, body: &str) -> anyhow::Result<()> {
    imp::send(title, body)
}

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

#[cfg(target_os = "linux")]
mod imp {
    pub fn send(title: &str, body: &str) -> anyhow::Result<()> {
        notify_rust::Notification::new()
            .appname("Serve Doctor")
            .summary(title)
            .body(body)
            .timeout(notify_rust::Timeout::Milliseconds(8000))
            .show()?;
        Ok(())
    }
}

#[cfg(target_os = "macos")]
mod imp {
    use std::process::{Command, Stdio};
    use std::time::Instant;

    use anyhow::{Context, bail};

    pub fn send(title: &str, body: &str) -> anyhow::Result<()> {
        let mut child = Command::new("/usr/bin/osascript")
            .args(super::osascript_args(title, body))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting osascript")?;
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                bail!("osascript failed: {status}");
            }
            if start.elapsed() > super::TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("osascript took longer than {:?}", super::TIMEOUT);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod imp {
    pub fn send(title: &str, body: &str) -> anyhow::Result<()> {
        log::info!("notification (no service on this platform): {title}: {body}");
        Ok(())
    }
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
