//! The LocalAPI route: discovery on temp directories standing in for the macOS locations, and
//! every client call against the fake daemon over both transports.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serve_doctor::tailscale::BackendState;
use serve_doctor::tailscale::localapi::{
    Endpoint, LocalApi, LocalApiError, Notify, Roots, Secret, TRAY_MASK, Via, discover,
};

use crate::support::localapi::{
    FakeDaemon, Transport, compact, fixture, sha256_hex, write_standalone_files,
};

const T: Duration = Duration::from_secs(5);

/// `lsof -n -a -u501 -c IPNExtension -F` on a Mac running the App Store app (every standard
/// field per file; the proof file is fd 3, the LocalAPI listener fd 4).
const RECORDED_LSOF: &str = "p812\ng812\nR1\ncIPNExtension\nu501\nLalice\n\
fcwd\na \nl \ntDIR\nD0x1000011\ns640\ni2\nn/\n\
ftxt\na \nl \ntREG\nD0x1000011\ns19456336\ni1234567\n\
n/Applications/Tailscale.app/Contents/PlugIns/IPNExtension.appex/Contents/MacOS/IPNExtension\n\
f3\nau\nl \ntREG\nD0x1000011\ns0\ni9876543\n\
n/Users/alice/Library/Group Containers/W5364U7YZB.io.tailscale.ipn.macos/sameuserproof-{PORT}-{TOKEN}\n\
f4\nau\nl \ntIPv4\nd0x9f3c1b2e8a7d6c5b\no0t0\nPTCP\nn127.0.0.1:{PORT}\nTST=LISTEN\nTQR=0\nTQS=0\n";

fn recorded_lsof(port: u16, token: &str) -> String {
    RECORDED_LSOF
        .replace("{PORT}", &port.to_string())
        .replace("{TOKEN}", token)
}

/// A stand-in `lsof` that records its arguments in `<dir>/lsof-args` and prints `stdout`.
fn fake_lsof(dir: &Path, stdout: &str, code: i32) -> PathBuf {
    let output = dir.join("lsof-output");
    std::fs::write(&output, stdout).unwrap();
    let args = dir.join("lsof-args");
    let script = dir.join("lsof");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" > '{}'\ncat '{}'\nexit {code}\n",
            args.display(),
            output.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread forking while the script was open for writing makes exec fail with
    // ETXTBSY for a moment; run it once here until it starts.
    for _ in 0..100 {
        match std::process::Command::new(&script).output() {
            Err(e) if e.kind() == ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => break,
        }
    }
    let _ = std::fs::remove_file(&args);
    script
}

