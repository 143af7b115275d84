//! The command-line client (`imagepipe`, the `cli` crate) run as a user runs it, as a process
//! against the real system: a folder end to end, an interrupted run resumed, a refused file
//! reported with its code, a rate-limited run, the task commands, and the exit codes of what
//! cannot work. This file runs the client; each command's tests are a module.

mod submit;
mod task_commands;

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use imagepipe_tests::{Options, TestSystem, claim_port, testdata};
use serde_json::Value;
use tokio::process::Command;
use uuid::Uuid;

/// How a run of the client ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Its `--json` output: one object per line.
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{e}: {line:?} is not JSON; stderr: {}", self.stderr)
                })
            })
            .collect()
    }

    fn assert_code(&self, code: i32, what: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "{what}\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }
}

/// The client's binary, built beside this test binary by `cargo build --bins`.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("imagepipe");
    assert!(
        path.exists(),
        "{} is missing: `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// `imagepipe --url URL ARGS...` with nothing from this environment (no IMAGEPIPE_URL,
/// no IMAGEPIPE_API_KEY), not attached to a terminal.
fn command(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("--url")
        .arg(url)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn imagepipe(url: &str, args: &[&str]) -> Ran {
    let output = tokio::time::timeout(Duration::from_secs(120), command(url, args).output())
        .await
        .unwrap_or_else(|_| panic!("imagepipe {args:?} did not end within 2 minutes"))
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A folder of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("imagepipe-cli-{}", Uuid::new_v4()));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A folder of copies of test files (`good/x.png`, `bad/y.jpg`), under their own names.
fn folder_of(files: &[&str]) -> TempDir {
    let dir = TempDir::new();
    for file in files {
        let name = Path::new(file).file_name().unwrap();
        std::fs::copy(testdata(file), dir.path().join(name)).unwrap();
    }
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The line of `--json` output about the file named `name`.
fn line_of<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["file"].as_str().is_some_and(|f| f.ends_with(name)))
        .unwrap_or_else(|| panic!("a line about {name} in {lines:?}"))
}

fn task_ids(lines: &[Value]) -> HashSet<Uuid> {
    lines
        .iter()
        .map(|l| l["task_id"].as_str().unwrap().parse().unwrap())
        .collect()
}
