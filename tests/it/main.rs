//! Integration tests: one crate, shared helpers in `support` (fake `tailscale`, TLS peers).

mod support;

mod diagnose;
mod endpoints;
mod exporter;
mod fix;
mod hostile;
mod localapi;
mod monitoring;
#[cfg(feature = "tray")]
mod packaging;
mod probe;
mod readme;
mod remote;
mod route;
mod ssh;
mod targets;
mod trust;