fn lsof_args(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("lsof-args"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// A port where nothing listens (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn tcp_endpoint(fake: &FakeDaemon) -> Endpoint {
    Endpoint::Tcp {
        port: fake.port(),
        token: Secret::new(fake.token()),
    }
}

fn clients(fake: &FakeDaemon) -> [(Transport, LocalApi); 2] {
    [
        (Transport::Unix, fake.unix_client(T)),
        (Transport::Tcp, fake.tcp_client(T)),
    ]
}

// ---------------------------------------------------------------------------------------------
// Discovery

#[tokio::test]
async fn app_store_is_found_through_recorded_lsof_output_and_answers() {
    let fake = FakeDaemon::start().await;
    let tools = tempfile::tempdir().unwrap();
    let lsof = fake_lsof(tools.path(), &recorded_lsof(fake.port(), fake.token()), 0);
    let roots = Roots {
        lsof: Some(lsof),
        uid: 501,
        ..fake.macos_roots()
    };

    let found = discover(None, &roots).await;
    // The Standalone files and the socket are there too: the App Store comes first.
    assert_eq!(found.via, Via::AppStore);
    assert_eq!(found.endpoint, tcp_endpoint(&fake));
    assert!(found.notes.is_empty(), "{:?}", found.notes);
    assert_eq!(
        lsof_args(tools.path()).as_deref(),
        Some("-n -a -u501 -c IPNExtension -F")
    );

    let status = LocalApi::new(found.endpoint, T).status().await.unwrap();
    assert_eq!(status.backend_state, BackendState::Running);
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn lsof_finding_no_extension_falls_through_to_standalone() {
    let fake = FakeDaemon::start().await;
    let tools = tempfile::tempdir().unwrap();
    // What lsof does when no process matches: nothing on stdout, exit 1.
    let roots = Roots {
        lsof: Some(fake_lsof(tools.path(), "", 1)),
        ..fake.macos_roots()
    };
    let found = discover(None, &roots).await;
    assert_eq!(found.via, Via::Standalone);
    assert_eq!(found.endpoint, tcp_endpoint(&fake));
    assert_eq!(found.notes.len(), 1);
    assert!(
        found.notes[0].starts_with("App Store: no IPNExtension process"),
        "{:?}",
        found.notes
    );

    // lsof output with a proof file whose port is not a number: the step gives up, like the CLI.
    let bad = recorded_lsof(fake.port(), fake.token()).replace(
        &format!("sameuserproof-{}-", fake.port()),
        "sameuserproof-x-",
    );
    let roots = Roots {
        lsof: Some(fake_lsof(tools.path(), &bad, 0)),
        ..fake.macos_roots()
    };
    let found = discover(None, &roots).await;
    assert_eq!(found.via, Via::Standalone);
    assert!(
        found.notes[0].contains("invalid port \"x\""),
        "{:?}",
        found.notes
    );
}

#[tokio::test]
async fn standalone_is_found_through_its_files_and_a_live_listener() {
    let fake = FakeDaemon::start().await;
    let found = discover(None, &fake.macos_roots()).await;
    assert_eq!(found.via, Via::Standalone);
    // The token file ends with a newline; the token does not.
    assert_eq!(found.endpoint, tcp_endpoint(&fake));
    let status = LocalApi::new(found.endpoint, T).status().await.unwrap();
    assert_eq!(status.dns_name(), Some("box.tail1234.ts.net"));
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn stale_standalone_files_fall_through_to_the_socket() {
    let fake = FakeDaemon::start().await;
    // The app was switched off long ago: its files point to a port nobody listens on.
    let port = closed_port();
    write_standalone_files(
        &fake.root().join("Library/Tailscale"),
        &port.to_string(),
        "0123456789abcdef0123\n",
    );
    let started = Instant::now();
    let found = discover(None, &fake.macos_roots()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the test dial is bounded"
    );
    assert_eq!(found.via, Via::DefaultSocket);
    assert_eq!(found.endpoint, Endpoint::Unix(fake.socket().to_path_buf()));
    assert_eq!(found.notes.len(), 1, "{:?}", found.notes);
    assert!(
        found.notes[0].contains(&format!("127.0.0.1:{port} is not accepting connections")),
        "{:?}",
        found.notes
    );
    // The socket route works, and no token went anywhere.
    LocalApi::new(found.endpoint, T).status().await.unwrap();
    assert!(!format!("{:?}", found.notes).contains("0123456789abcdef0123"));
}

#[tokio::test]
async fn missing_or_empty_standalone_files_are_noted_and_skipped() {
    let root = tempfile::tempdir().unwrap();
    let roots = Roots {
        lsof: None,
        ..Roots::macos(root.path())
    };
    let found = discover(None, &roots).await;
    assert_eq!(found.via, Via::DefaultSocket);
    assert_eq!(
        found.endpoint,
        Endpoint::Unix(root.path().join("var/run/tailscaled.socket"))
    );
    assert!(
        found.notes[0].starts_with("Standalone: ") && found.notes[0].contains("ipnport"),
        "{:?}",
        found.notes
    );
    assert!(
        found.notes[1].starts_with("socket: none exists"),
        "{:?}",
        found.notes
    );

    write_standalone_files(&root.path().join("Library/Tailscale"), "61577", "\n");
    let found = discover(None, &roots).await;
    assert!(
        found.notes[0].contains("holds no token"),
        "{:?}",
        found.notes
    );
}

#[tokio::test]
async fn a_configured_socket_forces_the_socket_route() {
    let fake = FakeDaemon::start().await;
    let tools = tempfile::tempdir().unwrap();
    let lsof = fake_lsof(tools.path(), &recorded_lsof(fake.port(), fake.token()), 0);
    let roots = Roots {
        lsof: Some(lsof),
        ..fake.macos_roots()
    };
    let found = discover(Some(fake.socket()), &roots).await;
    assert_eq!(found.via, Via::Configured);
    assert_eq!(found.endpoint, Endpoint::Unix(fake.socket().to_path_buf()));
    assert_eq!(
        lsof_args(tools.path()),
        None,
        "lsof must not run when --socket is given"
    );
    LocalApi::new(found.endpoint, T).status().await.unwrap();
}

#[tokio::test]
async fn linux_sockets_are_tried_in_order_and_a_missing_one_is_unreachable() {
    let root = tempfile::tempdir().unwrap();
    let roots = Roots::linux(root.path());
    let found = discover(None, &roots).await;
    assert_eq!(found.via, Via::DefaultSocket);
    assert_eq!(
        found.endpoint,
        Endpoint::Unix(root.path().join("var/run/tailscale/tailscaled.sock"))
    );
    let e = LocalApi::new(found.endpoint, T).status().await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");

    // Only /run/tailscale/tailscaled.sock exists (no /var/run link).
    let run = root.path().join("run/tailscale");
    std::fs::create_dir_all(&run).unwrap();
    let _listener = tokio::net::UnixListener::bind(run.join("tailscaled.sock")).unwrap();
    let found = discover(None, &roots).await;
    assert_eq!(found.endpoint, Endpoint::Unix(run.join("tailscaled.sock")));
    assert!(found.notes.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Client calls

#[tokio::test]
async fn every_read_works_over_both_transports_with_only_the_required_headers() {
    let fake = FakeDaemon::start().await;
    for (transport, api) in clients(&fake) {
        let status = api.status().await.unwrap();
        assert_eq!(status.backend_state, BackendState::Running);
        assert_eq!(status.cert_domains, ["box.tail1234.ts.net"]);

        let (config, raw, etag) = api.serve_config().await.unwrap();
        assert_eq!(raw.as_bytes(), fake.serve_config());
        assert_eq!(etag, Some(sha256_hex(raw.as_bytes())));
        assert_eq!(config.mounts().len(), 1, "{transport:?}");

        let feature = api.query_feature("serve").await.unwrap();
        assert!(feature.complete && !feature.should_wait && feature.url.is_empty());
    }
    assert_eq!(fake.violations(), Vec::<String>::new());

    let seen = fake.seen();
    let uris: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.uri.as_str()))
        .collect();
    let one_round = [
        ("GET", "/localapi/v0/status?peers=false"),
        ("GET", "/localapi/v0/serve-config"),
        ("POST", "/localapi/v0/query-feature?feature=serve"),
    ];
    assert_eq!(uris, [one_round, one_round].concat());
    for s in &seen {
        let allowed = ["host", "authorization", "content-length"];
        assert!(
            s.header_names.iter().all(|h| allowed.contains(&h.as_str())),
            "{s:?}"
        );
        assert_eq!(
            s.header_names.contains(&"authorization".to_string()),
            s.transport == Transport::Tcp,
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn recorded_fixtures_parse_through_the_api() {
    let fake = FakeDaemon::start().await;
    let api = fake.unix_client(T);
    fake.set_status(&fixture(
        "status-https-off.json",
        r#"{"BackendState":"Running","CertDomains":null}"#,
    ));
    let status = api.status().await.unwrap();
    assert_eq!(status.backend_state, BackendState::Running);
    assert!(status.cert_domains.is_empty());

    // Never configured: the body is `null`, which is an empty config, kept verbatim.
    fake.set_serve_config(b"null");
    let (config, raw, etag) = api.serve_config().await.unwrap();
    assert!(config.is_empty());
    assert_eq!(raw, "null");
    assert_eq!(etag.as_deref(), Some(sha256_hex(b"null").as_str()));

    let multi = compact(&fixture(
        "serve-multi.json",
        r#"{"TCP":{"443":{"HTTPS":true}}}"#,
    ));
    fake.set_serve_config(&multi);
    let (_, raw, _) = api.serve_config().await.unwrap();
    assert_eq!(raw.as_bytes(), multi);
}

#[tokio::test]
async fn the_etag_round_trip_writes_and_a_stale_etag_is_refused() {
    let fake = FakeDaemon::start().await;
    for (transport, api) in clients(&fake) {
        let (_, raw, etag) = api.serve_config().await.unwrap();
        let etag = etag.unwrap();
        let ours = format!(r#"{{"TCP":{{"443":{{"HTTPS":true}}}},"Note":"{transport:?}"}}"#);

        api.set_serve_config(ours.as_bytes(), Some(&etag))
            .await
            .unwrap();
        let (_, now, new_etag) = api.serve_config().await.unwrap();
        assert_eq!(now, ours);
        assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
        // The client passes the server's ETag back verbatim.
        let posted: Vec<_> = fake
            .seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect();
        assert_eq!(
            posted.last().unwrap().if_match.as_deref(),
            Some(etag.as_str())
        );

        // Somebody else wrote in between: the old ETag no longer matches.
        let e = api
            .set_serve_config(raw.as_bytes(), Some(&etag))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            LocalApiError::PreconditionFailed {
                body: "etag mismatch".into()
            }
        );
        assert_eq!(fake.serve_config(), ours.as_bytes());

        // No ETag (or an empty one) writes unconditionally, and sends no If-Match.
        api.set_serve_config(raw.as_bytes(), None).await.unwrap();
        api.set_serve_config(raw.as_bytes(), Some(""))
            .await
            .unwrap();
        assert_eq!(fake.serve_config(), raw.as_bytes());
        let posted: Vec<_> = fake
            .seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect();
        assert!(posted.iter().rev().take(2).all(|s| s.if_match.is_none()));
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn write_refusals_and_server_errors_are_typed() {
    let fake = FakeDaemon::start().await;
    let api = fake.tcp_client(T);
    fake.deny_serve_writes(true);
    let e = api.set_serve_config(b"{}", None).await.unwrap_err();
    assert!(
        matches!(&e, LocalApiError::Denied { body, .. } if body == "serve config denied"),
        "{e:?}"
    );

    fake.deny_serve_writes(false);
    let e = api.set_serve_config(b"{not json", None).await.unwrap_err();
    assert!(
        matches!(&e, LocalApiError::Http { status: 500, body, .. } if body.contains("decoding config")),
        "{e:?}"
    );

    fake.set_status(b"<html>proxy</html>");
    let e = api.status().await.unwrap_err();
    assert!(
        matches!(&e, LocalApiError::BadJson { first_bytes, .. } if first_bytes.starts_with("<html>")),
        "{e:?}"
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn query_feature_gives_the_consent_url_without_waiting() {
    let fake = FakeDaemon::start().await;
    let api = fake.unix_client(T);
    fake.set_query_feature(
        200,
        br#"{"Text":"Serve is not enabled on your tailnet.\nTo enable, visit:\n\n         https://login.tailscale.com/f/serve?node=nT1234\n","URL":"https://login.tailscale.com/f/serve?node=nT1234","ShouldWait":true}"#,
    );
    let started = Instant::now();
    let q = api.query_feature("serve").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!q.complete && q.should_wait);
    assert_eq!(q.url, "https://login.tailscale.com/f/serve?node=nT1234");
    assert!(q.text.starts_with("Serve is not enabled"));

    fake.set_query_feature(503, b"no netmap\n");
    let e = api.query_feature("funnel").await.unwrap_err();
    assert!(
        matches!(&e, LocalApiError::Http { status: 503, body, .. } if body == "no netmap"),
        "{e:?}"
    );
    assert_eq!(
        fake.seen().last().unwrap().uri,
        "/localapi/v0/query-feature?feature=funnel"
    );
}

#[tokio::test]
async fn a_wrong_token_is_denied_like_the_daemon_does() {
    let fake = FakeDaemon::start().await;
    let api = LocalApi::new(
        Endpoint::Tcp {
            port: fake.port(),
            token: Secret::new("ffffffffffffffffffff"),
        },
        T,
    );
    let e = api.status().await.unwrap_err();
    assert!(
        matches!(&e, LocalApiError::Denied { body, .. } if body == "bad password"),
        "{e:?}"
    );
    assert_eq!(fake.violations().len(), 1);
    assert!(!format!("{e:?} {e}").contains("ffffffffffffffffffff"));
}

#[tokio::test]
async fn a_stopped_daemon_is_unreachable_on_both_transports() {
    let mut fake = FakeDaemon::start().await;
    fake.stop().await;
    for (transport, api) in clients(&fake) {
        let e = api.status().await.unwrap_err();
        assert!(e.is_unreachable(), "{transport:?}: {e:?}");
        assert!(!e.to_string().contains(fake.token()));
    }
    fake.restart().await;
    for (_, api) in clients(&fake) {
        api.status().await.unwrap();
    }
}

#[tokio::test]
async fn a_daemon_that_never_answers_is_a_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection without a word.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let api = LocalApi::new(
        Endpoint::Tcp {
            port,
            token: Secret::new("t"),
        },
        Duration::from_millis(300),
    );
    let started = Instant::now();
    let e = api.status().await.unwrap_err();
    assert!(
        matches!(e, LocalApiError::Timeout { after_ms: 300, .. }),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let e = api.watch_ipn_bus(TRAY_MASK).await.unwrap_err();
    assert!(matches!(e, LocalApiError::Timeout { .. }), "{e:?}");
    hold.abort();
}

// ---------------------------------------------------------------------------------------------
// watch-ipn-bus

async fn next(
    bus: &mut serve_doctor::tailscale::localapi::IpnBus,
) -> Option<Result<Notify, LocalApiError>> {
    tokio::time::timeout(Duration::from_secs(2), bus.next())
        .await
        .expect("a message within 2 s")
}

#[tokio::test]
async fn the_bus_delivers_pushed_notify_lines_and_ends_when_the_daemon_stops() {
    let mut fake = FakeDaemon::start().await;
    for (transport, api) in clients(&fake) {
        let mut bus = api.watch_ipn_bus(TRAY_MASK).await.unwrap();
        // The head arrives once the watcher is registered: pushing now cannot be lost.
        assert_eq!(fake.watchers(), 1, "{transport:?}");
        assert_eq!(
            fake.seen().last().unwrap().uri,
            "/localapi/v0/watch-ipn-bus?mask=8338"
        );
        // Like the real daemon (seen on the tailnet bench), the first line is the initial
        // state, with health.
        let first = next(&mut bus).await.unwrap().unwrap();
        assert!(first.state.is_some(), "{transport:?}: {first:?}");

        // Nothing more yet: waiting can be abandoned (as in a select!) without losing anything.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), bus.next())
                .await
                .is_err()
        );

        assert_eq!(
            fake.push(
                r#"{"Version":"1.96.4-t1234","ErrMessage":null,"LoginFinished":null,"State":6,"Prefs":null,"NetMap":null,"Engine":null,"BrowseToURL":null,"DriveShares":null}"#
            ),
            1
        );
        fake.push(
            r#"{"Version":"","SelfChange":{"ID":1,"CapMap":{"https":null}},"SomethingNew":true}"#,
        );
        fake.push(r#"{"Version":"","Health":{"Warnings":null}}"#);
        fake.push("not json");
        fake.push(r#"{"Version":""}"#);
        fake.push(r#"{"State":4}"#);

        let first = next(&mut bus).await.unwrap().unwrap();
        assert_eq!(
            (first.state.clone(), first.version.as_str()),
            (Some(BackendState::Running), "1.96.4-t1234")
        );
        assert!(first.is_interesting() && !first.net_map);
        let second = next(&mut bus).await.unwrap().unwrap();
        assert!(second.self_change && second.state.is_none());
        let third = next(&mut bus).await.unwrap().unwrap();
        assert!(third.health.is_some());
        let bad = next(&mut bus).await.unwrap().unwrap_err();
        assert!(matches!(bad, LocalApiError::BadJson { .. }), "{bad:?}");
        // A line that cannot be parsed does not end the stream.
        assert!(!next(&mut bus).await.unwrap().unwrap().is_interesting());
        assert_eq!(
            next(&mut bus).await.unwrap().unwrap().state,
            Some(BackendState::Stopped)
        );

        // The daemon goes away: the stream ends (perhaps after saying how it broke).
        fake.stop().await;
        let started = Instant::now();
        loop {
            match next(&mut bus).await {
                None => break,
                Some(Err(LocalApiError::Transport { .. })) => continue,
                other => panic!("{transport:?}: unexpected {other:?}"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(next(&mut bus).await.is_none(), "stays ended");

        // It comes back on the same socket and port: a new watch works.
        fake.restart().await;
        let mut bus = api.watch_ipn_bus(TRAY_MASK).await.unwrap();
        assert!(next(&mut bus).await.unwrap().unwrap().state.is_some());
        fake.push(r#"{"State":5}"#);
        assert_eq!(
            next(&mut bus).await.unwrap().unwrap().state,
            Some(BackendState::Starting)
        );
        drop(bus);
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn lines_split_across_chunks_or_sharing_one_are_reassembled() {
    let mut fake = FakeDaemon::start().await;
    let mut bus = fake.tcp_client(T).watch_ipn_bus(TRAY_MASK).await.unwrap();
    assert!(
        next(&mut bus).await.unwrap().unwrap().state.is_some(),
        "initial state"
    );
    fake.push_raw(br#"{"Version":"1.9"#);
    // Half a line is not a message yet.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), bus.next())
            .await
            .is_err()
    );
    fake.push_raw(b"6\",\"State\":2}\n\n{\"State\":3}\r\n{\"NetMap\":{}}\n{\"State\":");
    let n = next(&mut bus).await.unwrap().unwrap();
    assert_eq!(
        (n.version.as_str(), n.state),
        ("1.96", Some(BackendState::NeedsLogin))
    );
    // Blank lines are skipped; a CRLF ending is whitespace to the JSON parser.
    assert_eq!(
        next(&mut bus).await.unwrap().unwrap().state,
        Some(BackendState::NeedsMachineAuth)
    );
    assert!(next(&mut bus).await.unwrap().unwrap().net_map);
    fake.push_raw(b"1}\n");
    assert_eq!(
        next(&mut bus).await.unwrap().unwrap().state,
        Some(BackendState::InUseOtherUser)
    );
    fake.stop().await;
    while let Some(item) = next(&mut bus).await {
        assert!(
            matches!(item, Err(LocalApiError::Transport { .. })),
            "{item:?}"
        );
    }
}

#[tokio::test]
async fn dropping_the_bus_closes_the_watch() {
    let fake = FakeDaemon::start().await;
    let bus = fake.unix_client(T).watch_ipn_bus(TRAY_MASK).await.unwrap();
    assert_eq!(fake.watchers(), 1);
    drop(bus);
    let started = Instant::now();
    while fake.watchers() > 0 {
        fake.push("{}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the watch stayed open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets and the fake itself

#[tokio::test]
async fn the_token_never_shows_in_debug_or_display() {
    let fake = FakeDaemon::start().await;
    let token = fake.token().to_string();
    let api = fake.tcp_client(T);
    let found = discover(None, &fake.macos_roots()).await;
    let bus = api.watch_ipn_bus(TRAY_MASK).await.unwrap();
    let secret = Secret::new(token.clone());
    let texts = [
        format!("{api:?}"),
        format!("{:?} {}", api.endpoint, api.endpoint),
        format!("{found:?}"),
        format!("{bus:?}"),
        format!("{secret:?} {secret}"),
    ];
    for text in &texts {
        assert!(!text.contains(&token), "{text}");
    }
    assert!(texts[0].contains("***"), "{}", texts[0]);
    assert_eq!(secret.expose(), token);
}

/// Sends one raw HTTP/1.1 request and returns the status line and body.
async fn raw<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut io: S,
    head: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    io.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    io.read_to_string(&mut answer).await.unwrap();
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();
    format!("{status} | {body}")
}

#[tokio::test]
async fn the_fake_refuses_what_the_daemon_refuses() {
    use tokio::net::{TcpStream, UnixStream};
    let fake = FakeDaemon::start().await;
    let unix = || UnixStream::connect(fake.socket());
    let tcp = || TcpStream::connect(("127.0.0.1", fake.port()));
    let get = "GET /localapi/v0/status HTTP/1.1\r\n";

    let r = raw(unix().await.unwrap(), &format!("{get}Host: localhost\r\n")).await;
    assert_eq!(r, "HTTP/1.1 403 Forbidden | invalid localapi request");
    let r = raw(
        unix().await.unwrap(),
        &format!("{get}Host: local-tailscaled.sock\r\nOrigin: http://x\r\n"),
    )
    .await;
    assert_eq!(r, "HTTP/1.1 403 Forbidden | invalid localapi request");
    let r = raw(
        unix().await.unwrap(),
        &format!("{get}Host: local-tailscaled.sock\r\nReferer: http://x/\r\n"),
    )
    .await;
    assert_eq!(r, "HTTP/1.1 403 Forbidden | invalid localapi request");
    let r = raw(
        tcp().await.unwrap(),
        &format!("{get}Host: local-tailscaled.sock\r\n"),
    )
    .await;
    assert_eq!(r, "HTTP/1.1 401 Unauthorized | auth required");
    // base64(":wrong")
    let r = raw(
        tcp().await.unwrap(),
        &format!("{get}Host: local-tailscaled.sock\r\nAuthorization: Basic Ondyb25n\r\n"),
    )
    .await;
    assert_eq!(r, "HTTP/1.1 403 Forbidden | bad password");
    assert_eq!(fake.violations().len(), 5, "{:?}", fake.violations());

    // And what it accepts: the socket needs no auth.
    let r = raw(
        unix().await.unwrap(),
        &format!("{get}Host: local-tailscaled.sock\r\n"),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200 OK | {"), "{r}");
    assert_eq!(fake.violations().len(), 5);
}

#[test]
fn the_fake_computes_real_sha256_etags() {
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Two blocks.
    assert_eq!(
        sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}
