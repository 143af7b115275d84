//! The command-line client (`imagepipe`, the `cli` crate) run as a user runs it, as a process
//! against the real system: a folder end to end, an interrupted run resumed, a refused file
//! reported with its code, the task commands, and the exit codes of what cannot work.

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

#[tokio::test]
async fn a_folder_of_images_comes_back_as_grayscale_results() {
    let system = TestSystem::start(Options {
        processing_delay_ms: 20,
        ..Options::default()
    })
    .await;
    let images = [
        "good/chelsea.png",
        "good/coffee.png",
        "good/rocket.jpg",
        "good/rocket.webp",
    ];
    let input = folder_of(&images);
    std::fs::write(input.path().join("notes.txt"), "not an image: not sent").unwrap();
    let out = input.path().join("results");

    let ran = imagepipe(
        &system.base_url,
        &[
            "submit",
            path_str(input.path()),
            "--wait",
            "--out",
            path_str(&out),
            "--json",
        ],
    )
    .await;
    ran.assert_code(0, "every task COMPLETED");
    let lines = ran.lines();
    assert_eq!(
        lines.len(),
        images.len(),
        "one line per image, notes.txt skipped"
    );
    assert_eq!(system.task_count().await, images.len() as i64);

    for (image, result) in [
        ("chelsea.png", "chelsea.result.png"),
        ("coffee.png", "coffee.result.png"),
        ("rocket.jpg", "rocket.result.jpg"),
        // Anything but a JPEG becomes a PNG: its own name, not rocket.jpg's.
        ("rocket.webp", "rocket.result.png"),
    ] {
        let line = line_of(&lines, image);
        assert_eq!(line["ok"], true, "{line}");
        assert_eq!(line["status"], "COMPLETED", "{line}");
        let path = out.join(result);
        assert_eq!(line["result"], path_str(&path), "{line}");
        let (_, task) = system
            .task(line["task_id"].as_str().unwrap().parse().unwrap())
            .await;
        let decoded = image::open(&path).unwrap_or_else(|e| panic!("{result}: {e}"));
        assert_eq!(
            (i64::from(decoded.width()), i64::from(decoded.height())),
            (
                task["result"]["width"].as_i64().unwrap(),
                task["result"]["height"].as_i64().unwrap()
            ),
            "{result} has the size the task reports"
        );
        assert_eq!(line["width"], task["result"]["width"]);
        assert!(
            decoded
                .to_rgb8()
                .pixels()
                .all(|p| p[0] == p[1] && p[1] == p[2]),
            "{result} is grayscale (the default chain)"
        );
    }
    system.cleanup().await;
}

#[tokio::test]
async fn an_interrupted_submit_run_again_makes_no_duplicates() {
    // Slow enough that a run with --wait is still waiting when it is killed.
    let system = TestSystem::start(Options {
        processing_delay_ms: 1000,
        ..Options::default()
    })
    .await;
    let input = folder_of(&[
        "good/camera.png",
        "good/chelsea.png",
        "good/coffee.png",
        "good/photo-2mp.jpg",
        "good/rocket.jpg",
    ]);
    let out = input.path().join("results");
    let dir = path_str(input.path());
    let waiting = ["submit", dir, "--wait", "--out", path_str(&out), "--json"];

    // Killed (SIGKILL: no chance to clean up) in the middle of its uploads, one at a time:
    // as soon as the first task exists.
    let mut uploading = command(&system.base_url, &["submit", dir, "--concurrency", "1"])
        .spawn()
        .unwrap();
    while system.task_count().await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    uploading.kill().await.unwrap();
    // Run again with --wait, and killed while it waits.
    let mut polling = command(&system.base_url, &waiting).spawn().unwrap();
    system
        .eventually("every file uploaded", Duration::from_secs(60), || async {
            system.task_count().await >= 5
        })
        .await;
    polling.kill().await.unwrap();

    let resumed = imagepipe(&system.base_url, &waiting).await;
    resumed.assert_code(0, "the third run waits for the same tasks");
    let lines = resumed.lines();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["ok"] == true), "{lines:?}");
    assert_eq!(system.task_count().await, 5, "no task made twice");
    let ids = task_ids(&lines);
    assert_eq!(ids.len(), 5);
    for result in [
        "camera.result.png",
        "chelsea.result.png",
        "coffee.result.png",
        "photo-2mp.result.jpg",
        "rocket.result.jpg",
    ] {
        assert!(out.join(result).exists(), "{result} written");
    }

    // Once more, after everything is done: the same tasks again.
    let again = imagepipe(&system.base_url, &["submit", dir, "--json"]).await;
    again.assert_code(0, "accepted again");
    assert_eq!(task_ids(&again.lines()), ids, "the same task ids");
    assert_eq!(system.task_count().await, 5);
    system.cleanup().await;
}

