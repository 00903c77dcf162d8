//! Integration tests: one crate, shared helpers in `support` (fake `tailscale`, TLS peers).

mod support;

mod diagnose;
mod endpoints;
mod fix;
mod localapi;
mod packaging;
mod probe;
mod readme;
mod remote;
mod route;
