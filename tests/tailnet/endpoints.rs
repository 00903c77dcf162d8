//! Every endpoint of a real serve config on the real daemon: several ports and mounts, a TCP
//! forward, Funnel; and an `https://` backend serve refuses for its certificate.

use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::json;

use crate::harness::{Bench, ROUTES, SERVER, SERVER_NAME, bench, brief};

fn endpoint<'a>(v: &'a serde_json::Value, url: &str) -> &'a serde_json::Value {
    v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == url)
        .unwrap_or_else(|| panic!("no endpoint {url}: {}", brief(v)))
}

fn multi(api_port: u16) -> serde_json::Value {
    json!({
        "TCP": {"443": {"HTTPS": true}, "8443": {"HTTPS": true}, "2222": {"TCPForward": "127.0.0.1:18080"}},
        "Web": {
            format!("{SERVER_NAME}:443"): {"Handlers": {
                "/": {"Proxy": "http://127.0.0.1:18080"},
                "/api/": {"Proxy": format!("http://127.0.0.1:{api_port}")}}},
            format!("{SERVER_NAME}:8443"): {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}
        },
        "AllowFunnel": {format!("{SERVER_NAME}:443"): true}
    })
}

#[test]
fn every_endpoint_of_a_multi_port_config_with_funnel() {
    let Some(b) = bench() else { return };
    // /api/ proxies to a port nothing listens on: serve answers 502 for that path only.
    b.set_serve_config(&multi(18999));
    for route in ROUTES {
        let (code, v) = b.diagnose(route, &["--full"]);
        assert_eq!(v["cause"], "endpoint_failing", "{route:?}: {}", brief(&v));
        assert_eq!(code, 2);
        let api = endpoint(&v, &format!("https://{SERVER_NAME}/api/"));
        assert_eq!(api["status"], "fail", "{api:#}");
        assert!(api["summary"].as_str().unwrap().contains("502"), "{api:#}");
        for url in [
            format!("https://{SERVER_NAME}:8443/"),
            format!("tcp://{SERVER_NAME}:2222"),
        ] {
            assert_eq!(endpoint(&v, &url)["status"], "pass", "{url}: {}", brief(&v));
        }
        let main = endpoint(&v, &format!("https://{SERVER_NAME}/"));
        assert_eq!(main["public"], true);
    }

    // /api/ fixed: what is left is Funnel on a node that lacks the funnel attribute (control
    // grants HTTPS only).
    b.admin("caps?host=server&set=https");
    b.wait("the funnel attribute gone", 30, || {
        b.status(SERVER)["Self"]["CapMap"]
            .as_object()
            .is_some_and(|m| !m.contains_key("funnel") && m.contains_key("https"))
    });
    b.set_serve_config(&multi(18080));
    let v = b.expect_cause(ROUTES, &[], "endpoint_degraded", 1);
    let main = endpoint(&v, &format!("https://{SERVER_NAME}/"));
    assert!(
        main["summary"]
            .as_str()
            .unwrap()
            .contains("\"funnel\" node attribute"),
        "{main:#}"
    );

    // The attribute and the port granted by control: every endpoint answers, green.
    b.admin("caps?host=server&set=https,funnel,https://tailscale.com/cap/funnel-ports?ports=443");
    b.wait("the funnel attribute", 30, || {
        b.status(SERVER)["Self"]["CapMap"]
            .as_object()
            .is_some_and(|m| m.contains_key("funnel"))
    });
    let v = b.expect_cause(ROUTES, &[], "healthy", 0);
    assert_eq!(v["endpoints"].as_array().unwrap().len(), 4, "{}", brief(&v));
}

/// `openssl s_server` inside the namespace on 127.0.0.1:18443 with a certificate for
/// "localhost" only (no IP SAN): what a local dev server with its own certificate looks like.
struct TlsBackend(Child);