#[tokio::test]
async fn a_refused_file_and_a_failed_task_are_reported_with_their_codes() {
    let system = TestSystem::start(Options {
        processing_delay_ms: 20,
        ..Options::default()
    })
    .await;
    let input = folder_of(&[
        "good/rocket.jpg",
        "good/chelsea.png",
        // 422 empty_file at upload; 202, then FAILED undecodable_image.
        "bad/empty.png",
        "bad/truncated.jpg",
    ]);
    let out = TempDir::new();

    let ran = imagepipe(
        &system.base_url,
        &[
            "submit",
            path_str(input.path()),
            "--wait",
            "--out",
            path_str(out.path()),
            "--json",
        ],
    )
    .await;
    ran.assert_code(1, "some files did not make it");
    let lines = ran.lines();
    assert_eq!(lines.len(), 4);

    let empty = line_of(&lines, "empty.png");
    assert_eq!(empty["ok"], false);
    assert_eq!(empty["task_id"], Value::Null, "refused: no task");
    assert_eq!(empty["error"]["code"], "empty_file", "{empty}");
    assert_eq!(empty["error"]["http_status"], 422);
    let truncated = line_of(&lines, "truncated.jpg");
    assert_eq!(truncated["ok"], false);
    assert_eq!(truncated["status"], "FAILED");
    assert_eq!(
        truncated["error"]["code"], "undecodable_image",
        "{truncated}"
    );
    for good in ["rocket.jpg", "chelsea.png"] {
        assert_eq!(line_of(&lines, good)["ok"], true);
    }
    assert!(!out.path().join("truncated.result.jpg").exists());

    // The summary for people names each file and why.
    assert!(
        ran.stderr.contains("2 of 4 files completed"),
        "{}",
        ran.stderr
    );
    for expected in [
        "empty.png",
        "empty_file (HTTP 422)",
        "truncated.jpg",
        "undecodable_image",
    ] {
        assert!(
            ran.stderr.contains(expected),
            "{expected} in {}",
            ran.stderr
        );
    }
    system.cleanup().await;
}

const KEY: &str = "cli-test-key";

/// `--api-key KEY --json ARGS...`.
fn keyed<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["--api-key", KEY, "--json"][..], args].concat()
}

