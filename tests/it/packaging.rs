//! Issue 5, "Install like a real Mac app", on this Linux machine: the `.app` assembly and its
//! Info.plist (read with Python's plistlib, the way a second reader would), the app icon, the
//! Linux menu entry, `make install`/`uninstall` into a temporary prefix, launch at login through
//! XDG autostart under a temporary HOME, and the single-instance lock across processes.
//!
//! Tests that need another process re-run this test binary on one `#[ignore]`d helper test, which
//! does its part only when the parent sets its environment variable.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serve_doctor::instance::{InstanceError, InstanceLock};
use serve_doctor::platform::login_item::{self as autostart, LoginItem};
use serve_doctor::tray::icons::{self, Look};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn root() -> &'static Path {
    Path::new(ROOT)
}

/// Runs a command to completion, failing the test with its output when it fails.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Every regular file under `dir`, relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// `bundle/linux/install.list` as (destination, source, mode).
fn install_list() -> Vec<(String, String, String)> {
    std::fs::read_to_string(root().join("bundle/linux/install.list"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "bad install.list line: {l}");
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// The `Key=value` pairs of a desktop entry's `[Desktop Entry]` group.
fn desktop_keys(text: &str) -> Vec<(String, String)> {
    let mut in_entry = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if in_entry && let Some((k, v)) = line.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

fn key<'a>(keys: &'a [(String, String)], name: &str) -> Option<&'a str> {
    keys.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// macOS bundle

#[test]
fn bundle_script_assembles_the_app_with_a_complete_info_plist() {
    let out = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_serve-doctor");
    let log = run_ok(
        Command::new(root().join("bundle/macos.sh"))
            .env("BIN", bin)
            .env("OUT", out.path())
            .env_remove("SIGN_IDENTITY")
            .env_remove("NOTARY_PROFILE")
            .env_remove("APPLE_ID"),
    );
    // The Mac-only steps say why they were skipped instead of failing.
    assert!(log.contains("skipped: signing"), "{log}");
    assert!(log.contains("skipped: notarization"), "{log}");

    let app = out.path().join("Serve Doctor.app");
    let contents = app.join("Contents");
    let plist_path = contents.join("Info.plist");
    let json = run_ok(
        Command::new("python3")
            .arg("-c")
            .arg(
                "import json, plistlib, sys\n\
         with open(sys.argv[1], 'rb') as f: print(json.dumps(plistlib.load(f)))",
            )
            .arg(&plist_path),
    );
    let plist: serde_json::Value = serde_json::from_str(&json).unwrap();

    let version = env!("CARGO_PKG_VERSION");
    let s = |k: &str| {
        plist[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} missing: {plist}"))
            .to_string()
    };
    assert_eq!(s("CFBundleIdentifier"), autostart::BUNDLE_ID);
    assert_eq!(s("CFBundleName"), "Serve Doctor");
    assert_eq!(s("CFBundlePackageType"), "APPL");
    assert_eq!(s("CFBundleShortVersionString"), version);
    assert_eq!(s("CFBundleVersion"), version);
    assert_eq!(s("LSMinimumSystemVersion"), "13.0");
    assert_eq!(plist["LSUIElement"], serde_json::Value::Bool(true));
    assert_eq!(
        plist["NSHighResolutionCapable"],
        serde_json::Value::Bool(true)
    );

    // The executable the plist names is the binary we passed, runnable.
    let exe = contents.join("MacOS").join(s("CFBundleExecutable"));
    assert_eq!(s("CFBundleExecutable"), "serve-doctor");
    assert_eq!(std::fs::read(&exe).unwrap(), std::fs::read(bin).unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&exe).unwrap().permissions().mode() & 0o111,
        0o111
    );
    // The icon the plist names is the committed one.
    let icon = contents
        .join("Resources")
        .join(format!("{}.icns", s("CFBundleIconFile")));
    assert_eq!(
        std::fs::read(icon).unwrap(),
        std::fs::read(root().join("resources/AppIcon.icns")).unwrap()
    );

    // The download: a zip holding the app, where `zip` exists.
    let zip = out.path().join(format!("Serve-Doctor-{version}-macos.zip"));
    if Command::new("zip").arg("-v").output().is_ok() {
        let listing = run_ok(Command::new("python3").arg("-c").arg(
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ).arg(&zip));
        assert!(
            listing.contains("Serve Doctor.app/Contents/MacOS/serve-doctor"),
            "{listing}"
        );
    }
}

#[test]
fn make_bundle_runs_the_script_although_bundle_is_a_directory() {
    let out = run_ok(
        Command::new("make")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL")
            .args(["-n", "-C"])
            .arg(root())
            .arg("bundle"),
    );
    assert!(out.contains("bundle/macos.sh"), "{out}");
}

#[test]
fn bundle_script_refuses_signing_it_cannot_do() {
    // Asking for a Developer ID where there is no codesign must fail loudly, not ship unsigned.
    if Command::new("codesign").arg("--help").output().is_ok() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(root().join("bundle/macos.sh"))
        .env("BIN", env!("CARGO_BIN_EXE_serve-doctor"))
        .env("OUT", out.path())
        .env("ZIP", "0")
        .env("SIGN_IDENTITY", "Developer ID Application: Nobody (TEAMID)")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("codesign is not available"));
}

