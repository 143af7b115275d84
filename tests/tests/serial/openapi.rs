//! The OpenAPI document is honest: every response status it documents is one the service
//! really returns, and the service returns no status it does not document. Provoking the
//! 503s cuts the database (through the test's proxy).

use std::collections::BTreeSet;

use imagepipe_tests::{Options, TestSystem, task_id_of, testdata};
use reqwest::{Method, multipart::Form};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::one_at_a_time;

const KEY: &str = "openapi-test-key";

/// (operation id, status) pairs the document promises, minus 500: the answer to a bug, which
/// no test can provoke on purpose.
fn documented(spec: &Value) -> BTreeSet<(String, u16)> {
    let mut pairs = BTreeSet::new();
    for (_, operations) in spec["paths"].as_object().unwrap() {
        for (_, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            for status in operation["responses"].as_object().unwrap().keys() {
                let status: u16 = status.parse().unwrap();
                if status != 500 {
                    pairs.insert((id.clone(), status));
                }
            }
        }
    }
    pairs
}

struct Observer<'a> {
    system: &'a TestSystem,
    seen: BTreeSet<(String, u16)>,
}

impl Observer<'_> {
    async fn call(
        &mut self,
        operation: &str,
        method: Method,
        path: &str,
        key: Option<&str>,
    ) -> Value {
        let (status, body) = self.system.call(method, path, key).await;
        self.seen.insert((operation.to_owned(), status));
        body
    }

    async fn upload(&mut self, form: Form, headers: &[(&str, &str)]) -> Value {
        let response = self.system.upload_form(form, headers).await;
        self.seen
            .insert(("analyze".to_owned(), response.status().as_u16()));
        response.json().await.unwrap()
    }
}

fn file(name: &str, bytes: Vec<u8>) -> Form {
    TestSystem::file_form(name, bytes)
}

