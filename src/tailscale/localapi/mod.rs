//! Talking to tailscaled directly over its LocalAPI, the way the Tailscale CLI does.
//!
//! Why: on macOS the GUI binary that doubles as the CLI fails when started from a login item
//! or Finder (docs/TAILSCALE.md#the-cli), and polling a CLI every 30 s lags behind reality. The
//! daemon's local HTTP API has neither problem and can push changes (`watch-ipn-bus`).
//!
//! - [`discover`]: where the daemon listens, in the CLI's order (`--socket`, macOS App Store,
//!   macOS Standalone, the default socket).
//! - [`client`]: the requests ([`LocalApi`]) with exactly the headers the daemon requires.
//! - [`notify`]: the tolerant model of the `ipn.Notify` objects on the bus.
//!
//! Like the rest of the `tailscale` room this only reads and reports; it never judges.
//! The token of the TCP routes is a [`Secret`]: it prints as `***` and cannot be serialised.

pub mod client;
pub mod discover;
pub mod notify;

use std::fmt;
use std::path::PathBuf;

pub use client::{IpnBus, LocalApi, LocalApiError, QueryFeature};
pub use discover::{Discovery, LsofError, Roots, Via, discover, parse_lsof};
pub use notify::{Notify, TRAY_MASK};

/// A credential that must never reach a log, a report or a panic message.
///
/// `Debug` and `Display` print `***`; there is deliberately no `Serialize`. Read it only where
/// it goes on the wire, through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the daemon's LocalAPI listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The open-source daemon's unix socket (or one given with `--socket`). No auth: the daemon
    /// identifies the caller by its peer credentials.
    Unix(PathBuf),
    /// The macOS GUI variants' listener on `127.0.0.1:port`, which wants the token as the
    /// password of HTTP Basic auth.
    Tcp { port: u16, token: Secret },
}

impl fmt::Display for Endpoint {
    /// For reports and errors: says where, never the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix socket {}", path.display()),
            Endpoint::Tcp { port, .. } => write!(f, "127.0.0.1:{port} (token auth)"),
        }
    }
}
