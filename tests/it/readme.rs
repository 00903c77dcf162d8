//! The README's cause and check tables are the documentation of stable identifiers: they must
//! list exactly the codes the code has, causes in precedence order with their health.

use serve_doctor::diagnosis::{Cause, CheckId};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The first-column codes of the table that follows `marker`.
fn table_rows(text: &str, marker: &str) -> Vec<Vec<String>> {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("README lacks {marker}"));
    text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect()
}

#[test]
fn cause_table_matches_the_code_in_precedence_order() {
    let rows = table_rows(&readme(), "<!-- CAUSES-TABLE");
    let codes: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let want: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes, want);
    for (row, cause) in rows.iter().zip(Cause::ALL) {
        assert_eq!(row[1], cause.health().as_str(), "health of {cause}");
    }
}

#[test]
fn check_table_matches_the_code() {
    let rows = table_rows(&readme(), "<!-- CHECKS-TABLE");
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let want: Vec<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(ids, want);
}

/// The menu's per-check help is the README's help table, word for word, in display order, and
/// its "Read more…" anchor is that table's heading.
#[test]
fn check_help_table_is_the_menus_help() {
    use serve_doctor::diagnosis::help::README_ANCHOR;
    let text = readme();
    let rows = table_rows(&text, "<!-- CHECK-HELP-TABLE");
    let want: Vec<Vec<String>> = CheckId::ALL
        .iter()
        .map(|c| {
            let h = c.help();
            [c.as_str(), h.looks_at, h.failing, h.fix]
                .map(String::from)
                .to_vec()
        })
        .collect();
    assert_eq!(rows, want);
    let heading = text
        .lines()
        .find(|l| l.starts_with("### What each check means"))
        .expect("README lacks the help table's heading");
    let slug: String = heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect();
    assert_eq!(slug, README_ANCHOR);
}

/// The paragraph of the README that starts with `marker`, joined into one line.
fn paragraph(text: &str, marker: &str) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("README lacks {marker}"));
    let para = text[start..].split("\n\n").next().unwrap_or_default();
    para.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn exit_codes_are_documented_with_their_numbers() {
    use serve_doctor::diagnosis::Health;
    use serve_doctor::exit::Exit;
    let text = readme();
    let diagnose = paragraph(&text, "Exit status (Nagios plugin convention)");
    let fix = paragraph(&text, "Exit codes of `fix`");
    for exit in Exit::ALL {
        let n = exit.code();
        let (place, want) = match exit {
            Exit::Success | Exit::Yellow | Exit::Red | Exit::Gray => {
                let health = [Health::Green, Health::Yellow, Health::Red, Health::Gray]
                    .into_iter()
                    .find(|h| Exit::health(*h) == exit)
                    .map(|h| h.as_str())
                    .unwrap_or_default();
                (&diagnose, format!("**{n}** {health}"))
            }
            Exit::FixFailed | Exit::FixRefused | Exit::FixNotConfirmed | Exit::FixBusy => {
                (&fix, format!("**{n}**"))
            }
            Exit::Usage | Exit::Internal => {
                assert!(fix.contains(&format!("**{n}**")), "fix lacks {n}: {fix}");
                (&diagnose, format!("**{n}**"))
            }
            Exit::Unavailable | Exit::AlreadyRunning => (&text, format!("exits with status {n}")),
        };
        assert!(place.contains(&want), "README lacks {want:?} for {exit:?}");
    }
}

/// docs/report.schema.json lists exactly the codes the code has, so a new cause, check or fix
/// cannot make every report invalid (or the schema silently incomplete).
#[test]
fn the_report_schema_lists_every_code() {
    use serve_doctor::diagnosis::FixId;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/report.schema.json"
    ))
    .unwrap();
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let p = &s["properties"];
    assert_eq!(
        list(&p["cause"]["enum"]),
        Cause::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        list(&p["checks"]["items"]["properties"]["id"]["enum"]),
        CheckId::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        list(&p["fixes"]["items"]["properties"]["id"]["enum"]),
        FixId::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(p["schema"]["const"], serve_doctor::diagnosis::REPORT_SCHEMA);
}

#[test]
fn no_file_the_repository_tracks_holds_a_merge_conflict() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output();
    // A source tarball has no git: nothing to list, nothing to check.
    let Some(o) = o.ok().filter(|o| o.status.success()) else {
        return;
    };
    let mut found = Vec::new();
    for name in o.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name);
        let Ok(text) = std::fs::read_to_string(root.join(name.as_ref())) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("<<<<<<< ") || line.starts_with(">>>>>>> ") {
                found.push(format!("{name}:{}: {line}", i + 1));
            }
        }
    }
    assert!(found.is_empty(), "conflict markers:\n{}", found.join("\n"));
}