#[tokio::test]
async fn every_documented_status_is_returned_and_nothing_else() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        api_keys: vec![KEY.into()],
        max_upload_bytes: 1024 * 1024,
        proxy_db: true,
        ..Options::default()
    })
    .await;
    let mut seen = Observer {
        system: &system,
        seen: BTreeSet::new(),
    };
    let key = &[("X-API-Key", KEY)];
    let read = |path: &str| std::fs::read(testdata(path)).unwrap();

    // analyze
    let accepted = seen
        .upload(file("logo.png", read("good/logo.png")), key)
        .await;
    let pending = task_id_of(&accepted);
    seen.upload(Form::new().text("other", "x"), key).await; // 400
    seen.upload(file("logo.png", read("good/logo.png")), &[])
        .await; // 401
    seen.upload(file("big.bin", vec![0; 2 * 1024 * 1024]), key)
        .await; // 413
    seen.upload(file("x.jpg", read("bad/not-an-image.jpg")), key)
        .await; // 415
    seen.upload(file("empty.png", Vec::new()), key).await; // 422
    let owner = hex::encode(&Sha256::digest(KEY.as_bytes())[..8]);
    let digest = hex::encode(Sha256::digest(read("good/camera.png")));
    let sql = format!(
        "INSERT INTO idempotency_keys (scope, key, request_sha256, expires_at)
         VALUES ('{owner}', 'busy', decode('{digest}', 'hex'), now() + interval '1 hour')"
    );
    system.sql(&sql).await;
    seen.upload(
        file("camera.png", read("good/camera.png")),
        &[("X-API-Key", KEY), ("Idempotency-Key", "busy")],
    )
    .await; // 409

    // A FAILED task to retry, and a tombstone of an expired one.
    let failed = task_id_of(
        &seen
            .upload(file("chelsea.png", read("good/chelsea.png")), key)
            .await,
    );
    let expired = Uuid::now_v7();
    for sql in [
        format!(
            "UPDATE tasks SET status = 'FAILED', error_code = 'storage_unavailable', completed_at = now() WHERE id = '{failed}'"
        ),
        format!(
            "INSERT INTO task_tombstones (id, owner, created_at) VALUES ('{expired}', '{owner}', now())"
        ),
    ] {
        system.sql(&sql).await;
    }
    let unknown = Uuid::now_v7();
    // A COMPLETED task with a result object, for its download.
    let completed = task_id_of(
        &seen
            .upload(file("coffee.png", read("good/coffee.png")), key)
            .await,
    );
    let result_key = format!("results/{completed}.png");
    system
        .storage
        .processed
        .upload_file(&result_key, read("good/logo.png").into(), "image/png")
        .await
        .unwrap();
    system
        .sql(&format!(
            "UPDATE tasks SET status = 'COMPLETED', result_key = '{result_key}', \
             result_content_type = 'image/png', completed_at = now() WHERE id = '{completed}'"
        ))
        .await;

    for (operation, method, suffix) in [
        ("get_task", Method::GET, ""),
        ("cancel_task", Method::POST, "/cancel"),
        ("retry_task", Method::POST, "/retry"),
        ("task_events", Method::GET, "/events"),
        ("download_result", Method::GET, "/result"),
        ("download_original", Method::GET, "/original"),
    ] {
        let at = |id: &dyn std::fmt::Display| format!("/api/v1/tasks/{id}{suffix}");
        seen.call(operation, method.clone(), &at(&"not-a-uuid"), Some(KEY))
            .await; // 400
        seen.call(operation, method.clone(), &at(&pending), None)
            .await; // 401
        seen.call(operation, method.clone(), &at(&unknown), Some(KEY))
            .await; // 404
        seen.call(operation, method.clone(), &at(&expired), Some(KEY))
            .await; // 410
    }
    seen.call(
        "get_task",
        Method::GET,
        &format!("/api/v1/tasks/{pending}"),
        Some(KEY),
    )
    .await; // 200
    // An event stream of a task that has not ended stays open: read only its status.
    let stream = system
        .http
        .get(system.url(&format!("/api/v1/tasks/{pending}/events")))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    seen.seen
        .insert(("task_events".to_owned(), stream.status().as_u16()));
    drop(stream);
    seen.call(
        "retry_task",
        Method::POST,
        &format!("/api/v1/tasks/{failed}/retry"),
        Some(KEY),
    )
    .await; // 202
    seen.call(
        "retry_task",
        Method::POST,
        &format!("/api/v1/tasks/{pending}/retry"),
        Some(KEY),
    )
    .await; // 409
    seen.call(
        "cancel_task",
        Method::POST,
        &format!("/api/v1/tasks/{pending}/cancel"),
        Some(KEY),
    )
    .await; // 200
    seen.call(
        "cancel_task",
        Method::POST,
        &format!("/api/v1/tasks/{pending}/cancel"),
        Some(KEY),
    )
    .await; // 409
    seen.call("list_tasks", Method::GET, "/api/v1/tasks", Some(KEY))
        .await; // 200
    for (operation, id, suffix) in [
        ("download_result", completed, "result"),   // 200
        ("download_result", pending, "result"),     // 409
        ("download_original", pending, "original"), // 200
    ] {
        let path = format!("/api/v1/tasks/{id}/{suffix}");
        seen.call(operation, Method::GET, &path, Some(KEY)).await;
    }
    seen.call(
        "list_tasks",
        Method::GET,
        "/api/v1/tasks?limit=0",
        Some(KEY),
    )
    .await; // 400
    seen.call("list_tasks", Method::GET, "/api/v1/tasks", None)
        .await; // 401
    let presets = seen
        .call("list_presets", Method::GET, "/api/v1/presets", Some(KEY))
        .await; // 200
    assert!(
        presets["presets"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "thumbnail")),
        "{presets}"
    );
    seen.call("list_presets", Method::GET, "/api/v1/presets", None)
        .await; // 401

    // The database goes away: 503 from every operation that needs it.
    system.db_proxy.as_ref().unwrap().cut();
    seen.upload(file("logo.png", read("good/logo.png")), key)
        .await;
    seen.call(
        "get_task",
        Method::GET,
        &format!("/api/v1/tasks/{pending}"),
        Some(KEY),
    )
    .await;
    seen.call("list_tasks", Method::GET, "/api/v1/tasks", Some(KEY))
        .await;
    seen.call(
        "cancel_task",
        Method::POST,
        &format!("/api/v1/tasks/{failed}/cancel"),
        Some(KEY),
    )
    .await;
    seen.call(
        "retry_task",
        Method::POST,
        &format!("/api/v1/tasks/{failed}/retry"),
        Some(KEY),
    )
    .await;
    seen.call(
        "task_events",
        Method::GET,
        &format!("/api/v1/tasks/{pending}/events"),
        Some(KEY),
    )
    .await;
    for suffix in ["result", "original"] {
        let path = format!("/api/v1/tasks/{completed}/{suffix}");
        let operation = format!("download_{suffix}");
        seen.call(&operation, Method::GET, &path, Some(KEY)).await;
    }
    system.db_proxy.as_ref().unwrap().restore();

    let document = system.openapi_document().await;
    let promised = documented(&document);
    let observed = seen.seen.clone();
    let never_returned: Vec<_> = promised.difference(&observed).collect();
    let undocumented: Vec<_> = observed.difference(&promised).collect();
    assert!(
        never_returned.is_empty(),
        "documented but never returned: {never_returned:?}"
    );
    assert!(
        undocumented.is_empty(),
        "returned but not documented: {undocumented:?}"
    );
    system.cleanup().await;
}
