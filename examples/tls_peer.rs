//! A stand-in for a healthy `tailscale serve` endpoint, for the tray's end-to-end test and demos:
//!
//! ```sh
//! cargo run --example tls_peer -- box.tail1234.ts.net /tmp/ca.pem
//! # prints: tls=127.0.0.1:PORT backend=127.0.0.1:PORT
//! ```
//!
//! It writes a throwaway CA to the given PEM file (pass it as `--ca-file`), serves a certificate
//! for the name signed by it on one port (pass it as `--connect`), and a plain HTTP backend on
//! another (point the fake's `serve.json` at it). Both answer every request with 200. It runs
//! until killed. The peers are the integration tests' own (`tests/it/support/tls.rs`), so the
//! test and the demo exercise the same servers.

#[allow(dead_code)]
#[path = "../tests/it/support/tls.rs"]
mod tls;

use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(name), Some(ca_out)) = (args.next(), args.next()) else {
        return Err("usage: tls_peer DNS_NAME CA_PEM_OUT".into());
    };
    let ca = tls::TestCa::new();
    std::fs::write(&ca_out, ca.pem())?;
    let peer = tls::tls_peer(ca.leaf(&name, 90), 200).await;
    let backend = tls::http_backend(200).await;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "tls={} backend={}",
        peer.addr_str(),
        backend.addr_str()
    )?;
    out.flush()?;
    drop(out);
    std::future::pending::<()>().await;
    Ok(())
}
