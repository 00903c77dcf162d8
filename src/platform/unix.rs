//! What macOS and Linux share because both are unixes: file modes, the uid, process groups and
//! the quit signals.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Creates `dir` and its parents, the new ones readable by this user only (0700, as the XDG
/// runtime dir rules ask).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates `path`, which must not exist yet, for writing by this user only (0600).
pub fn create_new_private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Makes `path` readable by everyone (0644), as desktop entries and LaunchAgents normally are.
pub fn make_world_readable(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

/// Whether `p` is a file someone may execute.
pub fn is_executable(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `path` is a Unix domain socket.
pub fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// This process's real user id.
pub fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// Makes the child the leader of a new process group, so [`kill_process_group`] reaches
/// everything it spawns.
pub fn lead_new_process_group(cmd: &mut tokio::process::Command) {
    cmd.process_group(0);
}

/// Kills the process group `pgid` (a child started with [`lead_new_process_group`]). A group
/// that is already gone is not an error: there is nothing left to stop.
pub fn kill_process_group(pgid: u32) {
    if let Ok(raw) = i32::try_from(pgid) {
        let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
    }
}

/// Resolves when the process is asked to quit (SIGTERM, SIGINT); never, when the handlers
/// cannot be installed.
pub async fn quit_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => log::info!("SIGTERM: quitting"),
                _ = int.recv() => log::info!("SIGINT: quitting"),
            }
        }
        _ => std::future::pending().await,
    }
}

/// This process's CPU time (user + system) in seconds, its open descriptors and its limit, as
/// every unix reports them; the resident size is per platform (`None` where it is unknown).
pub fn process_usage() -> (Option<f64>, Option<u64>, Option<u64>) {
    use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage};
    let cpu = getrusage(UsageWho::RUSAGE_SELF).ok().map(|u| {
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        secs(u.user_time()) + secs(u.system_time())
    });
    // /dev/fd lists this process's descriptors on Linux and macOS alike; reading it opens one
    // more, which is not counted.
    let fds = std::fs::read_dir("/dev/fd")
        .ok()
        .map(|d| d.count().saturating_sub(1) as u64);
    let max = getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft);
    (cpu, fds, max)
}
