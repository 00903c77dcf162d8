//! Where the `tailscale` CLI is: the flag, the config file, the macOS GUI binary, Homebrew,
//! `/usr/local/bin`, then `PATH` — in that order, first executable file wins.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The macOS App Store / Standalone GUI binary, which doubles as the CLI.
pub const MAC_GUI: &str = "/Applications/Tailscale.app/Contents/MacOS/Tailscale";
pub const HOMEBREW_ARM: &str = "/opt/homebrew/bin/tailscale";
pub const USR_LOCAL: &str = "/usr/local/bin/tailscale";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CliSource {
    Flag,
    ConfigFile,
    MacGui,
    Homebrew,
    UsrLocal,
    Path,
}

impl CliSource {
    pub fn describe(self) -> &'static str {
        match self {
            CliSource::Flag => "from --tailscale",
            CliSource::ConfigFile => "from the config file",
            CliSource::MacGui => "the Tailscale app",
            CliSource::Homebrew => "Homebrew",
            CliSource::UsrLocal => "/usr/local/bin",
            CliSource::Path => "from PATH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub path: PathBuf,
    pub source: CliSource,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no tailscale CLI found (looked at: {})", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
pub struct NotFound {
    pub searched: Vec<PathBuf>,
    /// A path the user named explicitly that is missing or not executable.
    pub forced: Option<PathBuf>,
}

/// Finds the CLI. `flag` and `config` are explicit choices: when one is given and unusable the
/// search stops there, because silently using another binary would diagnose the wrong thing.
pub fn locate(
    flag: Option<&Path>,
    config: Option<&Path>,
    path_env: Option<&OsStr>,
) -> Result<Located, NotFound> {
    locate_with(
        flag,
        config,
        path_env,
        &[MAC_GUI, HOMEBREW_ARM, USR_LOCAL],
        crate::platform::is_executable,
    )
}

fn locate_with(
    flag: Option<&Path>,
    config: Option<&Path>,
    path_env: Option<&OsStr>,
    fixed: &[&str],
    usable: impl Fn(&Path) -> bool,
) -> Result<Located, NotFound> {
    for (explicit, source) in [(flag, CliSource::Flag), (config, CliSource::ConfigFile)] {
        if let Some(p) = explicit {
            return if usable(p) {
                Ok(Located {
                    path: p.to_path_buf(),
                    source,
                })
            } else {
                Err(NotFound {
                    searched: vec![p.to_path_buf()],
                    forced: Some(p.to_path_buf()),
                })
            };
        }
    }
    let mut searched = Vec::new();
    let sources = [CliSource::MacGui, CliSource::Homebrew, CliSource::UsrLocal];
    for (p, source) in fixed.iter().zip(sources) {
        let p = Path::new(p);
        if usable(p) {
            return Ok(Located {
                path: p.to_path_buf(),
                source,
            });
        }
        searched.push(p.to_path_buf());
    }
    for dir in path_env.map(std::env::split_paths).into_iter().flatten() {
        let p = dir.join("tailscale");
        if usable(&p) {
            return Ok(Located {
                path: p,
                source: CliSource::Path,
            });
        }
        searched.push(p);
    }
    Err(NotFound {
        searched,
        forced: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::is_executable;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn order_is_flag_config_fixed_then_path() {
        let d = tempfile::tempdir().unwrap();
        let flag = exe(d.path(), "flag/tailscale");
        let conf = exe(d.path(), "conf/tailscale");
        let gui = exe(d.path(), "gui/Tailscale");
        let brew = exe(d.path(), "brew/tailscale");
        let onpath = exe(d.path(), "bin/tailscale");
        let gui_s = gui.to_str().unwrap();
        let brew_s = brew.to_str().unwrap();
        let path_env = std::env::join_paths([d.path().join("bin")]).unwrap();
        let fixed = [gui_s, brew_s, "/nonexistent"];
        let go = |f: Option<&Path>, c: Option<&Path>, fixed: &[&str]| {
            locate_with(f, c, Some(&path_env), fixed, is_executable)
        };
        assert_eq!(
            go(Some(&flag), Some(&conf), &fixed).unwrap().source,
            CliSource::Flag
        );
        assert_eq!(
            go(None, Some(&conf), &fixed).unwrap().source,
            CliSource::ConfigFile
        );
        assert_eq!(
            go(None, None, &fixed).unwrap(),
            Located {
                path: gui.clone(),
                source: CliSource::MacGui
            }
        );
        assert_eq!(
            go(None, None, &["/nonexistent", brew_s]).unwrap().source,
            CliSource::Homebrew
        );
        assert_eq!(
            go(None, None, &["/nonexistent"]).unwrap(),
            Located {
                path: onpath,
                source: CliSource::Path
            }
        );
    }

    #[test]
    fn explicit_missing_path_is_not_found_and_does_not_fall_back() {
        let d = tempfile::tempdir().unwrap();
        let onpath = exe(d.path(), "bin/tailscale");
        let path_env = std::env::join_paths([onpath.parent().unwrap()]).unwrap();
        let missing = d.path().join("nope");
        let e = locate_with(Some(&missing), None, Some(&path_env), &[], is_executable).unwrap_err();
        assert_eq!(e.forced, Some(missing));
        // A non-executable file is not a CLI either.
        let plain = d.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert!(locate_with(None, Some(&plain), None, &[], is_executable).is_err());
    }

    #[test]
    fn nothing_anywhere_lists_what_was_searched() {
        let e = locate_with(
            None,
            None,
            Some(OsStr::new("/nonexistent-dir")),
            &["/nope/a"],
            is_executable,
        )
        .unwrap_err();
        assert_eq!(e.searched.len(), 2);
        assert!(e.to_string().contains("/nope/a"));
    }
}
