//! Upload to result, on the real services: every test photograph is processed into BT.601
//! grayscale of the same size; every hostile file gets its documented outcome.

use std::time::Duration;

use imagepipe_tests::{
    Options, TestSystem, bad_file, bt601_reference, good_image, mean_abs_diff, testdata_files,
    upright,
};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_good_image_completes_as_bt601_grayscale_of_the_same_size() {
    let system = TestSystem::start(Options::default()).await;

    let mut uploads = Vec::new();
    for path in testdata_files("good") {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let task_id = system.upload_accepted(&name, bytes.clone()).await;
        uploads.push((name, bytes, task_id));
    }
    assert!(uploads.len() >= 10, "the test photographs are there");

    for (name, original_bytes, task_id) in uploads {
        let task = system.wait_terminal(task_id, DEADLINE).await;
        assert_eq!(task["status"], "COMPLETED", "{name}: {task}");
        assert_eq!(task["attempts"], 1, "{name}");
        assert_eq!(task["original_filename"], name.as_str());
        for stamp in ["created_at", "started_at", "completed_at"] {
            assert!(task[stamp].is_string(), "{name}: {stamp} set");
        }

        // The result object exists in the processed bucket...
        let key = task["result"]["key"].as_str().expect("result key");
        let stored = system
            .storage
            .processed
            .get_file(key)
            .await
            .expect("result stored");
        // ...and the presigned URL downloads the same bytes without credentials.
        let url = task["result"]["download_url"]
            .as_str()
            .expect("download url");
        let downloaded = system.http.get(url).send().await.unwrap();
        assert_eq!(downloaded.status(), 200, "{name}: presigned URL works");
        assert_eq!(downloaded.bytes().await.unwrap(), stored, "{name}");

        let result = image::load_from_memory(&stored).expect("result decodes");
        assert!(
            matches!(result.color(), image::ColorType::L8 | image::ColorType::La8),
            "{name}: grayscale, got {:?}",
            result.color()
        );
        let original = upright(&original_bytes);
        assert_eq!(
            (result.width(), result.height()),
            (original.width(), original.height()),
            "{name}: same dimensions as the upright original"
        );
        let mad = mean_abs_diff(&result, &bt601_reference(&original));
        assert!(
            mad <= 2.0,
            "{name}: mean |result - BT.601 luma| = {mad:.3} > 2"
        );
    }
    assert_eq!(system.queue_depth(&system.topology.jobs_queue()).await, 0);
    assert_eq!(system.outbox_len().await, 0);

    system.cleanup().await;
}

async fn problem(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_get_exactly_their_documented_outcomes() {
    let system = TestSystem::start(Options::default()).await;

    for (file, status, code) in [
        ("empty.png", 422, "empty_file"),
        ("not-an-image.jpg", 415, "unsupported_media_type"),
        ("bomb-30000x30000.png", 422, "image_too_large"),
    ] {
        let (got, content_type, body) = problem(system.upload(file, bad_file(file)).await).await;
        assert_eq!(got, status, "{file}: {body}");
        assert_eq!(content_type, "application/problem+json", "{file}");
        assert_eq!(body["code"], code, "{file}: {body}");
        assert_eq!(body["status"], status, "{file}");
    }
    // Refused uploads leave nothing behind: no task row, no object, no job.
    assert_eq!(system.task_count().await, 0);
    assert_eq!(system.outbox_len().await, 0);
    assert_eq!(system.storage.uploads.count().await.unwrap(), 0);
    assert_eq!(system.queue_depth(&system.topology.jobs_queue()).await, 0);

    // The header of a truncated JPEG is fine, so it is accepted, then fails once, for good.
    let task_id = system
        .upload_accepted("truncated.jpg", bad_file("truncated.jpg"))
        .await;
    let task = system.wait_terminal(task_id, DEADLINE).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "undecodable_image", "{task}");
    assert_eq!(
        task["attempts"], 1,
        "a permanent error is not retried: {task}"
    );
    assert!(task["result"].is_null());

    // And an upload without a `file` field is a clear 400.
    let form = reqwest::multipart::Form::new().text("other", "value");
    let response = system
        .http
        .post(system.url("/api/v1/analyze"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, _, body) = problem(response).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("missing_file")));

    // Only the accepted-then-FAILED upload left anything: its task and its original.
    assert_eq!(system.task_count().await, 1);
    assert_eq!(system.queue_depth(&system.topology.jobs_queue()).await, 0);
    assert_eq!(system.storage.uploads.count().await.unwrap(), 1);
    assert_eq!(system.storage.processed.count().await.unwrap(), 0);
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_413_and_keeps_nothing() {
    let system = TestSystem::start(Options {
        max_upload_bytes: 100_000,
        ..Options::default()
    })
    .await;
    // rocket.jpg is 112 kB: over this system's limit.
    let bytes = good_image("rocket.jpg");
    let (status, content_type, body) = problem(system.upload("rocket.jpg", bytes).await).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "payload_too_large");
    assert_eq!(system.task_count().await, 0);
    system.cleanup().await;
}

