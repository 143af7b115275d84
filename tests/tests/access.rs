//! Who may use the API (API keys, off by default), and how long tasks are kept (retention,
//! with 410 for ids that expired).

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, good_image};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

fn logo() -> Vec<u8> {
    good_image("logo.png")
}

#[tokio::test]
async fn with_api_keys_every_endpoint_needs_one_and_each_key_sees_only_its_tasks() {
    let system = TestSystem::start(Options {
        api_keys: vec!["key-alice".into(), "key-bob".into()],
        start_processor: false,
        ..Options::default()
    })
    .await;

    // No key, or a wrong one: 401 everywhere in the API, and nothing kept.
    for headers in [vec![], vec![("X-API-Key", "key-mallory")]] {
        let response = system
            .upload_form(TestSystem::file_form("logo.png", logo()), &headers)
            .await;
        assert_eq!(response.status(), 401);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "unauthorized");
        let key = headers.first().map(|(_, v)| *v);
        let some_id = Uuid::now_v7();
        for (method, path) in [
            (Method::GET, "/api/v1/tasks".to_owned()),
            (Method::GET, format!("/api/v1/tasks/{some_id}")),
            (Method::POST, format!("/api/v1/tasks/{some_id}/cancel")),
            (Method::POST, format!("/api/v1/tasks/{some_id}/retry")),
        ] {
            let (status, problem) = system.call(method.clone(), &path, key).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (401, Some("unauthorized")),
                "{method} {path}"
            );
        }
    }
    assert_eq!(system.task_count().await, 0);

    // Health and docs stay open.
    for path in ["/health/live", "/health/ready", "/openapi.json", "/docs/"] {
        assert_eq!(system.get(path).await.status(), 200, "{path}");
    }

    let alice = system
        .upload_form(
            TestSystem::file_form("a.png", logo()),
            &[("X-API-Key", "key-alice")],
        )
        .await;
    assert_eq!(alice.status(), 202);
    let alice_task = alice.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _) = system
        .call(
            Method::GET,
            &format!("/api/v1/tasks/{alice_task}"),
            Some("key-alice"),
        )
        .await;
    assert_eq!(status, 200);
    for (method, path) in [
        (Method::GET, format!("/api/v1/tasks/{alice_task}")),
        (Method::POST, format!("/api/v1/tasks/{alice_task}/cancel")),
        (Method::POST, format!("/api/v1/tasks/{alice_task}/retry")),
    ] {
        let (status, problem) = system.call(method.clone(), &path, Some("key-bob")).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("task_not_found")),
            "{method} {path}"
        );
    }
    let (_, bobs) = system
        .call(Method::GET, "/api/v1/tasks", Some("key-bob"))
        .await;
    assert_eq!(bobs["tasks"].as_array().unwrap().len(), 0);
    let (_, alices) = system
        .call(Method::GET, "/api/v1/tasks", Some("key-alice"))
        .await;
    assert_eq!(alices["tasks"][0]["task_id"], alice_task);

    // Idempotency keys are per API key: the same key from Bob is a different request.
    let with_key = |api_key: &'static str| {
        let system = &system;
        async move {
            let response = system
                .upload_form(
                    TestSystem::file_form("a.png", logo()),
                    &[("X-API-Key", api_key), ("Idempotency-Key", "same")],
                )
                .await;
            assert_eq!(response.status(), 202);
            response.json::<Value>().await.unwrap()["task_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_ne!(with_key("key-alice").await, with_key("key-bob").await);

    // The OpenAPI document declares the scheme, so Swagger UI can send it.
    let spec = system.openapi_document().await;
    assert_eq!(
        spec["components"]["securitySchemes"]["ApiKey"]["name"],
        "X-API-Key"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn tasks_past_retention_are_deleted_with_their_objects_and_answer_410() {
    let system = TestSystem::start(Options {
        retention_secs: 1,
        ..Options::default()
    })
    .await;
    let id = system.upload_accepted("logo.png", logo()).await;
    let done = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "COMPLETED");
    let original = done["original"]["key"].as_str().unwrap().to_owned();
    let result = done["result"]["key"].as_str().unwrap().to_owned();

    system
        .eventually("the task expires", Duration::from_secs(30), || async {
            system.task(id).await.0 == 410
        })
        .await;
    let (_, problem) = system.task(id).await;
    assert_eq!(problem["code"], "task_expired");
    assert!(!system.storage.uploads.exists(&original).await.unwrap());
    assert!(!system.storage.processed.exists(&result).await.unwrap());
    assert_eq!(system.task_count().await, 0);
    for path in [
        format!("/api/v1/tasks/{id}/cancel"),
        format!("/api/v1/tasks/{id}/retry"),
    ] {
        let (status, _) = system.call(Method::POST, &path, None).await;
        assert_eq!(status, 410, "{path}");
    }
    let (_, listed) = system.call(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 0);

    // An id that never existed is still 404.
    let (status, _) = system.task(Uuid::now_v7()).await;
    assert_eq!(status, 404);
    system.cleanup().await;
}