impl TlsBackend {
    fn start(b: &Bench) -> TlsBackend {
        let dir = b.node_dir(SERVER).join("tls-backend");
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "30", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl req");
        let child = b
            .in_ns("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                "127.0.0.1:18443",
                "-cert",
            ])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let backend = TlsBackend(child);
        b.wait("openssl s_server on 127.0.0.1:18443", 10, || {
            b.in_ns("bash")
                .args(["-c", "exec 3<>/dev/tcp/127.0.0.1/18443"])
                .status()
                .is_ok_and(|s| s.success())
        });
        backend
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn https_backend_without_an_ip_san_gets_502_from_serve_and_the_insecure_fix_works() {
    let Some(b) = bench() else { return };
    let _backend = TlsBackend::start(&b);
    b.ts_ok(SERVER, &["serve", "reset"]);
    b.ts_ok(SERVER, &["serve", "--bg", "https://127.0.0.1:18443"]);
    let v = b.expect_cause(ROUTES, &["--full"], "backend_cert_rejected", 2);
    // serve itself refused the backend: the request through it got 502.
    let via = crate::harness::check(&v, "serve_proxy");
    assert!(via["detail"].as_str().unwrap().contains("502"), "{via}");
    let fix = v["fixes"][0]["command"].as_str().unwrap().to_string();
    assert!(
        fix.ends_with("serve --bg --https=443 https+insecure://127.0.0.1:18443"),
        "{fix}"
    );
    // The printed fix, as the user would run it, makes it green.
    b.ts_ok(
        SERVER,
        &[
            "serve",
            "--bg",
            "--https=443",
            "https+insecure://127.0.0.1:18443",
        ],
    );
    b.expect_cause(ROUTES, &[], "healthy", 0);
}

/// The relay: a listener in this (the test's) network namespace that pumps each connection to
/// `to` inside the bench's namespace through a `python3` started there per connection — this
/// machine's view of the node's listener, from outside tailscaled's namespace.
const RELAY: &str = r#"
import socket, subprocess, sys, threading
ns, host, port = sys.argv[1], sys.argv[2], sys.argv[3]
pump = f"""
import socket, sys, threading
s = socket.create_connection(({host!r}, {port}))
def up():
    while True:
        d = sys.stdin.buffer.read1(65536)
        if not d:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(d)
threading.Thread(target=up, daemon=True).start()
while True:
    d = s.recv(65536)
    if not d:
        break
    sys.stdout.buffer.write(d)
    sys.stdout.buffer.flush()
# Leave at once: the reading thread may still hold stdin, which a normal shutdown would wait on.
import os
os._exit(0)
"""
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
print(l.getsockname()[1], flush=True)
def handle(c):
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", pump],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    def up():
        while True:
            d = c.recv(65536)
            if not d:
                p.stdin.close()
                return
            p.stdin.write(d)
            p.stdin.flush()
    threading.Thread(target=up, daemon=True).start()
    while True:
        d = p.stdout.read1(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
    p.kill()
while True:
    c, _ = l.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// The running relay; dropping it stops it.
struct Relay(Child, u16);

impl Relay {
    fn start(b: &Bench, host: &str, port: u16) -> Relay {
        use std::io::BufRead;
        // The system's Python, not a version-manager shim: one starts per relayed connection.
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let mut child = std::process::Command::new(python)
            .args(["-c", RELAY, b.ns(), host, &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap();
        Relay(child, port)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_502_for_a_backend_only_this_machine_reaches() {
    let Some(b) = bench() else { return };
    // The app runs in this machine's namespace on 127.0.0.1; tailscaled lives in another one,
    // where that address has nothing: the classic "tailscaled in a container" split.
    let app = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app_port = app.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in app.incoming().flatten() {
            use std::io::{Read, Write};
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    b.ts_ok(SERVER, &["serve", "reset"]);
    b.ts_ok(
        SERVER,
        &["serve", "--bg", &format!("http://127.0.0.1:{app_port}")],
    );
    // The node's address now (a scenario that logs it in again may have given it a new one).
    let ip = b.server_ip();
    let relay = Relay::start(&b, &ip, 443);
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_serve-doctor"))
        .args(["diagnose", "--json", "--socket"])
        .arg(b.socket(SERVER))
        .arg("--ca-file")
        .arg(b.pebble_root())
        // Each connection through the relay starts a Python in the namespace: give the
        // handshake time for that on a busy machine.
        .args([
            "--connect",
            &format!("127.0.0.1:{}", relay.1),
            "--full",
            "--timeout",
            "20",
        ])
        .env("HOME", b.node_dir(SERVER).join("home-outside"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["cause"], "serve_proxy_failing", "{}", brief(&v));
    assert_eq!(crate::harness::check(&v, "backend")["status"], "pass");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("another network namespace"),
        "{}",
        brief(&v)
    );
}
