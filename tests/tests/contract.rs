//! What the OpenAPI document says is what the service does, for the things a generated client
//! trips on: fields with nothing to say are left out (never `null`), the security requirement
//! follows `API_KEYS`, every `405` names the allowed methods, refusals of the path, query and
//! headers say what is wrong in the API's words, and the download endpoints stream the task's
//! images through the API.

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, task_id_of, testdata};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(60);

/// The operations' security requirements, one per operation.
fn securities(document: &Value) -> Vec<Value> {
    document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .map(|operation| operation["security"].clone())
        .collect()
}

#[tokio::test]
async fn the_security_requirement_follows_the_configuration() {
    let open = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let document = open.openapi_document().await;
    assert!(securities(&document).iter().all(Value::is_null));
    assert!(document["components"].get("securitySchemes").is_none());
    open.cleanup().await;

    let closed = TestSystem::start(Options {
        start_processor: false,
        api_keys: vec!["contract-key".into()],
        ..Options::default()
    })
    .await;
    let document = closed.openapi_document().await;
    let required = serde_json::json!([{ "ApiKey": [] }]);
    assert!(securities(&document).iter().all(|s| *s == required));
    // Swagger UI embeds the same document.
    let docs = closed.get("/docs").await.text().await.unwrap();
    assert!(docs.contains(r#""security":[{"ApiKey":[]}]"#));
    assert!(!docs.contains(r#"{"ApiKey":[]},{}"#));
    closed.cleanup().await;
}

#[tokio::test]
async fn every_route_answers_a_wrong_method_with_allow() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let document = system.openapi_document().await;
    let mut routes: Vec<(String, Vec<String>)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, methods)| {
            let path = path.replace("{task_id}", &Uuid::now_v7().to_string());
            let methods = methods
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            (path, methods)
        })
        .collect();
    for page in [
        "/",
        "/docs",
        "/docs/",
        "/openapi.json",
        "/health/live",
        "/metrics",
    ] {
        routes.push((page.into(), vec!["GET".into()]));
    }
    for (path, methods) in routes {
        let wrong = if methods.contains(&"DELETE".to_owned()) {
            Method::PATCH
        } else {
            Method::DELETE
        };
        let response = system
            .http
            .request(wrong, system.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{path}");
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        let mut expected = methods.clone();
        if expected.contains(&"GET".to_owned()) {
            expected.push("HEAD".into());
        }
        let allowed: Vec<&str> = allow.split(", ").collect();
        assert_eq!(allowed, expected, "{path}");
        // poem does answer HEAD where it answers GET, so the header is true.
        if methods.contains(&"GET".to_owned()) && !path.ends_with("/events") {
            let head = system.http.head(system.url(&path)).send().await.unwrap();
            assert_ne!(head.status(), 405, "HEAD {path}");
        }
    }
    system.cleanup().await;
}

#[tokio::test]
async fn refusals_of_the_path_query_and_headers_speak_the_apis_words() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    for (path, code) in [
        ("/api/v1/tasks/not-a-uuid", "invalid_task_id"),
        ("/api/v1/tasks/not-a-uuid/result", "invalid_task_id"),
        ("/api/v1/tasks?limit=0", "invalid_request"),
        ("/api/v1/tasks?limit=lots", "invalid_request"),
        ("/api/v1/tasks?status=DONE", "invalid_request"),
        ("/api/v1/tasks?cursor=", "invalid_cursor"),
    ] {
        let (status, body) = system.call(Method::GET, path, None).await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{path}");
        let detail = body["detail"].as_str().unwrap();
        for internal in ["param0", "string_uuid", "parse path", "integer(", "uint64"] {
            assert!(!detail.contains(internal), "{path}: {detail}");
        }
    }
    let logo = std::fs::read(testdata("good/logo.png")).unwrap();
    for key in [String::new(), "k".repeat(256), "tab\there".into()] {
        let response = system
            .upload_form(
                TestSystem::file_form("logo.png", logo.clone()),
                &[("Idempotency-Key", key.as_str())],
            )
            .await;
        assert_eq!(response.status(), 400, "{key:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_idempotency_key", "{key:?}: {body}");
    }
    // The longest key the document allows is taken.
    let response = system
        .upload_form(
            TestSystem::file_form("logo.png", logo),
            &[("Idempotency-Key", "k".repeat(255).as_str())],
        )
        .await;
    assert_eq!(response.status(), 202);
    system.cleanup().await;
}

#[tokio::test]
async fn absent_fields_are_left_out_and_downloads_stream_through_the_api() {
    let system = TestSystem::start(Options {
        processing_delay_ms: 0,
        ..Options::default()
    })
    .await;
    let original = std::fs::read(testdata("good/rocket.jpg")).unwrap();
    let response = system.upload("rocket.jpg", original.clone()).await;
    assert_eq!(response.status(), 202);
    let id = task_id_of(&response.json().await.unwrap());
    let (_, pending) = system
        .call(Method::GET, &format!("/api/v1/tasks/{id}"), None)
        .await;
    let fields = pending.as_object().unwrap();
    for absent in ["error", "result", "completed_at", "callback_url", "preset"] {
        assert!(!fields.contains_key(absent), "{absent}: {pending}");
    }
    assert!(fields.values().all(|v| !v.is_null()), "no null: {pending}");

    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert!(
        task.get("error").is_none() && task.get("analysis").is_none(),
        "{task}"
    );
    let (_, page) = system.call(Method::GET, "/api/v1/tasks", None).await;
    assert!(page.get("next_cursor").is_none(), "last page: {page}");

    let download = |suffix: &str| {
        let url = system.url(&format!("/api/v1/tasks/{id}/{suffix}"));
        let http = system.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let result = download("result").await;
    assert_eq!(result.status(), 200);
    assert_eq!(
        result.headers()["content-type"],
        task["result"]["content_type"].as_str().unwrap()
    );
    let bytes = result.bytes().await.unwrap();
    let key = task["result"]["key"].as_str().unwrap();
    let stored = system.storage.processed.get_file(key).await.unwrap();
    assert_eq!(bytes, stored, "the result object's bytes");
    assert_eq!(
        bytes.len() as u64,
        task["result"]["size_bytes"].as_u64().unwrap()
    );

    let uploaded = download("original").await;
    assert_eq!(uploaded.status(), 200);
    assert_eq!(uploaded.headers()["content-type"], "image/jpeg");
    assert_eq!(uploaded.bytes().await.unwrap(), original.as_slice());

    // No result before COMPLETED, and none for a task that does not exist.
    let response = system
        .upload_form(
            TestSystem::file_form(
                "logo.png",
                std::fs::read(testdata("good/logo.png")).unwrap(),
            )
            .text("steps", r#"[{"op":"delay","ms":60000}]"#),
            &[],
        )
        .await;
    let waiting = task_id_of(&response.json().await.unwrap());
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/v1/tasks/{waiting}/result"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("result_not_ready"))
    );
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/v1/tasks/{}/result", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("task_not_found"))
    );
    system.cleanup().await;
}
