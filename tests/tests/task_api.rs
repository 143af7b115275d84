//! The task API beyond upload-and-poll: listing with cursors, retrying, idempotent uploads,
//! hostile file names and the exact upload limit (cancelling: `cancellation.rs`).

use std::{collections::HashSet, time::Duration};

use imagepipe_shared::messages::StatusEvent;
use imagepipe_tests::{Options, TestSystem, good_image, task_id_of};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

#[tokio::test]
async fn an_upload_at_the_limit_is_accepted_and_one_byte_over_is_413() {
    let bytes = good_image("logo.png");
    let system = TestSystem::start(Options {
        max_upload_bytes: bytes.len() as u64,
        start_processor: false,
        ..Options::default()
    })
    .await;

    system.upload_accepted("at-limit.png", bytes.clone()).await;

    let mut over = bytes;
    over.push(0);
    let response = system.upload("over.png", over).await;
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "payload_too_large");
    assert_eq!(
        system.task_count().await,
        1,
        "only the upload at the limit is kept"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn hostile_file_names_stay_metadata_and_never_reach_a_key() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let long = "n".repeat(1000);
    let names = [
        "../../x.png",
        "/etc/passwd",
        "..\\..\\windows\\system32.png",
        long.as_str(),
        "originals/00000000-0000-0000-0000-000000000000",
    ];
    for name in names {
        let id = system.upload_accepted(name, good_image("logo.png")).await;
        let (_, task) = system.task(id).await;
        assert_eq!(
            task["original"]["key"],
            format!("originals/{id}"),
            "key of {name:?}"
        );
        let stored = task["original_filename"].as_str().unwrap();
        assert!(
            !stored.chars().any(char::is_control),
            "{stored:?} has no control characters"
        );
        assert!(stored.chars().count() <= 255, "names are bounded");
        assert!(
            system
                .storage
                .uploads
                .exists(&format!("originals/{id}"))
                .await
                .unwrap()
        );
    }

    // Names no HTTP client should send (NUL, a line break inside the header, bytes that are
    // not UTF-8), sent raw: refused as a malformed request, or accepted with a safe key.
    for raw_name in [
        &b"a\x00b.png"[..],
        b"tab\there\x7f.png",
        b"a\r\nb.png",
        b"\xff\xfe../\xc0\xaf.png",
    ] {
        let (status, answer) = upload_raw_name(&system, raw_name).await;
        match status {
            202 => {
                let id = task_id_of(&answer);
                let (_, task) = system.task(id).await;
                assert_eq!(task["original"]["key"], format!("originals/{id}"));
            }
            400 => assert_eq!(answer["code"], "invalid_request", "{answer}"),
            other => panic!("{raw_name:?}: unexpected {other}: {answer}"),
        }
    }
    system.cleanup().await;
}

