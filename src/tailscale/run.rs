//! Run the CLI without a shell, bounded, and kill its whole process group when it runs over.
//!
//! `tailscale serve` can block forever in its consent flow and `tailscale cert` can hang on a
//! stuck ACME order, so every call has a deadline. The child is made the leader of a new process
//! group, so anything it spawned dies with it. Dropping the future (the engine cancels probes
//! once the verdict is certain) kills the group too.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// What a finished call printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub ms: u64,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// stdout and stderr together, for matching messages that either stream may carry.
    pub fn all_text(&self) -> String {
        format!("{}\n{}", self.stdout_text(), self.stderr_text())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run {path}: {source}")]
    Spawn { path: PathBuf, source: io::Error },
    /// Killed at the deadline; whatever it printed until then is kept (a consent URL, say).
    #[error("{path} did not finish within {} s and was stopped", after.as_secs_f32())]
    TimedOut {
        path: PathBuf,
        after: Duration,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
}

/// Kills the process group unless disarmed: on timeout and when the future is dropped.
struct GroupGuard {
    pgid: Option<u32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            crate::platform::kill_process_group(pgid);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn read_all(mut r: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(r) = r.as_mut() {
        // A read error ends the capture; what was read so far is still evidence.
        let _ = r.read_to_end(&mut buf).await;
    }
    buf
}

/// Runs `program args…` with `stdin` (if any), waiting at most `timeout` in total.
pub async fn run(
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, RunError> {
    run_in(program, args, stdin, timeout, None).await
}

/// Like [`run`], in working directory `cwd` (for `tailscale cert`, which writes files there).
pub async fn run_in(
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
    cwd: Option<&Path>,
) -> Result<Output, RunError> {
    let start = Instant::now();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    crate::platform::lead_new_process_group(&mut cmd);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        path: program.to_path_buf(),
        source,
    })?;
    let mut guard = GroupGuard { pgid: child.id() };

    let out = tokio::spawn(read_all(child.stdout.take()));
    let err = tokio::spawn(read_all(child.stderr.take()));
    let input = stdin.map(<[u8]>::to_vec);
    let mut child_stdin = child.stdin.take();

    let finished = tokio::time::timeout(timeout, async {
        if let (Some(mut w), Some(bytes)) = (child_stdin.take(), input) {
            // A child that exits without reading its stdin is not our error; its output says why.
            let _ = w.write_all(&bytes).await;
            let _ = w.shutdown().await;
        }
        child.wait().await
    })
    .await;

    let code = match finished {
        Ok(Ok(status)) => status.code(),
        Ok(Err(_)) | Err(_) => {
            guard.kill();
            let _ = child.wait().await;
            let stdout = out.await.unwrap_or_default();
            let stderr = err.await.unwrap_or_default();
            return Err(RunError::TimedOut {
                path: program.to_path_buf(),
                after: timeout,
                stdout,
                stderr,
            });
        }
    };
    // The leader is gone; a grandchild could still hold the pipes open. Give the readers what
    // is left of the budget, then stop the group for good.
    let left = timeout.saturating_sub(start.elapsed());
    let (stdout, stderr) = match tokio::time::timeout(left, async { (out.await, err.await) }).await
    {
        Ok((o, e)) => {
            guard.pgid = None;
            (o.unwrap_or_default(), e.unwrap_or_default())
        }
        Err(_) => {
            guard.kill();
            return Err(RunError::TimedOut {
                path: program.to_path_buf(),
                after: timeout,
                stdout: Vec::new(),
                stderr: Vec::new(),
            });
        }
    };
    Ok(Output {
        code,
        stdout,
        stderr,
        ms: start.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> &'static Path {
        Path::new("/bin/sh")
    }

    #[tokio::test]
    async fn captures_both_streams_and_exit_code() {
        let o = run(
            sh(),
            &["-c", "echo out; echo err >&2; exit 3"],
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(o.code, Some(3));
        assert_eq!(o.stdout_text(), "out\n");
        assert_eq!(o.stderr_text(), "err\n");
    }

    #[tokio::test]
    async fn stdin_is_delivered() {
        let o = run(
            Path::new("/bin/cat"),
            &[],
            Some(b"{\"a\":1}"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(o.stdout, b"{\"a\":1}");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group_and_keeps_partial_output() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        let script = format!(
            "echo visit https://x/f/serve; sleep 300 & echo $! > {}; wait",
            pidfile.display()
        );
        let e = run(sh(), &["-c", &script], None, Duration::from_millis(500))
            .await
            .unwrap_err();
        let RunError::TimedOut { stdout, .. } = e else {
            panic!("{e:?}")
        };
        assert!(String::from_utf8_lossy(&stdout).contains("https://x/f/serve"));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered before killpg returns; the orphaned sleep is reaped by init, so
        // poll briefly for it to disappear rather than assume instant reaping.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
        });
        assert!(gone, "grandchild {pid} survived");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let e = run(
            Path::new("/nonexistent/tailscale"),
            &[],
            None,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, RunError::Spawn { .. }), "{e:?}");
    }
}
