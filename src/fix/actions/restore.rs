//! `restore`: put a backup back — `serve reset`, then `serve set-raw < BACKUP` — and check the
//! config read back is exactly the backup (without its foreground entries, whose sessions ended
//! with the terminals that made them).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fix::plan::{Change, Expect, Next, Proposal, Snapshot, cli_replace, inventory};
use crate::fix::{FixError, FixOptions, backup, edit};
use crate::tailscale::ServeConfig;

/// The backup chosen, read before planning.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub path: PathBuf,
    /// Its text, or why it cannot be used (the refusal).
    pub text: Result<String, String>,
}

/// Finds and reads the backup: a path, a name in the backups dir, or the newest. `Ok(None)`
/// when there is none.
pub async fn gather(opts: &FixOptions, given: Option<&Path>) -> Result<Option<Chosen>, FixError> {
    let dir = backup::dir(&opts.data_dir);
    let path = match given {
        Some(p) if p.components().count() == 1 && dir.join(p).is_file() => Some(dir.join(p)),
        Some(p) => Some(p.to_path_buf()),
        None => {
            backup::newest(&opts.data_dir).map_err(|source| FixError::Backups { dir, source })?
        }
    };
    Ok(path.map(|path| Chosen {
        text: std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        path,
    }))
}

pub fn plan(
    snap: &Snapshot,
    chosen: Option<&Chosen>,
    backups_dir: &Path,
    rename: bool,
) -> Proposal {
    let Some(chosen) = chosen else {
        return Proposal::refuse(format!(
            "no backups in {}: nothing to restore",
            backups_dir.display()
        ));
    };
    let shown = chosen.path.display().to_string();
    let text = match &chosen.text {
        Ok(t) => t,
        Err(why) => return Proposal::refuse(why.clone()),
    };
    let mut v = match parse(text) {
        Ok(v) => v,
        Err(why) => return Proposal::refuse(format!("{shown} {why}")),
    };
    let dns = &snap.dns;
    let mut p = Proposal::draft();
    if v.get("Foreground").is_some() {
        p.plan.notes.push(
            "Foreground entries are left out: their sessions ended with the terminals that made them".into(),
        );
    }
    edit::drop_foreground(&mut v);
    let foreign = edit::foreign_hosts(&v, dns);
    if !foreign.is_empty() {
        if !rename {
            p.next = Next::Refuse(format!(
                "{shown} is keyed to {} but this node is {dns}: restored as is it would serve nothing (tailscaled matches the name exactly). Pass --rename-to-current to rewrite the names to {dns}",
                foreign.join(", ")
            ));
            return p;
        }
        edit::rename_hosts(&mut v, dns);
        p.plan.notes.push(format!(
            "host names {} are rewritten to {dns}",
            foreign.join(", ")
        ));
    }
    p.plan.removes = inventory(&snap.serve);
    p.plan.undo.push(
        "serve-doctor fix restore <the backup this run writes> --yes (`serve-doctor fix backups` lists them)".into(),
    );
    p.plan.notes.push(format!("restores {shown}"));
    // A node that had no config backs up as `null` (LocalAPI) or `{}` (CLI): putting that back
    // is a reset, and the empty config read back is the match.
    let empty = edit::is_empty(&v);
    if empty {
        p.plan.notes.push(
            "the backup holds no serve config (the node had none): restoring it is `serve reset` only".into(),
        );
    }
    p.next = Next::Write(Change {
        writes: cli_replace(&v, &crate::shell::word(&shown)),
        expect: Expect::Exact(v),
        done: if empty {
            "the backup is restored: the node has no serve config again, as before".into()
        } else {
            "the backup is restored".into()
        },
    });
    p
}

