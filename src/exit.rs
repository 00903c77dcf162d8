//! Every exit status the binary ends with, and which result maps to which: scripts and monitoring
//! read these numbers, so they are stable (the README lists them; a test keeps the two equal).
//!
//! 0–3 are `diagnose`'s health (the Nagios plugin convention) and, with other meanings, `fix`'s
//! outcomes; the rest are sysexits(3) values shared by every command.

use std::process::ExitCode;

use crate::diagnosis::Health;
use crate::fix::Outcome;

/// Why the process ends. Several variants share a number: each command documents its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: `diagnose` green, `fix` done and verified, `--help` / `--version`.
    Success,
    /// 1: `diagnose` yellow (Nagios WARNING).
    Yellow,
    /// 2: `diagnose` red (Nagios CRITICAL).
    Red,
    /// 3: `diagnose` gray, the state is unknown (Nagios UNKNOWN).
    Gray,
    /// 1: `fix` failed; the change is not in place (the backup was put back where needed).
    FixFailed,
    /// 2: `fix` refused before changing anything.
    FixRefused,
    /// 3: `fix` not confirmed: the plan was printed, nothing changed (pass `--yes`).
    FixNotConfirmed,
    /// 4: another fix is running; nothing changed.
    FixBusy,
    /// 64, EX_USAGE: input we could not use (a bad flag value, an unreadable `--ca-file`).
    Usage,
    /// 69, EX_UNAVAILABLE: the menu-bar app cannot run here (no display, no tray library).
    Unavailable,
    /// 70, EX_SOFTWARE: an internal error.
    Internal,
    /// 75, EX_TEMPFAIL: the menu-bar app is already running (try again once it has quit).
    AlreadyRunning,
}

impl Exit {
    /// Every variant, for the README check.
    pub const ALL: [Exit; 12] = [
        Exit::Success,
        Exit::Yellow,
        Exit::Red,
        Exit::Gray,
        Exit::FixFailed,
        Exit::FixRefused,
        Exit::FixNotConfirmed,
        Exit::FixBusy,
        Exit::Usage,
        Exit::Unavailable,
        Exit::Internal,
        Exit::AlreadyRunning,
    ];

    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Yellow | Exit::FixFailed => 1,
            Exit::Red | Exit::FixRefused => 2,
            Exit::Gray | Exit::FixNotConfirmed => 3,
            Exit::FixBusy => 4,
            Exit::Usage => 64,
            Exit::Unavailable => 69,
            Exit::Internal => 70,
            Exit::AlreadyRunning => 75,
        }
    }

    /// `diagnose`'s status for a verdict.
    pub fn health(h: Health) -> Exit {
        match h {
            Health::Green => Exit::Success,
            Health::Yellow => Exit::Yellow,
            Health::Red => Exit::Red,
            Health::Gray => Exit::Gray,
        }
    }

    /// `fix`'s status for how the run ended.
    pub fn fix(o: Outcome) -> Exit {
        match o {
            Outcome::Done => Exit::Success,
            Outcome::Failed => Exit::FixFailed,
            Outcome::Refused => Exit::FixRefused,
            Outcome::Planned => Exit::FixNotConfirmed,
            Outcome::Busy => Exit::FixBusy,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_documented_ones() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 1, 2, 3, 4, 64, 69, 70, 75]);
        let health: Vec<u8> = [Health::Green, Health::Yellow, Health::Red, Health::Gray]
            .into_iter()
            .map(|h| Exit::health(h).code())
            .collect();
        assert_eq!(health, [0, 1, 2, 3]);
        assert_eq!(Exit::fix(Outcome::Done).code(), 0);
        assert_eq!(Exit::fix(Outcome::Busy).code(), 4);
    }
}
