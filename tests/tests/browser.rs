//! The web page in a real browser, with authentication off and on.
//!
//! Off: a person who opens ingest's page at `/`, picks the `thumbnail` preset and an image
//! with the keyboard sees it go through the pipeline to COMPLETED, with the original and the
//! processed image both shown and the result's size and format, fed by the page's own API
//! calls and event stream; then types a chain of steps and uploads a second image with it.
//!
//! On (`API_KEYS` set): the page without a key says it needs one and focuses the key field;
//! with the key typed in it uploads, follows the task to COMPLETED (reconnecting after its
//! first stream is cut), and after a reload still has the key (session storage) and lists
//! the task.
//!
//! Both check, from the requests Chromium sent, that tasks were followed through their event
//! streams with `fetch` (so the key can travel in `X-API-Key`), and that no key went into a
//! URL or to the object store.
//!
//! Swagger UI at `/docs` renders every operation of the served document and reports no error
//! (docs.mjs): the document is one it reads without complaint.
//!
//! Drives Debian's headless Chromium with `tests/browser/upload.mjs`, `auth.mjs` and `docs.mjs`
//! (playwright-core, one browser launch per test); needs `apt-get install -y chromium` and
//! `npm ci --prefix tests/browser`, which scripts/test.sh does. Leaves the pages' screenshots
//! in `target/browser/`.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    time::Duration,
};

use imagepipe_tests::{Options, TestSystem, testdata};
use reqwest::Method;
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const API_KEY: &str = "browser-key-7f3a";

/// Runs `script` (in `tests/browser`) against `system` with `env`, asserts it succeeded and
/// left a PNG screenshot `target/browser/{screenshot}`, and returns what it printed.
async fn run_script(
    system: &TestSystem,
    script: &str,
    screenshot: &str,
    env: &[(&str, &OsStr)],
) -> String {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser = manifest.join("browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` \
         (scripts/test.sh does)"
    );
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `apt-get install -y chromium`"
    );
    let screenshot = manifest.join("../target/browser").join(screenshot);
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    // A screenshot from an earlier run must not pass for this one's.
    let _ = std::fs::remove_file(&screenshot);

    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser.join(script))
        .current_dir(&browser)
        .env("BASE_URL", &system.base_url)
        .env("SCREENSHOT", &screenshot)
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    // The script gives up after 60 s of waiting; this covers Chromium's start on a busy machine.
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} finished within 120 s"))
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("--- {script} stdout ---\n{stdout}--- {script} stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|e| panic!("screenshot {}: {e}", screenshot.display()));
    assert!(
        png.starts_with(PNG_SIGNATURE),
        "{} is a PNG",
        screenshot.display()
    );
    stdout
}

/// The system's tasks, newest first, as `api_key` lists them; each must have been followed
/// by the page, its events through `fetch`.
async fn tasks_the_page_followed(
    system: &TestSystem,
    api_key: Option<&str>,
    stdout: &str,
) -> Vec<Value> {
    let (status, page) = system
        .call(Method::GET, "/api/v1/tasks?limit=20", api_key)
        .await;
    assert_eq!(status, 200, "{page}");
    let tasks = page["tasks"].as_array().expect("tasks").clone();
    for task in &tasks {
        assert_eq!(task["status"], "COMPLETED", "{task}");
        assert!(task["result"]["download_url"].is_string(), "{task}");
        let events = format!(
            "events: GET {}/api/v1/tasks/{}/events (fetch)",
            system.base_url,
            task["task_id"].as_str().unwrap()
        );
        assert!(
            stdout.contains(&events),
            "the page followed the task's events with fetch ({events}):\n{stdout}"
        );
    }
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_uploads_an_image_and_shows_it_processed() {
    // Slow enough that the page can show PENDING and PROCESSING before COMPLETED.
    let system = TestSystem::start(Options {
        processing_delay_ms: 300,
        ..Options::default()
    })
    .await;
    let stdout = run_script(
        &system,
        "upload.mjs",
        "page.png",
        &[
            ("IMAGE", testdata("good/rocket.jpg").as_os_str()),
            ("STEPS_IMAGE", testdata("good/chelsea.png").as_os_str()),
        ],
    )
    .await;
    assert!(
        stdout.contains("X-API-Key absent"),
        "no key sent without one:\n{stdout}"
    );

    // The page's uploads are the system's two tasks, newest first, and the API says they
    // completed with the chains the page sent.
    let tasks = tasks_the_page_followed(&system, None, &stdout).await;
    assert_eq!(tasks.len(), 2, "two uploads from the page: {tasks:?}");
    let (custom, thumbnail) = (&tasks[0], &tasks[1]);
    assert_eq!(thumbnail["original_filename"], "rocket.jpg", "{thumbnail}");
    assert_eq!(thumbnail["preset"], "thumbnail", "{thumbnail}");
    assert_eq!(
        thumbnail["result"]["content_type"], "image/jpeg",
        "{thumbnail}"
    );
    assert_eq!(custom["original_filename"], "chelsea.png", "{custom}");
    // Absent or null: both mean no preset.
    assert!(custom["preset"].is_null(), "{custom}");
    assert_eq!(custom["steps"][0]["op"], "resize", "{custom}");
    assert_eq!(custom["result"]["width"], 120, "{custom}");
    assert_eq!(custom["result"]["content_type"], "image/webp", "{custom}");

    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_api_keys_the_page_asks_for_a_key_and_works_with_it() {
    let system = TestSystem::start(Options {
        processing_delay_ms: 300,
        api_keys: vec![API_KEY.into()],
        ..Options::default()
    })
    .await;
    let stdout = run_script(
        &system,
        "auth.mjs",
        "page-auth.png",
        &[
            ("IMAGE", testdata("good/rocket.jpg").as_os_str()),
            ("API_KEY", OsStr::new(API_KEY)),
        ],
    )
    .await;
    assert!(
        stdout.contains("X-API-Key sent"),
        "the events carried the key:\n{stdout}"
    );
    assert!(
        stdout.contains("reconnected after a cut stream"),
        "the page opened a cut stream again:\n{stdout}"
    );

    // The one task is the key's, uploaded and followed by the page.
    let tasks = tasks_the_page_followed(&system, Some(API_KEY), &stdout).await;
    assert_eq!(tasks.len(), 1, "one upload from the page: {tasks:?}");
    assert_eq!(tasks[0]["original_filename"], "rocket.jpg", "{}", tasks[0]);
    assert_eq!(tasks[0]["preset"], "thumbnail", "{}", tasks[0]);
    let (status, _) = system
        .call(Method::GET, "/api/v1/tasks?limit=20", None)
        .await;
    assert_eq!(status, 401, "the list needs the key");

    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_shows_every_operation_without_errors() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let document = system.openapi_document().await;
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    let stdout = run_script(
        &system,
        "docs.mjs",
        "docs.png",
        &[("OPERATIONS", OsStr::new(&operations.to_string()))],
    )
    .await;
    assert!(
        stdout.contains(&format!("swagger ui: {operations} operations, no errors")),
        "{stdout}"
    );
    system.cleanup().await;
}
