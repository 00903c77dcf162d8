//! Serve Doctor: diagnose `tailscale serve` over HTTPS, from a menu-bar app or a terminal.
//!
//! Rooms, with data flowing one way: [`tailscale`] (find and run the CLI, models of its JSON) →
//! [`probe`] (TCP/TLS/HTTP evidence) → [`diagnosis`] (pure rules) → [`report`] (text, JSON,
//! Markdown) → the binary's `cli` and `tray`. [`engine`] is the conductor that gathers evidence
//! concurrently and stops as soon as the verdict is certain.
#![forbid(unsafe_code)]

pub mod config;
pub mod diagnosis;
pub mod engine;
pub mod errors;
pub mod exit;
pub mod exporter;
pub mod fix;
pub mod instance;
pub mod logging;
pub mod platform;
pub mod probe;
pub mod report;
pub mod settings;
pub mod shell;
pub mod tailscale;
pub mod targets;
#[cfg(feature = "tray")]
pub mod tray;
pub mod tunnel;
pub mod values;
