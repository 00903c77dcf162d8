//! Integration tests: one crate, shared helpers in `support` (fake `tailscale`, TLS peers).

mod support;

mod diagnose;
mod endpoints;
mod fix;
mod hostile;
mod localapi;
mod monitoring;
mod packaging;
mod probe;
mod readme;
mod remote;
mod route;
mod ssh;
mod targets;
