//! The API's rate limit: off by default (a local run takes 500 uploads in a row); on, a
//! client over its burst gets `429 rate_limited` with `Retry-After` and gets through again
//! after waiting that long, each API key has its own bucket, health, metrics and the docs are
//! never limited, every operation documents the 429 it answers, and `X-Forwarded-For` names
//! the client only behind a trusted proxy.

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, good_image};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

const UPLOADS_IN_A_ROW: usize = 500;

fn logo() -> Vec<u8> {
    good_image("logo.png")
}

/// A 429 from the rate limit: its problem document and `Retry-After`, in seconds.
async fn assert_rate_limited(response: reqwest::Response, what: &str) -> u64 {
    assert_eq!(response.status(), 429, "{what}");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{what}: Retry-After in whole seconds"));
    assert!(retry_after >= 1, "{what}: Retry-After {retry_after}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{what}"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited", "{what}: {problem}");
    assert_eq!(problem["status"], 429, "{what}: {problem}");
    assert_eq!(problem["type"], "urn:imagepipe:problem:rate_limited");
    retry_after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_settings_five_hundred_uploads_in_a_row_are_all_accepted() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let bytes = logo();
    for i in 0..UPLOADS_IN_A_ROW {
        let response = system.upload(&format!("logo-{i}.png"), bytes.clone()).await;
        assert_eq!(response.status(), 202, "upload {i}");
    }
    assert_eq!(system.task_count().await, UPLOADS_IN_A_ROW as i64);
    system.cleanup().await;
}

#[tokio::test]
async fn over_the_burst_uploads_get_429_with_retry_after_and_pass_after_waiting_it() {
    // One request every 3 s, 3 at once: the three uploads take far less than 3 s.
    let system = TestSystem::start(Options {
        start_processor: false,
        rate_limit_per_minute: 20,
        rate_limit_burst: Some(3),
        ..Options::default()
    })
    .await;
    for i in 0..3 {
        let response = system.upload(&format!("logo-{i}.png"), logo()).await;
        assert_eq!(response.status(), 202, "upload {i} is within the burst");
    }
    let refused = system.upload("logo-3.png", logo()).await;
    let retry_after = assert_rate_limited(refused, "the fourth upload").await;
    assert!(retry_after <= 3, "Retry-After {retry_after} at 20 a minute");
    // A refused upload keeps nothing.
    assert_eq!(system.task_count().await, 3);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let response = system.upload("logo-4.png", logo()).await;
    assert_eq!(response.status(), 202, "after waiting Retry-After");
    assert_eq!(system.task_count().await, 4);
    system.cleanup().await;
}

#[tokio::test]
async fn every_operation_documents_and_answers_429_while_health_metrics_and_docs_never_do() {
    let system = TestSystem::start(Options {
        start_processor: false,
        rate_limit_per_minute: 1,
        rate_limit_burst: Some(2),
        ..Options::default()
    })
    .await;
    for _ in 0..2 {
        let (status, _) = system.call(Method::GET, "/api/v1/tasks", None).await;
        assert_eq!(status, 200);
    }
    // The bucket is empty for a minute now: every operation is refused, before it reads its
    // parameters or body, and says so in the document.
    let document = system.openapi_document().await;
    let mut operations = 0;
    for (path, methods) in document["paths"].as_object().unwrap() {
        let path = path.replace("{task_id}", &Uuid::now_v7().to_string());
        for (method, operation) in methods.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            let documented = &operation["responses"]["429"];
            assert_eq!(
                documented["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{id} documents its 429"
            );
            assert!(documented["headers"]["Retry-After"].is_object(), "{id}");
            let method: Method = method.to_uppercase().parse().unwrap();
            let response = system
                .http
                .request(method, system.url(&path))
                .send()
                .await
                .unwrap();
            assert_rate_limited(response, id).await;
            operations += 1;
        }
    }
    assert!(operations >= 9, "{operations} operations");

    // The same client, as often as it likes, elsewhere.
    for _ in 0..10 {
        for path in [
            "/health/live",
            "/health/ready",
            "/metrics",
            "/docs",
            "/docs/",
            "/openapi.json",
            "/",
            "/static/app.js",
        ] {
            assert_eq!(system.get(path).await.status(), 200, "{path}");
        }
    }
    let metrics = system.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"status="429""#), "{metrics}");
    system.cleanup().await;
}

#[tokio::test]
async fn each_api_key_has_its_own_bucket_and_wrong_keys_share_the_addresss() {
    let system = TestSystem::start(Options {
        start_processor: false,
        api_keys: vec!["key-alice".into(), "key-bob".into()],
        rate_limit_per_minute: 1,
        rate_limit_burst: Some(2),
        ..Options::default()
    })
    .await;
    let list = |key: &'static str| {
        let system = &system;
        async move {
            system
                .http
                .get(system.url("/api/v1/tasks"))
                .header("X-API-Key", key)
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..2 {
        assert_eq!(list("key-alice").await.status(), 200);
    }
    assert_rate_limited(list("key-alice").await, "alice's third").await;
    // Bob, from the same address, is untouched by Alice's use.
    for _ in 0..2 {
        assert_eq!(list("key-bob").await.status(), 200);
    }
    assert_rate_limited(list("key-bob").await, "bob's third").await;
    // Guessing keys is limited too: wrong keys draw from the address's bucket.
    for key in ["key-mallory", "key-mallorz"] {
        assert_eq!(list(key).await.status(), 401, "{key}");
    }
    assert_rate_limited(list("key-eve").await, "a third wrong key").await;
    let (status, _) = system.call(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, 429, "no key is the address's too");
    system.cleanup().await;
}

/// `GET /api/v1/tasks` with `X-Forwarded-For: forwarded`: its status.
async fn list_forwarded_for(system: &TestSystem, forwarded: &str) -> u16 {
    system
        .http
        .get(system.url("/api/v1/tasks"))
        .header("X-Forwarded-For", forwarded)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_bucket() {
    // The test's requests come from 127.0.0.1: here, a proxy we trust.
    let system = TestSystem::start(Options {
        start_processor: false,
        rate_limit_per_minute: 1,
        rate_limit_burst: Some(1),
        trusted_proxies: vec!["127.0.0.0/8".into()],
        ..Options::default()
    })
    .await;
    assert_eq!(list_forwarded_for(&system, "203.0.113.1").await, 200);
    assert_eq!(list_forwarded_for(&system, "203.0.113.1").await, 429);
    assert_eq!(list_forwarded_for(&system, "203.0.113.2").await, 200);
    // What a client writes left of the address our proxy saw changes nothing.
    assert_eq!(
        list_forwarded_for(&system, "198.51.100.7, 203.0.113.2").await,
        429
    );
    // The proxy's own requests (no header) are the proxy's bucket.
    let (status, _) = system.call(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, 200);
    system.cleanup().await;
}

#[tokio::test]
async fn from_an_untrusted_peer_x_forwarded_for_is_ignored() {
    let system = TestSystem::start(Options {
        start_processor: false,
        rate_limit_per_minute: 1,
        rate_limit_burst: Some(1),
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..Options::default()
    })
    .await;
    assert_eq!(list_forwarded_for(&system, "203.0.113.1").await, 200);
    // A made-up address does not buy a new bucket.
    assert_eq!(list_forwarded_for(&system, "203.0.113.2").await, 429);
    let (status, _) = system.call(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, 429);
    system.cleanup().await;
}