/// A backup's JSON: an object, or empty / `null` for "no config"; the error completes
/// "<path> …".
fn parse(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let v = match serde_json::from_str(text) {
        Ok(v @ (Value::Object(_) | Value::Null)) => v,
        Ok(_) => return Err("is not a serve config (not a JSON object)".into()),
        Err(e) => return Err(format!("is not valid JSON: {e}")),
    };
    if ServeConfig::from_json(text.as_bytes()).is_err() {
        return Err("is not a serve config".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tailscale::Status;
    use crate::tailscale::route::Write;

    fn snap() -> Snapshot {
        let st =
            Status::from_json(br#"{"BackendState":"Running","Self":{"DNSName":"new.t.ts.net."}}"#)
                .unwrap();
        Snapshot::new(st, ServeConfig::default(), "{}".into(), None).unwrap()
    }

    fn chosen(text: &str) -> Chosen {
        Chosen {
            path: PathBuf::from("/b/x.json"),
            text: Ok(text.into()),
        }
    }

    #[test]
    fn an_empty_backup_restores_as_a_reset_and_verifies_against_the_empty_config() {
        use crate::fix::plan::verify;
        for text in ["null", "", "{}", " null\n"] {
            let p = plan(&snap(), Some(&chosen(text)), Path::new("/b"), false);
            let Next::Write(c) = &p.next else {
                panic!("{text:?}: {:?}", p.next)
            };
            assert_eq!(c.writes, vec![Write::cli(&["serve", "reset"])], "{text:?}");
            for back in ["{}", "null"] {
                let v: Value = serde_json::from_str(back).unwrap();
                assert_eq!(
                    verify(&c.expect, &ServeConfig::default(), &v),
                    Ok(()),
                    "{text:?} read back as {back}"
                );
            }
            let busy: Value = serde_json::from_str(r#"{"TCP":{"443":{"HTTPS":true}}}"#).unwrap();
            assert!(verify(&c.expect, &ServeConfig::default(), &busy).is_err());
        }
    }

    #[test]
    fn another_nodes_keys_are_refused_unless_renamed() {
        let b = chosen(
            r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"old.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}},"Foreground":{"s":{}}}"#,
        );
        let p = plan(&snap(), Some(&b), Path::new("/b"), false);
        assert!(
            matches!(&p.next, Next::Refuse(m) if m.contains("old.t.ts.net")),
            "{:?}",
            p.next
        );
        let p = plan(&snap(), Some(&b), Path::new("/b"), true);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        let Expect::Exact(v) = &c.expect else {
            panic!()
        };
        assert!(v["Web"].get("new.t.ts.net:443").is_some() && v.get("Foreground").is_none());
        assert_eq!(c.writes[0], Write::cli(&["serve", "reset"]));
    }

    /// The printed `set-raw < BACKUP` reads that very file in a real shell, wherever it is.
    #[test]
    fn the_backup_path_in_the_printed_command_is_one_shell_word() {
        use crate::tailscale::route::{CliRoute, Route};
        let dir = tempfile::tempdir().unwrap();
        let sub = dir
            .path()
            .join("Application Support/it's $(echo INJECTED) `x` ü");
        std::fs::create_dir_all(&sub).unwrap();
        let path = sub.join("b.json");
        let text = r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"new.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}"#;
        std::fs::write(&path, text).unwrap();
        let b = Chosen {
            path,
            text: Ok(text.into()),
        };
        let p = plan(&snap(), Some(&b), Path::new("/b"), false);
        let Next::Write(c) = &p.next else {
            panic!("{:?}", p.next)
        };
        let cli = dir.path().join("My CLI/tailscale");
        let route = CliRoute::new(&cli, "", std::time::Duration::from_secs(1));
        let shown = route.show(&c.writes[1]);
        let cli = cli.to_string_lossy();
        assert_eq!(
            crate::shell::argv_by_sh(&shown),
            [cli.as_ref(), "serve", "set-raw"],
            "{shown}"
        );
    }

    #[test]
    fn not_a_config_and_no_backup_are_refusals() {
        for text in ["[1,2]", "{not json", r#"{"TCP":7}"#] {
            let p = plan(&snap(), Some(&chosen(text)), Path::new("/b"), false);
            assert!(matches!(p.next, Next::Refuse(_)), "{text}");
        }
        let p = plan(&snap(), None, Path::new("/b"), false);
        assert!(matches!(&p.next, Next::Refuse(m) if m.contains("no backups")));
        // An empty backup is "no config": reset only.
        let p = plan(&snap(), Some(&chosen("")), Path::new("/b"), false);
        let Next::Write(c) = &p.next else { panic!() };
        assert_eq!(c.writes, vec![Write::cli(&["serve", "reset"])]);
    }
}
