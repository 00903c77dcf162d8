//! Where monitoring runs: a real Prometheus scraping the exporter's `/probe` on the bench, and
//! the headless build (no tray feature) diagnosing the bench from a root filesystem that holds
//! nothing but that binary and the libraries it links.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::harness::{SERVER, bench, repo};

/// A process of the scenario, killed with its process group when the scenario ends, however
/// it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

fn spawn_logged(mut c: Command, log: &Path) -> Guard {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log).unwrap();
    c.stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0);
    Guard(c.spawn().unwrap_or_else(|e| panic!("{c:?}: {e}")))
}

/// Prometheus's HTTP API, from inside the namespace: the `cause` labels of
/// `serve_doctor_cause{target="local"}` now.
fn causes(b: &crate::harness::Bench, prom: &str) -> Vec<String> {
    let o = b
        .in_ns("curl")
        .args(["-sS", "--max-time", "5", "-G"])
        .arg(format!("http://{prom}/api/v1/query"))
        .args([
            "--data-urlencode",
            "query=serve_doctor_cause{target=\"local\"}",
        ])
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|s| s["metric"]["cause"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_the_cause_through_the_exporter_https_off_then_healthy() {
    let Some(b) = bench() else { return };
    b.admin("certs?on=0");
    b.wait("CertDomains to empty", 20, || {
        b.status(SERVER)["CertDomains"].is_null()
    });
    let work = b.dir.join("prometheus");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    let mut ex = b.in_ns(env!("CARGO_BIN_EXE_serve-doctor"));
    ex.args(["exporter", "--listen", "127.0.0.1:0", "--cache", "0.5"])
        .args(b.route_args(SERVER, crate::harness::Route::Api))
        .env("HOME", &b.home)
        .env("XDG_CONFIG_HOME", b.home.join(".config"));
    let ex_log = work.join("exporter.log");
    let _exporter = spawn_logged(ex, &ex_log);
    let mut addr = String::new();
    b.wait("the exporter to listen", 20, || {
        let log = std::fs::read_to_string(&ex_log).unwrap_or_default();
        if let Some(l) = log
            .lines()
            .find_map(|l| l.strip_prefix("serve-doctor exporter: listening on http://"))
        {
            addr = l.split('/').next().unwrap_or_default().to_string();
        }
        !addr.is_empty()
    });

    // Prometheus as people configure it for a multi-target exporter: the target's name as a
    // parameter of the scrape.
    let config = work.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
             - job_name: serve\n    metrics_path: /probe\n    params:\n      target: [local]\n    \
             static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    // The namespace is the bench's own: nothing else listens on its loopback.
    let prom = "127.0.0.1:19090";
    let mut p = b.in_ns("prometheus");
    p.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            work.join("data").display()
        ))
        .arg(format!("--web.listen-address={prom}"));
    let _prometheus = spawn_logged(p, &work.join("prometheus.log"));

    b.wait("Prometheus to see https_disabled", 60, || {
        causes(&b, prom) == ["https_disabled"]
    });
    b.admin("certs?on=1");
    b.wait("Prometheus to see healthy", 60, || {
        causes(&b, prom) == ["healthy"]
    });
    // The exporter's own page has the same result, and the scrapes were answered.
    let o = b
        .in_ns("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://{addr}/metrics"))
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&o.stdout);
    assert!(
        metrics.contains("serve_doctor_health{target=\"local\"} 0"),
        "{metrics}"
    );
}

/// The shared libraries `bin` links, as `ldd` resolves them (the vDSO has no file).
fn linked(bin: &Path) -> Vec<PathBuf> {
    let o = Command::new("ldd").arg(bin).output().expect("ldd");
    assert!(o.status.success(), "ldd {}", bin.display());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

const DESKTOP_LIBS: [&str; 7] = [
    "libgtk",
    "libgdk",
    "libX11",
    "libxcb",
    "libdbus",
    "appindicator",
    "libxdo",
];

fn desktop_libs(libs: &[PathBuf]) -> Vec<String> {
    libs.iter()
        .map(|p| p.display().to_string())
        .filter(|p| DESKTOP_LIBS.iter().any(|d| p.contains(d)))
        .collect()
}

/// The headless build (`--no-default-features`), built by cargo now if it is not fresh.
fn headless_binary() -> PathBuf {
    let dir = repo().join("target/headless");
    let o = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "--release",
            "--no-default-features",
            "--bin",
            "serve-doctor",
        ])
        .arg("--target-dir")
        .arg(&dir)
        .current_dir(repo())
        .output()
        .expect("cargo");
    assert!(
        o.status.success(),
        "building the headless binary: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    dir.join("release/serve-doctor")
}

#[test]
fn the_headless_build_links_no_desktop_library_and_diagnoses_from_a_bare_root() {
    let Some(b) = bench() else { return };
    let desktop = linked(Path::new(env!("CARGO_BIN_EXE_serve-doctor")));
    assert!(
        desktop_libs(&desktop).len() >= 3,
        "the desktop build links the tray's libraries (else this test proves nothing): {desktop:?}"
    );
    let bin = headless_binary();
    let libs = linked(&bin);
    assert_eq!(desktop_libs(&libs), Vec::<String>::new(), "{libs:?}");

    // A root with the binary, what ldd says it needs, Pebble's root and an empty socket dir.
    let root = b.dir.join("headless-root");
    let _ = std::fs::remove_dir_all(&root);
    let put = |from: &Path, to: &Path| {
        let dest = root.join(to.strip_prefix("/").unwrap_or(to));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    };
    put(&bin, Path::new("/bin/serve-doctor"));
    for lib in &libs {
        put(lib, lib);
    }
    put(&b.pebble_root(), Path::new("/ca.pem"));
    for d in ["run/ts", "tmp", "home"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let files: Vec<String> = walk(&root);
    assert!(files.len() <= libs.len() + 2, "{files:?}");
    assert_eq!(
        desktop_libs(&files.iter().map(PathBuf::from).collect::<Vec<_>>()),
        Vec::<String>::new()
    );

    // Inside the namespace, in a mount namespace of its own (gone when it exits), the node's
    // socket directory bound into the root, then chroot: only the root's files exist.
    let sock_dir = b.socket(SERVER).parent().unwrap().to_path_buf();
    let sock_name = b
        .socket(SERVER)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let o = b
        .in_ns("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount --bind \"$1\" \"$2/run/ts\" && exec env -i HOME=/home \"$(command -v chroot)\" \"$2\" \
             /bin/serve-doctor diagnose --json --socket \"/run/ts/$3\" --ca-file /ca.pem",
        )
        .args(["sh"])
        .arg(&sock_dir)
        .arg(&root)
        .arg(&sock_name)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    crate::schema::check(&v);
    assert_eq!(v["cause"], "healthy", "{}", crate::harness::brief(&v));
    assert_eq!(o.status.code(), Some(0));
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}
