//! `imagepipe submit`: a folder end to end, an interrupted run resumed, a refused file
//! reported with its code, a run against a rate-limited server.

use super::*;

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

#[tokio::test]
async fn a_rate_limited_submit_waits_out_retry_after_and_sends_every_file() {
    // One request a second, no burst beyond it: four uploads in a row meet 429s, each with
    // `Retry-After: 1`, which the client waits out and sends again.
    let system = TestSystem::start(Options {
        processing_delay_ms: 20,
        rate_limit_per_minute: 60,
        rate_limit_burst: Some(1),
        ..Options::default()
    })
    .await;
    let images = [
        "good/chelsea.png",
        "good/coffee.png",
        "good/rocket.jpg",
        "good/camera.png",
    ];
    let input = folder_of(&images);
    let ran = imagepipe(
        &system.base_url,
        &[
            "submit",
            path_str(input.path()),
            "--concurrency",
            "4",
            "--json",
        ],
    )
    .await;
    ran.assert_code(0, "every file accepted once the limit let it through");
    let lines = ran.lines();
    assert_eq!(lines.len(), images.len());
    assert!(lines.iter().all(|l| l["ok"] == true), "{lines:?}");
    assert_eq!(task_ids(&lines).len(), images.len());
    assert_eq!(system.task_count().await, images.len() as i64);
    system.cleanup().await;
}
