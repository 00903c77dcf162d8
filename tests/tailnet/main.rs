//! Serve Doctor against the real `tailscaled` and `tailscale` CLI: a tailnet on loopback in a
//! network namespace (Tailscale's test control server, Pebble as the ACME CA, a real backend),
//! brought up once for this binary by `tests/tailnet/bench.sh`. See docs/TAILNET.md for what was
//! seen there.

mod harness;
#[path = "../it/support/schema.rs"]
mod schema;

mod diagnose;
mod endpoints;
mod fix;
mod monitoring;
mod remote;
mod ssh;