/// Upload with a file name given as raw bytes in the multipart header.
async fn upload_raw_name(system: &TestSystem, name: &[u8]) -> (u16, Value) {
    let boundary = "imagepipe-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"")
            .into_bytes();
    body.extend_from_slice(name);
    body.extend_from_slice(b"\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(&good_image("logo.png"));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = system
        .http
        .post(system.url("/api/v1/analyze"))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn pagination_visits_every_task_once_while_new_tasks_arrive() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let mut existing = Vec::new();
    for i in 0..13 {
        existing.push(
            system
                .upload_accepted(&format!("{i}.png"), good_image("logo.png"))
                .await,
        );
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tasks?limit=4&cursor={c}"),
            None => "/api/v1/tasks?limit=4".to_owned(),
        };
        let (status, page) = system.call(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        for task in page["tasks"].as_array().unwrap() {
            seen.push(task_id_of(task));
        }
        pages += 1;
        // New uploads between pages must not shift what the next pages hold.
        system
            .upload_accepted("late.png", good_image("logo.png"))
            .await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 4, "13 tasks in pages of 4");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no task twice");
    let mut newest_first = existing.clone();
    newest_first.reverse();
    assert_eq!(
        seen, newest_first,
        "exactly the tasks that existed, newest first"
    );

    let (status, problem) = system
        .call(Method::GET, "/api/v1/tasks?cursor=not-a-cursor", None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
    let (status, _) = system
        .call(Method::GET, "/api/v1/tasks?limit=1000", None)
        .await;
    assert_eq!(status, 400, "limit is bounded");
    let (status, _) = system
        .call(Method::GET, "/api/v1/tasks?status=DONE", None)
        .await;
    assert_eq!(status, 400, "unknown status");
    system.cleanup().await;
}

#[tokio::test]
async fn events_of_an_earlier_run_cannot_touch_a_retried_task() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("cat.png", good_image("logo.png"))
        .await;
    system
        .sql(&format!(
            "UPDATE tasks SET status = 'FAILED', error_code = 'storage_unavailable',
                    completed_at = now() WHERE id = '{id}'"
        ))
        .await;
    let (status, _) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/retry"), None)
        .await;
    assert_eq!(status, 202);

    // A straggler from run 0 says COMPLETED: run 1 has not finished, so nothing changes.
    let stale = StatusEvent::completed(
        id,
        1,
        format!("results/{id}.png"),
        imagepipe_tests::a_png_result(),
    );
    system
        .publish_raw(
            &system.topology.events_exchange(),
            imagepipe_shared::topology::EVENT_ROUTING_KEY,
            &serde_json::to_vec(&stale).unwrap(),
        )
        .await;
    let events = system.topology.events_queue();
    system
        .eventually(
            "the stale event is consumed",
            Duration::from_secs(20),
            || async { system.queue_depth(&events).await == 0 },
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, task) = system.task(id).await;
    assert_eq!(task["status"], "PENDING", "{task}");
    assert_eq!(task["run"], 1);
    system.cleanup().await;
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_reuse_and_guard_concurrent_requests() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let upload = |key: &'static str, bytes: Vec<u8>| {
        let system = &system;
        async move {
            let response = system
                .upload_form(
                    TestSystem::file_form("cat.png", bytes),
                    &[("Idempotency-Key", key)],
                )
                .await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let (status, first) = upload("key-1", good_image("logo.png")).await;
    assert_eq!(status, 202);
    let (status, again) = upload("key-1", good_image("logo.png")).await;
    assert_eq!(status, 202, "a replay answers like the first time");
    assert_eq!(task_id_of(&again), task_id_of(&first), "the same task");
    assert_eq!(system.task_count().await, 1);

    let (status, problem) = upload("key-1", good_image("camera.png")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // Many at once with a fresh key: one task, and every answer is that task or a 409.
    let answers =
        futures::future::join_all((0..8).map(|_| upload("key-2", good_image("coffee.png")))).await;
    let ids: HashSet<Uuid> = answers
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, body)| task_id_of(body))
        .collect();
    assert_eq!(ids.len(), 1, "one task for one key: {answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == 202 || (*status == 409 && body["code"] == "idempotency_key_in_use"),
            "{status}: {body}"
        );
    }
    assert_eq!(system.task_count().await, 2);

    // A request still running holds its key.
    let digest = sha256_hex(&good_image("astronaut.png"));
    system
        .sql(&format!(
            "INSERT INTO idempotency_keys (scope, key, request_sha256, expires_at)
             VALUES ('', 'key-3', decode('{digest}', 'hex'), now() + interval '1 hour')"
        ))
        .await;
    let (status, problem) = upload("key-3", good_image("astronaut.png")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("idempotency_key_in_use"))
    );

    // A refused upload releases its key: the corrected retry with the same key goes through.
    let (status, _) = upload("key-4", Vec::new()).await;
    assert_eq!(status, 422);
    let (status, _) = upload("key-4", good_image("logo.png")).await;
    assert_eq!(status, 202);

    let long_key: &'static str = Box::leak("k".repeat(300).into_boxed_str());
    let (status, problem) = upload(long_key, good_image("logo.png")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    system.cleanup().await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