#[tokio::test]
async fn task_commands_with_an_api_key_and_the_exit_codes_of_what_cannot_work() {
    let mut system = TestSystem::start(Options {
        processing_delay_ms: 20,
        api_keys: vec![KEY.to_owned()],
        // Tasks stay PENDING until the processor starts, so one can be cancelled.
        start_processor: false,
        ..Options::default()
    })
    .await;
    let url = system.base_url.clone();
    let input = folder_of(&["good/rocket.jpg", "good/chelsea.png", "bad/truncated.jpg"]);
    let file = |name: &str| input.path().join(name).to_str().unwrap().to_owned();

    // No key, or a wrong one: exit 2, nothing made, and the message says what to do.
    for wrong in [&[][..], &["--api-key", "not-the-key"][..]] {
        let ran = imagepipe(&url, &[wrong, &["submit", &file("rocket.jpg")]].concat()).await;
        ran.assert_code(2, "the key is refused");
        assert!(
            ran.stderr.contains("unauthorized") && ran.stderr.contains("--api-key"),
            "{}",
            ran.stderr
        );
    }
    assert_eq!(system.task_count().await, 0);

    let submitted = imagepipe(&url, &keyed(&["submit", path_str(input.path())])).await;
    submitted.assert_code(0, "all accepted");
    let lines = submitted.lines();
    let id_of = |name: &str| {
        line_of(&lines, name)["task_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (rocket, chelsea, truncated) = (
        id_of("rocket.jpg"),
        id_of("chelsea.png"),
        id_of("truncated.jpg"),
    );

    let cancelled = imagepipe(&url, &keyed(&["cancel", &rocket])).await;
    cancelled.assert_code(0, "a PENDING task is cancelled");
    assert_eq!(cancelled.lines()[0]["status"], "CANCELLED");
    let again = imagepipe(&url, &keyed(&["cancel", &rocket])).await;
    again.assert_code(1, "an ended task cannot be cancelled");
    assert_eq!(again.lines()[0]["error"]["code"], "task_not_cancellable");

    system.start_processor();
    for (id, wanted) in [(&chelsea, "COMPLETED"), (&truncated, "FAILED")] {
        let start = tokio::time::Instant::now();
        loop {
            let status = imagepipe(&url, &keyed(&["status", id])).await;
            status.assert_code(0, "status of a task");
            let task = &status.lines()[0];
            assert_eq!(task["task_id"], id.as_str());
            if task["status"] == wanted {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{id} {wanted}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let completed = imagepipe(&url, &keyed(&["list", "--status", "COMPLETED"])).await;
    completed.assert_code(0, "list");
    let page = &completed.lines()[0];
    let tasks = page["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{page}");
    assert_eq!(tasks[0]["task_id"], chelsea.as_str());
    // One task a page, every page followed: each task once.
    let pages = imagepipe(&url, &keyed(&["list", "--limit", "1", "--all"])).await;
    pages.assert_code(0, "list --all");
    let pages = pages.lines();
    assert_eq!(pages.len(), 3, "{pages:?}");
    let listed: HashSet<&str> = pages
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap())
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        HashSet::from([rocket.as_str(), chelsea.as_str(), truncated.as_str()])
    );

    let retried = imagepipe(&url, &keyed(&["retry", &truncated])).await;
    retried.assert_code(0, "a FAILED task is queued again");
    assert_eq!(retried.lines()[0]["task_id"], truncated.as_str());
    let refused = imagepipe(&url, &keyed(&["retry", &chelsea])).await;
    refused.assert_code(1, "only a FAILED task can be retried");
    assert_eq!(refused.lines()[0]["error"]["code"], "task_not_retryable");
    let nobody = Uuid::now_v7().to_string();
    let unknown = imagepipe(&url, &keyed(&["status", &nobody])).await;
    unknown.assert_code(1, "no such task");
    assert_eq!(unknown.lines()[0]["error"]["code"], "task_not_found");

    // The same file again, now waiting: the first upload's task, its result downloaded
    // through the API with the key.
    let out = TempDir::new();
    let fetched = imagepipe(
        &url,
        &keyed(&[
            "submit",
            &file("chelsea.png"),
            "--wait",
            "--out",
            path_str(out.path()),
        ]),
    )
    .await;
    fetched.assert_code(0, "COMPLETED and downloaded");
    assert_eq!(fetched.lines()[0]["task_id"], chelsea.as_str());
    image::open(out.path().join("chelsea.result.png")).unwrap();
    assert_eq!(system.task_count().await, 3);

    // What cannot work at all: exit 2.
    let closed = format!("http://127.0.0.1:{}", claim_port());
    let unreachable = imagepipe(&closed, &["--json", "submit", &file("rocket.jpg")]).await;
    unreachable.assert_code(2, "no server there");
    assert_eq!(unreachable.lines()[0]["error"]["code"], "connection_error");
    imagepipe(&closed, &["status", &rocket])
        .await
        .assert_code(2, "no server there");
    for usage in [
        &["submit"][..],
        &["status", "not-a-uuid"],
        &["submit", &file("rocket.jpg"), "--steps", "not json"],
        &["submit", &file("missing.png")],
        &[
            "submit",
            &file("rocket.jpg"),
            "--steps",
            "[]",
            "--preset",
            "web",
        ],
    ] {
        imagepipe(&url, &keyed(usage))
            .await
            .assert_code(2, &format!("usage: {usage:?}"));
    }
    system.cleanup().await;
}
