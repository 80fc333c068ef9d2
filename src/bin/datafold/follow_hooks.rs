//! `follow --on-close CMD [ARG]... ';'`: run a command for each file that
//! reached its final name, to ship it anywhere.
//!
//! The command is a program and its arguments, never a shell string (wrap it
//! in `sh -c '…' sh` for one): each argument `{}` is replaced by the file's
//! path, or the path is appended when there is none. It runs in the
//! background, one file at a time in the order they closed, so polling never
//! waits for it; each run has `--on-close-timeout`, and a run that fails
//! (exit status other than 0, killed, timed out, cannot start) is tried
//! again after 1, 2, 4 and 8 seconds, then given up with an error line. The
//! file is never removed or changed, whatever the command does: shipping and
//! deleting it is the command's business.
//!
//! A follow that stops (SIGTERM, say) waits at most [`DRAIN`] for the runs
//! queued, and retries none: within a Kubernetes grace period of 30 s, with
//! time left to close the output.
//!
//! The command's environment is follow's, without the API key's variables.
//! Its stdout and stderr are follow's stderr.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::follow_metrics::Metrics;

/// Runs of one file: the first and four retries.
const ATTEMPTS: u32 = 5;
/// Files closed and waiting for the command, at most.
const QUEUE: usize = 1024;
/// How long a stopping follow waits for the runs in progress or queued.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The command, and the runs waiting.
pub struct OnClose {
    queue: Option<mpsc::Sender<PathBuf>>,
    worker: JoinHandle<()>,
    stopping: Arc<AtomicBool>,
}

/// What to run, and how.
#[derive(Clone)]
pub struct Hook {
    pub command: Vec<String>,
    pub timeout: Duration,
    /// Variables not passed on (the API key's).
    pub hidden_vars: Vec<String>,
    pub metrics: Option<Arc<Metrics>>,
}

impl OnClose {
    pub fn start(hook: Hook) -> Self {
        let (queue, mut waiting) = mpsc::channel::<PathBuf>(QUEUE);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let worker = tokio::spawn(async move {
            while let Some(path) = waiting.recv().await {
                run_with_retries(&hook, &path, &stop).await;
            }
        });
        Self {
            queue: Some(queue),
            worker,
            stopping,
        }
    }

    /// Queue a run for `path` (never waits: with the queue full, the file
    /// is left as it is, with an error line).
    pub fn closed(&self, path: PathBuf) {
        let Some(queue) = &self.queue else { return };
        if let Err(error) = queue.try_send(path) {
            let path = match error {
                mpsc::error::TrySendError::Full(p) | mpsc::error::TrySendError::Closed(p) => p,
            };
            tracing::error!(
                file = %path.display(),
                "--on-close is not run for this file: {QUEUE} files are waiting for it already; \
                 the file is kept"
            );
        }
    }

    /// Let the runs queued finish, for at most `DRAIN`; say how many were
    /// left.
    pub async fn finish(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let queue = self.queue.take();
        let waiting = queue.as_ref().map_or(0, |q| QUEUE - q.capacity());
        drop(queue);
        if tokio::time::timeout(DRAIN, &mut self.worker).await.is_err() {
            self.worker.abort();
            tracing::warn!(
                waiting,
                "stopped waiting for --on-close after {}s; files it did not finish are kept \
                 (run it on them by hand)",
                DRAIN.as_secs()
            );
        }
    }
}

/// The command line for `path`.
fn argv(command: &[String], path: &std::path::Path) -> Vec<std::ffi::OsString> {
    let path = path.as_os_str();
    let mut args: Vec<std::ffi::OsString> = command
        .iter()
        .map(|a| if a == "{}" { path.to_owned() } else { a.into() })
        .collect();
    if !command.iter().skip(1).any(|a| a == "{}") {
        args.push(path.to_owned());
    }
    args
}

async fn run_with_retries(hook: &Hook, path: &std::path::Path, stopping: &AtomicBool) {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS {
        match run_once(hook, path).await {
            Ok(()) => {
                if let Some(m) = &hook.metrics {
                    Metrics::add(&m.on_close_succeeded, 1);
                }
                tracing::info!(file = %path.display(), attempt, "--on-close done");
                return;
            }
            Err(why) => {
                if let Some(m) = &hook.metrics {
                    Metrics::add(&m.on_close_failed, 1);
                }
                if stopping.load(Ordering::SeqCst) {
                    tracing::error!(
                        file = %path.display(),
                        attempt,
                        "--on-close failed ({why}); not tried again, follow is stopping; the \
                         file is kept"
                    );
                    return;
                }
                if attempt == ATTEMPTS {
                    tracing::error!(
                        file = %path.display(),
                        attempt,
                        "--on-close failed ({why}); given up after {ATTEMPTS} runs, the file \
                         is kept"
                    );
                    return;
                }
                tracing::warn!(
                    file = %path.display(),
                    attempt,
                    "--on-close failed ({why}); trying again in {}s",
                    wait.as_secs()
                );
                // A stop ends the wait: the next run is the last.
                let deadline = tokio::time::Instant::now() + wait;
                while tokio::time::Instant::now() < deadline && !stopping.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                wait *= 2;
            }
        }
    }
}

async fn run_once(hook: &Hook, path: &std::path::Path) -> Result<(), String> {
    let args = argv(&hook.command, path);
    let Some((program, rest)) = args.split_first() else {
        return Err("no command".into());
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(rest)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .stderr(std::io::stderr())
        .kill_on_drop(true);
    for var in &hook.hidden_vars {
        command.env_remove(var);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", hook.command[0]))?;
    match tokio::time::timeout(hook.timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("it exited with {status}")),
        Ok(Err(e)) => Err(format!("cannot wait for it: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "it ran longer than --on-close-timeout {} and was killed",
                crate::time::human(hook.timeout)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_replaces_each_placeholder_or_is_appended() {
        let path = std::path::Path::new("/out/audit-000001.jsonl");
        let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let show = |a: Vec<std::ffi::OsString>| {
            a.into_iter()
                .map(|s| s.into_string().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            show(argv(&words(&["aws", "s3", "cp", "{}", "s3://b/"]), path)),
            ["aws", "s3", "cp", "/out/audit-000001.jsonl", "s3://b/"]
        );
        assert_eq!(
            show(argv(&words(&["gzip", "-k"]), path)),
            ["gzip", "-k", "/out/audit-000001.jsonl"]
        );
    }
}
