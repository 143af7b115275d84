//! API keys are secrets: a wrong key is refused the same way whatever it shares with a real
//! one (length, prefix), and no key, right or wrong, reaches the logs.

use std::time::Duration;

use imagepipe_tests::{CapturedLogs, Options, TestSystem, good_image, task_id_of};
use reqwest::Method;
use serde_json::Value;

/// Distinctive, so that any appearance in the logs is this key and nothing else.
const KEY: &str = "ik-7Qm2ZpW9xVtL4cRb8NsJ1hYd";

/// The same length as [`KEY`], all but the last character the same.
fn near_miss() -> String {
    let mut key = KEY[..KEY.len() - 1].to_owned();
    key.push('e');
    key
}

/// Status, content type and body of `GET /api/v1/tasks` and of an upload with `key`.
async fn refusals(system: &TestSystem, key: Option<&str>) -> Vec<(u16, String, Value)> {
    let mut answers = Vec::new();
    let list = system.http.get(system.url("/api/v1/tasks"));
    let upload = system
        .http
        .post(system.url("/api/v1/analyze"))
        .multipart(TestSystem::file_form("logo.png", good_image("logo.png")));
    for request in [list, upload] {
        let request = match key {
            Some(key) => request.header("X-API-Key", key),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        answers.push((status, content_type, response.json().await.unwrap()));
    }
    answers
}

// The current-thread runtime (the default): the whole system runs on the thread whose logs
// are captured.
#[tokio::test]
async fn a_wrong_key_of_the_right_length_is_refused_like_any_other_and_no_key_is_logged() {
    let (logs, _capturing) = CapturedLogs::start();
    let system = TestSystem::start(Options {
        api_keys: vec![KEY.into(), "another-key".into()],
        ..Options::default()
    })
    .await;
    let near_miss = near_miss();
    assert_eq!(near_miss.len(), KEY.len());
    assert_ne!(near_miss, KEY);

    let expected = refusals(&system, None).await;
    for (status, content_type, body) in &expected {
        assert_eq!(*status, 401, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "unauthorized");
    }
    for key in [
        near_miss.as_str(),
        &KEY[..KEY.len() - 1],
        "x",
        KEY.to_uppercase().as_str(),
    ] {
        assert_eq!(refusals(&system, Some(key)).await, expected, "{key:?}");
    }

    // The right key works, all the way to a processed task: every service logs its part.
    let accepted = system
        .upload_form(
            TestSystem::file_form("logo.png", good_image("logo.png")),
            &[("X-API-Key", KEY)],
        )
        .await;
    assert_eq!(accepted.status(), 202);
    let id = task_id_of(&accepted.json().await.unwrap());
    let (status, _) = system
        .call(Method::GET, &format!("/api/v1/tasks/{id}"), Some(KEY))
        .await;
    assert_eq!(status, 200);
    system
        .eventually("the task is COMPLETED", Duration::from_secs(60), || async {
            system
                .call(Method::GET, &format!("/api/v1/tasks/{id}"), Some(KEY))
                .await
                .1["status"]
                == "COMPLETED"
        })
        .await;
    system.cleanup().await;

    let text = logs.text();
    // The capture saw the run: ingest's start, the upload's span, the processor's work.
    for expected in ["ingest listening", "upload", &id.to_string()] {
        assert!(text.contains(expected), "the logs have no {expected:?}");
    }
    for secret in [KEY, near_miss.as_str(), "another-key"] {
        assert!(
            !text.contains(secret),
            "a key is in the logs: {}",
            text.lines()
                .find(|line| line.contains(secret))
                .unwrap_or_default()
        );
    }
}
