//! Helpers shared by the integration tests: real TLS/HTTP peers and the fake `tailscale` CLI.
#![allow(dead_code)]

pub mod fake;
pub mod localapi;
pub mod node;
pub mod schema;
pub mod tls;