/// The `.icns` entries as (type, PNG bytes).
fn icns_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    assert_eq!(&bytes[..4], b"icns");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    assert_eq!(be(&bytes[4..8]), bytes.len(), "icns length field");
    let mut out = Vec::new();
    let mut i = 8;
    while i < bytes.len() {
        let kind = String::from_utf8_lossy(&bytes[i..i + 4]).into_owned();
        let len = be(&bytes[i + 4..i + 8]);
        assert!(len > 8 && i + len <= bytes.len(), "bad icns entry {kind}");
        out.push((kind, bytes[i + 8..i + len].to_vec()));
        i += len;
    }
    out
}

#[test]
fn app_icon_is_the_tray_artwork_at_every_size() {
    let icns = std::fs::read(root().join("resources/AppIcon.icns")).unwrap();
    let entries = icns_entries(&icns);
    let want = [
        ("ic11", 32),
        ("ic12", 64),
        ("ic07", 128),
        ("ic13", 256),
        ("ic08", 256),
        ("ic14", 512),
        ("ic09", 512),
        ("ic10", 1024),
    ];
    let kinds: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, want.map(|(k, _)| k));
    let green = Look::Green.fill();
    for ((kind, png), (_, size)) in entries.iter().zip(want) {
        let img = icons::decode(png).unwrap_or_else(|e| panic!("{kind}: {e:#}"));
        assert_eq!((img.width, img.height), (size, size), "{kind}");
        // Apple's grid: transparent corners, the green dot in the middle, its fill below the top
        // of the check mark.
        assert_eq!(img.at_unit(0.02, 0.02)[3], 0, "{kind} corner");
        let p = img.at_unit(0.5, 0.2);
        assert_eq!(&p[..3], &green, "{kind} fill");
    }
    let rows = install_list();
    for size in [16u32, 24, 32, 48, 64, 128, 256, 512] {
        let rel = format!("hicolor/{size}x{size}/apps/serve-doctor.png");
        let img =
            icons::decode(&std::fs::read(root().join("resources").join(&rel)).unwrap()).unwrap();
        assert_eq!((img.width, img.height), (size, size), "{rel}");
        let (x, y) = Look::Green.ring_sample();
        let p = img.at_unit(x, y);
        if size >= 32 {
            assert_eq!(&p[..3], &green, "{rel}");
        }
        assert!(
            rows.iter()
                .any(|(dest, src, _)| *src == format!("resources/{rel}")
                    && *dest == format!("share/icons/{rel}")),
            "install.list lacks {rel}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Linux desktop integration

#[test]
fn desktop_file_has_the_menu_keys() {
    let text = std::fs::read_to_string(root().join("bundle/linux/serve-doctor.desktop")).unwrap();
    let keys = desktop_keys(&text);
    assert_eq!(key(&keys, "Type"), Some("Application"));
    assert_eq!(key(&keys, "Name"), Some("Serve Doctor"));
    assert_eq!(key(&keys, "Exec"), Some("serve-doctor"));
    assert_eq!(key(&keys, "Icon"), Some("serve-doctor"));
    assert_eq!(key(&keys, "Categories"), Some("Network;Utility;"));
    assert_eq!(key(&keys, "StartupNotify"), Some("false"));
    assert_eq!(key(&keys, "Terminal"), Some("false"));
    // desktop-file-validate, where it is installed, is the authority.
    if let Ok(o) = Command::new("desktop-file-validate")
        .arg(root().join("bundle/linux/serve-doctor.desktop"))
        .output()
    {
        assert!(
            o.status.success() && o.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

fn make(args: &[&str], prefix: &Path, destdir: Option<&Path>, bin: Option<&Path>) -> String {
    let mut cmd = Command::new("make");
    // Under `make test` the outer make's flags (jobserver descriptors this process does not
    // pass on) would reach this one through the environment.
    cmd.env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    cmd.arg("-s").arg("-C").arg(root()).args(args);
    cmd.arg(format!("PREFIX={}", prefix.display()));
    if let Some(d) = destdir {
        cmd.arg(format!("DESTDIR={}", d.display()));
    }
    if let Some(b) = bin {
        cmd.arg(format!("BIN={}", b.display()));
    }
    run_ok(&mut cmd)
}

#[test]
fn make_install_and_uninstall_touch_exactly_the_listed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let bin = tmp.path().join("serve-doctor-built");
    std::fs::write(&bin, b"#!/bin/sh\necho fake\n").unwrap();

    make(&["install"], &prefix, None, Some(&bin));
    let expected: BTreeSet<String> = install_list().into_iter().map(|(d, _, _)| d).collect();
    assert_eq!(files_under(&prefix), expected);
    assert!(expected.contains("bin/serve-doctor"));
    assert!(expected.contains("share/applications/serve-doctor.desktop"));
    assert_eq!(
        std::fs::read(prefix.join("bin/serve-doctor")).unwrap(),
        std::fs::read(&bin).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| {
        std::fs::metadata(prefix.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("bin/serve-doctor"), 0o755);
    assert_eq!(mode("share/applications/serve-doctor.desktop"), 0o644);
    // The menu entry starts the installed binary by its full path.
    let desktop =
        std::fs::read_to_string(prefix.join("share/applications/serve-doctor.desktop")).unwrap();
    let keys = desktop_keys(&desktop);
    assert_eq!(
        key(&keys, "Exec").map(PathBuf::from),
        Some(prefix.join("bin/serve-doctor"))
    );
    assert_eq!(key(&keys, "Icon"), Some("serve-doctor"));

    // A file of the user's own in the same tree survives the uninstall.
    std::fs::write(prefix.join("bin/mine"), "keep").unwrap();
    make(&["uninstall"], &prefix, None, None);
    assert_eq!(
        files_under(&prefix),
        BTreeSet::from(["bin/mine".to_string()])
    );
    // Uninstalling twice is fine.
    make(&["uninstall"], &prefix, None, None);
}

#[test]
fn make_install_honours_destdir() {
    let tmp = tempfile::tempdir().unwrap();
    let stage = tmp.path().join("stage");
    let bin = tmp.path().join("bin");
    std::fs::write(&bin, b"x").unwrap();
    make(&["install"], Path::new("/usr"), Some(&stage), Some(&bin));
    let expected: BTreeSet<String> = install_list()
        .into_iter()
        .map(|(d, _, _)| format!("usr/{d}"))
        .collect();
    assert_eq!(files_under(&stage), expected);
    let desktop =
        std::fs::read_to_string(stage.join("usr/share/applications/serve-doctor.desktop")).unwrap();
    assert_eq!(
        key(&desktop_keys(&desktop), "Exec"),
        Some("/usr/bin/serve-doctor")
    );
    make(&["uninstall"], Path::new("/usr"), Some(&stage), None);
    assert!(files_under(&stage).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Launch at login

#[test]
fn xdg_autostart_toggle_follows_the_file() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/autostart");
    let exe = Path::new("/home/u/.local/bin/serve-doctor");
    let item = LoginItem::xdg(&dir, exe);
    let file = dir.join("serve-doctor.desktop");
    assert_eq!(item.path(), file);
    assert!(!item.is_enabled().unwrap());

    item.set_enabled(true).unwrap();
    let keys = desktop_keys(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(key(&keys, "Exec"), Some("/home/u/.local/bin/serve-doctor"));
    assert_eq!(key(&keys, "Type"), Some("Application"));
    assert!(item.is_enabled().unwrap());

    // The check mark follows the file, not a remembered flag.
    std::fs::remove_file(&file).unwrap();
    assert!(!item.is_enabled().unwrap());
    item.set_enabled(true).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}Hidden=true\n")).unwrap();
    assert!(!item.is_enabled().unwrap());

    item.set_enabled(true).unwrap();
    assert!(item.is_enabled().unwrap());
    item.set_enabled(false).unwrap();
    assert!(!file.exists());
    assert!(!item.is_enabled().unwrap());
}

/// Child half of [`default_login_item_lives_under_home_or_xdg_config_home`]: toggles the real,
/// environment-derived login item.
#[test]
#[ignore = "helper: run by default_login_item_lives_under_home_or_xdg_config_home"]
fn helper_toggle_system_login_item() {
    let Ok(step) = std::env::var("SD_TEST_AUTOSTART") else {
        return;
    };
    match step.as_str() {
        "on" => autostart::set_enabled(true).unwrap(),
        "off" => autostart::set_enabled(false).unwrap(),
        _ => {}
    }
    println!("enabled={}", autostart::is_enabled().unwrap());
}

fn toggle_in_child(home: &Path, xdg_config: Option<&Path>, step: &str) -> bool {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "packaging::helper_toggle_system_login_item",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("SD_TEST_AUTOSTART", step)
    .env("HOME", home);
    match xdg_config {
        Some(x) => cmd.env("XDG_CONFIG_HOME", x),
        None => cmd.env_remove("XDG_CONFIG_HOME"),
    };
    let out = run_ok(&mut cmd);
    if out.contains("enabled=true") {
        true
    } else {
        assert!(out.contains("enabled=false"), "{out}");
        false
    }
}

#[test]
fn default_login_item_lives_under_home_or_xdg_config_home() {
    let home = tempfile::tempdir().unwrap();
    let this_exe = std::env::current_exe().unwrap();

    // HOME only: ~/.config/autostart.
    let file = home.path().join(".config/autostart/serve-doctor.desktop");
    assert!(!toggle_in_child(home.path(), None, "status"));
    assert!(toggle_in_child(home.path(), None, "on"));
    let keys = desktop_keys(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(key(&keys, "Exec").map(PathBuf::from), Some(this_exe));
    std::fs::remove_file(&file).unwrap();
    assert!(!toggle_in_child(home.path(), None, "status"));

    // XDG_CONFIG_HOME wins over HOME.
    let xdg = home.path().join("xdg");
    let file = xdg.join("autostart/serve-doctor.desktop");
    assert!(toggle_in_child(home.path(), Some(&xdg), "on"));
    assert!(file.exists());
    assert!(
        !home
            .path()
            .join(".config/autostart/serve-doctor.desktop")
            .exists()
    );
    assert!(!toggle_in_child(home.path(), Some(&xdg), "off"));
    assert!(!file.exists());
}

#[test]
fn launch_agent_fallback_is_a_valid_plist() {
    // The macOS LaunchAgent is written by portable code, so plistlib can check it here.
    let dir = tempfile::tempdir().unwrap();
    let exe = "/Applications/Serve Doctor.app/Contents/MacOS/serve-doctor";
    let item = LoginItem::launch_agent(dir.path(), exe);
    item.set_enabled(true).unwrap();
    assert!(item.is_enabled().unwrap());
    let json = run_ok(
        Command::new("python3")
            .arg("-c")
            .arg(
                "import json, plistlib, sys\n\
                 with open(sys.argv[1], 'rb') as f: print(json.dumps(plistlib.load(f)))",
            )
            .arg(item.path()),
    );
    let plist: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plist["Label"], autostart::AGENT_LABEL);
    assert_eq!(plist["ProgramArguments"], serde_json::json!([exe]));
    assert_eq!(plist["RunAtLoad"], true);
    assert_eq!(
        item.path().file_name().unwrap().to_string_lossy(),
        format!("{}.plist", autostart::AGENT_LABEL)
    );
    item.set_enabled(false).unwrap();
    assert!(!item.is_enabled().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Single instance

#[test]
fn second_lock_is_refused_and_freed_when_the_first_goes() {
    let dir = tempfile::tempdir().unwrap();
    let first = InstanceLock::acquire(dir.path()).unwrap();
    let err = InstanceLock::acquire(dir.path()).unwrap_err();
    assert!(
        matches!(err, InstanceError::AlreadyRunning { pid: Some(p), .. } if p == std::process::id()),
        "{err:?}"
    );
    assert!(err.to_string().contains("already running"), "{err}");
    drop(first);
    InstanceLock::acquire(dir.path()).unwrap();
}

/// Child half of [`a_killed_holder_leaves_the_lock_free`]: takes the lock and waits to be killed
/// (for at most a minute, so a parent that died cannot leave it behind for long).
#[test]
#[ignore = "helper: run by a_killed_holder_leaves_the_lock_free"]
fn helper_hold_instance_lock() {
    let Some(dir) = std::env::var_os("SD_TEST_LOCK_DIR") else {
        return;
    };
    let _lock = InstanceLock::acquire(Path::new(&dir)).unwrap();
    println!("locked pid={}", std::process::id());
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_holder_leaves_the_lock_free() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "packaging::helper_hold_instance_lock",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SD_TEST_LOCK_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut locked = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("locked pid=") {
            locked = true;
            break;
        }
        assert!(Instant::now() < deadline, "the helper never took the lock");
    }
    assert!(locked, "the helper exited without taking the lock");

    let err = InstanceLock::acquire(dir.path()).unwrap_err();
    match &err {
        InstanceError::AlreadyRunning { pid, .. } => assert_eq!(*pid, Some(child.id())),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("already running (pid {})", child.id())),
        "{err}"
    );

    // A crash: SIGKILL, no destructor runs, the lock file stays behind.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(dir.path().join(serve_doctor::instance::LOCK_FILE).exists());
    let lock = InstanceLock::acquire(dir.path()).unwrap();
    let text = std::fs::read_to_string(lock.path()).unwrap();
    assert_eq!(text.trim(), std::process::id().to_string());
}
