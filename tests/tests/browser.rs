//! The web page in a real browser: a person who opens ingest's page at `/`, picks the
//! `thumbnail` preset and an image with the keyboard sees it go through the pipeline to
//! COMPLETED, with the original and the processed image both shown and the result's size and
//! format, fed by the page's own API calls and event stream; then types a chain of steps and
//! uploads a second image with it.
//!
//! Drives Debian's headless Chromium with `tests/browser/upload.mjs` (playwright-core); needs
//! `apt-get install -y chromium` and `npm ci --prefix tests/browser`, which scripts/test.sh
//! does. Leaves the page's screenshot in `target/browser/page.png`.

use std::{path::PathBuf, time::Duration};

use imagepipe_tests::{Options, TestSystem, testdata};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_uploads_an_image_and_shows_it_processed() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser = manifest.join("browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` \
         (scripts/test.sh does)"
    );
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `apt-get install -y chromium`"
    );
    let screenshot = manifest.join("../target/browser/page.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    // A screenshot from an earlier run must not pass for this one's.
    let _ = std::fs::remove_file(&screenshot);

    // Slow enough that the page can show PENDING and PROCESSING before COMPLETED.
    let system = TestSystem::start(Options {
        processing_delay_ms: 300,
        ..Options::default()
    })
    .await;

    let run = tokio::process::Command::new("node")
        .arg(browser.join("upload.mjs"))
        .current_dir(&browser)
        .env("BASE_URL", &system.base_url)
        .env("IMAGE", testdata("good/rocket.jpg"))
        .env("STEPS_IMAGE", testdata("good/chelsea.png"))
        .env("SCREENSHOT", &screenshot)
        .kill_on_drop(true)
        .output();
    // The script gives up after 60 s of waiting; this covers Chromium's start on a busy machine.
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("upload.mjs finished within 120 s")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("--- upload.mjs stdout ---\n{stdout}--- upload.mjs stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "upload.mjs failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|e| panic!("screenshot {}: {e}", screenshot.display()));
    assert!(
        png.starts_with(PNG_SIGNATURE),
        "{} is a PNG",
        screenshot.display()
    );

    // The page's uploads are the system's two tasks, newest first, and the API says they
    // completed with the chains the page sent.
    let (status, page) = system
        .call(reqwest::Method::GET, "/api/v1/tasks?limit=20", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let tasks = page["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2, "two uploads from the page: {page}");
    let (custom, thumbnail): (&Value, &Value) = (&tasks[0], &tasks[1]);
    for task in [custom, thumbnail] {
        assert_eq!(task["status"], "COMPLETED", "{task}");
        assert!(task["result"]["download_url"].is_string(), "{task}");
        let task_id = task["task_id"].as_str().unwrap();
        assert!(
            stdout.contains(task_id),
            "the page followed the same task ({task_id}):\n{stdout}"
        );
    }
    assert_eq!(thumbnail["original_filename"], "rocket.jpg", "{thumbnail}");
    assert_eq!(thumbnail["preset"], "thumbnail", "{thumbnail}");
    assert_eq!(
        thumbnail["result"]["content_type"], "image/jpeg",
        "{thumbnail}"
    );
    assert_eq!(custom["original_filename"], "chelsea.png", "{custom}");
    assert_eq!(custom["preset"], Value::Null, "{custom}");
    assert_eq!(custom["steps"][0]["op"], "resize", "{custom}");
    assert_eq!(custom["result"]["width"], 120, "{custom}");
    assert_eq!(custom["result"]["content_type"], "image/webp", "{custom}");

    system.cleanup().await;
}
