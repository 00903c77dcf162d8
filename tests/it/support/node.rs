//! A healthy node as the integration tests make it: the fake CLI's healthy scenario, a real TLS
//! endpoint with a test CA's certificate for the node's name, a real backend, and the flags that
//! aim a run at them.

use super::fake::Scenario;
use super::tls::{Peer, TestCa, http_backend, tls_peer};

pub struct HealthyNode {
    pub sc: Scenario,
    pub tls: Peer,
    /// Drop it to take the backend down.
    pub backend: Peer,
    /// `--tailscale <fake> --connect <tls> --ca-file <the CA>`.
    pub args: Vec<String>,
}

impl HealthyNode {
    pub fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

pub async fn healthy_node() -> HealthyNode {
    let ca = TestCa::new();
    let backend = http_backend(200).await;
    let tls = tls_peer(ca.leaf("box.tail1234.ts.net", 60), 200).await;
    let sc = Scenario::new();
    sc.status("healthy").serve("healthy", backend.addr().port());
    let ca_file = sc.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let args = vec![
        "--tailscale".to_string(),
        sc.cli().display().to_string(),
        "--connect".into(),
        tls.addr_str(),
        "--ca-file".into(),
        ca_file.display().to_string(),
    ];
    HealthyNode {
        sc,
        tls,
        backend,
        args,
    }
}
