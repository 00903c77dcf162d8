//! The system trust store as the real binary reads it, with `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! standing in for Linux's `/etc/ssl/certs` (no `--ca-file`): a certificate that chains to the
//! bundle file is answered from the file alone, and one that chains only to a root in the
//! directory must still be trusted, as the whole store trusts it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::fake::{assert_no_fake_left, check};
use crate::support::node::{HealthyNode, healthy_node};
use crate::support::tls::TestCa;

/// `diagnose --json` at the healthy node without its `--ca-file`, the store given by `env`.
async fn diagnose_with_store(node: &HealthyNode, env: &[(&str, &Path)]) -> Value {
    let mut args = vec!["diagnose", "--json", "--timeout", "5"];
    // The node's flags except `--ca-file <path>`: the store is the system's here.
    let mut flags = node.args().into_iter();
    while let Some(flag) = flags.next() {
        match flag {
            "--ca-file" => drop(flags.next()),
            _ => args.push(flag),
        }
    }
    let home = node.sc.path().join("home");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_serve-doctor"));
    cmd.args(&args)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let out = cmd.output().await.unwrap();
    assert_no_fake_left(&node.sc).await;
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

/// The node's CA file, which signed its certificate.
fn node_ca(node: &HealthyNode) -> PathBuf {
    node.sc.path().join("ca.pem")
}

/// `dir/name` holding a CA that signed nothing of the node's.
fn other_ca(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, TestCa::new().pem()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_root_in_the_bundle_file_is_trusted() {
    let node = healthy_node().await;
    let v = diagnose_with_store(&node, &[("SSL_CERT_FILE", &node_ca(&node))]).await;
    assert_eq!(v["cause"], "healthy", "{v:#}");
    assert_eq!(check(&v, "tls_handshake")["status"], "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_root_only_in_the_directory_is_trusted_too() {
    let node = healthy_node().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(node_ca(&node), dir.join("node.pem")).unwrap();
    let bundle = other_ca(tmp.path(), "bundle.pem");
    let v = diagnose_with_store(&node, &[("SSL_CERT_FILE", &bundle), ("SSL_CERT_DIR", &dir)]).await;
    assert_eq!(v["cause"], "healthy", "{v:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_root_in_the_directory_alone_is_trusted() {
    let node = healthy_node().await;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(node_ca(&node), tmp.path().join("node.pem")).unwrap();
    let v = diagnose_with_store(&node, &[("SSL_CERT_DIR", tmp.path())]).await;
    assert_eq!(v["cause"], "healthy", "{v:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_root_in_neither_is_not_trusted() {
    let node = healthy_node().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    other_ca(&dir, "other.pem");
    let bundle = other_ca(tmp.path(), "bundle.pem");
    let v = diagnose_with_store(&node, &[("SSL_CERT_FILE", &bundle), ("SSL_CERT_DIR", &dir)]).await;
    let tls = check(&v, "tls_handshake");
    assert_eq!(tls["status"], "fail", "{v:#}");
    assert!(
        tls["detail"].as_str().unwrap().contains("issuer"),
        "{tls:#}"
    );
}
