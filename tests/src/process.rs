//! A service run as its own process, for the tests that kill it (SIGKILL) or stop it
//! (SIGTERM) the way an orchestrator would.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::{Child, Command};

pub struct ServiceProcess {
    child: Child,
    name: String,
}

/// Where cargo put the workspace's binaries: beside this test binary's `deps/` folder.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --bins`; scripts/test.sh does)",
        path.display()
    );
    path
}

impl ServiceProcess {
    /// What `binary --version` prints (the processor's names its test hooks when it has them).
    pub fn version(name: &str) -> String {
        let output = std::process::Command::new(binary(name))
            .arg("--version")
            .env_clear()
            .output()
            .expect("the binary runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Run `binary` with flags and only the environment `env` until it exits by itself
    /// (within `deadline`, or the test fails): its exit code and what it wrote to stderr. For
    /// the settings a service must refuse at start.
    pub async fn run_to_exit(
        name: &str,
        args: &[String],
        env: &[(&str, String)],
        deadline: Duration,
    ) -> (Option<i32>, String) {
        let mut command = Command::new(binary(name));
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(deadline, command.output())
            .await
            .unwrap_or_else(|_| panic!("{name} did not exit within {deadline:?}"))
            .expect("the binary runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Start `binary` (e.g. `imagepipe-processor`) with flags and only the environment
    /// `env`: the flags carry all its settings (`TestSystem::processor_args`), and a variable
    /// set where the tests run (`DATABASE_URL`...) must not change them.
    pub fn spawn(name: &str, args: &[String], env: &[(&str, String)]) -> Self {
        Self::spawn_logged(name, args, env, None)
    }

    /// [`spawn`](Self::spawn), with what the process writes (stdout and stderr) appended to
    /// the file `log` when one is given: for a long run whose services' logs are read after.
    pub fn spawn_logged(
        name: &str,
        args: &[String],
        env: &[(&str, String)],
        log: Option<&Path>,
    ) -> Self {
        let mut command = Command::new(binary(name));
        command
            .args(args)
            .env_clear()
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        if let Some(path) = log {
            let file = std::fs::File::options()
                .create(true)
                .append(true)
                .open(path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let copy = file.try_clone().expect("log file handle");
            command.stdout(copy).stderr(file);
        } else if std::env::var_os("TEST_LOG").is_none() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = command.spawn().expect("service process starts");
        Self {
            child,
            name: name.to_owned(),
        }
    }

    /// The most memory the process has held at once (VmHWM, its peak resident set), in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib * 1024
    }

    /// SIGKILL: no chance to clean up, as in a crash or an OOM kill.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// SIGTERM, then wait for the exit; returns the exit code.
    pub async fn terminate(mut self, deadline: Duration) -> Option<i32> {
        let pid = self.child.id().expect("running");
        assert!(
            send_signal(pid, "TERM", false),
            "SIGTERM sent to {}",
            self.name
        );
        let status = tokio::time::timeout(deadline, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {deadline:?} of SIGTERM", self.name))
            .expect("exit status");
        status.code()
    }

    /// SIGTERM, then wait for the exit: `Some(code)` (`Some(None)`: ended by a signal), or
    /// `None` if it did not exit within `deadline`, after which it is SIGKILLed. For a run that
    /// counts unclean stops instead of failing at the first.
    pub async fn terminate_or_kill(mut self, deadline: Duration) -> Option<Option<i32>> {
        let pid = self.child.id()?;
        send_signal(pid, "TERM", false);
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => Some(status.ok().and_then(|s| s.code())),
            Err(_) => {
                let _ = self.child.kill().await;
                None
            }
        }
    }

    /// The exit code if the process has ended (`Some(None)`: by a signal), without waiting.
    pub fn exited(&mut self) -> Option<Option<i32>> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|status| status.code())
    }

    /// Wait for the process to end by itself (e.g. after it aborted); returns whether it did
    /// within `deadline`.
    pub async fn exited_within(&mut self, deadline: Duration) -> bool {
        tokio::time::timeout(deadline, self.child.wait())
            .await
            .is_ok()
    }
}

/// Send `signal` (`TERM`, `KILL`...) to the process `pid`, or to its whole process group when
/// `group` (the group of a child spawned with `process_group(0)` has the child's pid as its
/// id), with kill(1): this crate has no libc binding. Whether kill(1) says it was sent.
pub(crate) fn send_signal(pid: u32, signal: &str, group: bool) -> bool {
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), "--", &target])
        .status()
        .is_ok_and(|status| status.success())
}