/// A PNG of random pixels: noise does not compress, so its size follows its pixel count.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut seed: u32 = 12345;
    let noise = image::RgbImage::from_fn(width, height, |_, _| {
        let mut channel = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        image::Rgb([channel(), channel(), channel()])
    });
    let mut png = Vec::new();
    noise
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// Upload `bytes`, wait for COMPLETED, and check the stored original is exactly `bytes`.
async fn assert_stored_unchanged(system: &TestSystem, name: &str, bytes: Vec<u8>) {
    let id = system.upload_accepted(name, bytes.clone()).await;
    let task = system.wait_terminal(id, Duration::from_secs(120)).await;
    assert_eq!(task["status"], "COMPLETED", "{name}: {task}");
    assert_eq!(task["size_bytes"], bytes.len(), "{name}");
    let stored = system
        .storage
        .uploads
        .get_file(task["original"]["key"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        stored.as_ref() == bytes.as_slice(),
        "{name}: the original is stored unchanged"
    );
}

#[tokio::test]
async fn a_large_upload_streams_to_the_store_byte_for_byte_and_completes() {
    // Larger than one multipart part, so ingest spools it to a file and stores it as a
    // multipart upload.
    let png = noise_png(1800, 1400);
    assert!(
        png.len() > imagepipe_shared::storage::PART_SIZE,
        "{} bytes",
        png.len()
    );
    let system = TestSystem::start(Options::default()).await;
    assert_stored_unchanged(&system, "noise.png", png).await;
    system.cleanup().await;
}

#[tokio::test]
async fn uploads_kept_in_memory_spilled_to_disk_or_spooled_to_disk_are_stored_unchanged() {
    use imagepipe_ingest::MEMORY_SPOOL_MAX;
    let small = good_image("rocket.jpg");
    // Over the in-memory limit, under one multipart part: starts in memory, then spills.
    let medium = noise_png(800, 600);
    assert!(small.len() < MEMORY_SPOOL_MAX, "{} bytes", small.len());
    assert!(
        (MEMORY_SPOOL_MAX..imagepipe_shared::storage::PART_SIZE).contains(&medium.len()),
        "{} bytes",
        medium.len()
    );
    // With the default memory budget, and with none (every upload goes to a file).
    for upload_memory_bytes in [Options::default().upload_memory_bytes, 0] {
        let system = TestSystem::start(Options {
            upload_memory_bytes,
            ..Options::default()
        })
        .await;
        assert_stored_unchanged(&system, "rocket.jpg", small.clone()).await;
        assert_stored_unchanged(&system, "noise.png", medium.clone()).await;
        system.cleanup().await;
    }
}

#[tokio::test]
async fn with_unsigned_payloads_originals_and_results_are_stored_and_completed() {
    let system = TestSystem::start(Options {
        s3_unsigned_payload: true,
        ..Options::default()
    })
    .await;
    let bytes = good_image("rocket.jpg");
    assert_stored_unchanged(&system, "rocket.jpg", bytes).await;
    system.cleanup().await;
}
