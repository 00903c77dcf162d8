//! Renderings for monitoring: the plugin line's exit statuses, and the Prometheus text
//! accepted by Prometheus's own checker (`promtool`, from Debian's `prometheus` package).

use crate::support::fake::serve_doctor;
use crate::support::node::{HealthyNode, healthy_node};

/// `promtool`, or `None` outside CI where the package is not installed (CI installs it, and
/// there its absence is a failure).
fn promtool() -> Option<&'static str> {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("promtool is missing (apt-get install prometheus)");
    }
    found.then_some("promtool")
}

#[tokio::test(flavor = "multi_thread")]
async fn nagios_exit_statuses_and_a_prometheus_textfile_promtool_accepts() {
    let HealthyNode {
        sc,
        backend,
        tls: _tls,
        args,
    } = healthy_node().await;
    let mut base = vec!["diagnose"];
    base.extend(args.iter().map(String::as_str));
    let run = |extra: &'static [&'static str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        let sc = &sc;
        async move { serve_doctor(sc, &a).await }
    };
    let o = run(&["--format", "nagios"]).await;
    let first = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(first.starts_with("SERVE-DOCTOR OK - healthy: "), "{first}");
    assert!(first.contains(" | 'chain'="), "{first}");
    assert_eq!(o.status.code(), Some(0));

    let file = sc.path().join("textfile").join("serve_doctor.prom");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let o = serve_doctor(
        &sc,
        &[
            &base[..],
            &["--format", "prometheus", "--output", file.to_str().unwrap()],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "written to the file, not stdout");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("serve_doctor_cause{target=\"local\",cause=\"healthy\"} 1"),
        "{text}"
    );
    if let Some(tool) = promtool() {
        let check = std::process::Command::new(tool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }

    // Red: the backend gone: CRITICAL and exit 2.
    drop(backend);
    let o = run(&["--format", "nagios"]).await;
    let first = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        first.starts_with("SERVE-DOCTOR CRITICAL - backend_down: "),
        "{first}"
    );
    assert_eq!(o.status.code(), Some(2));
}

/// The README's YAML block whose first line is `# NAME`.
fn readme_yaml(name: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find(&format!("```yaml\n# {name}\n"))
        .unwrap_or_else(|| panic!("README has no {name} block"))
        + "```yaml\n".len();
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_string()
}

#[test]
fn the_readme_scrape_config_and_alert_rule_pass_promtool() {
    let Some(tool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, what) in [
        ("prometheus.yml", "config"),
        ("serve_doctor.rules.yml", "rules"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, readme_yaml(name)).unwrap();
        let o = std::process::Command::new(tool)
            .args(["check", what])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool check {what} {name}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
