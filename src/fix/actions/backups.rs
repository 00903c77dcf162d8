//! `backups`: the backups in the data dir, newest first (read-only).

use crate::fix::{FixError, FixOptions, FixReport, Outcome, backup};

pub fn run(mut report: FixReport, opts: &FixOptions) -> Result<FixReport, FixError> {
    let dir = backup::dir(&opts.data_dir);
    let list = backup::list(&opts.data_dir).map_err(|source| FixError::Backups {
        dir: dir.clone(),
        source,
    })?;
    report.message = format!("{} backup(s) in {}", list.len(), dir.display());
    report.backups = Some(list);
    report.outcome = Outcome::Done;
    Ok(report)
}
