//! Completion webhooks: signed, retried until received, and only ever sent to allowed hosts.
//! (Durable across a result-writer restart: `serial::webhooks`, which stops one; where a
//! host's addresses may lead: `webhook_addresses`.)

use std::time::Duration;

use hmac::{Hmac, Mac};
use imagepipe_tests::{
    Options, Received, TestSystem, WebhookReceiver, bad_file, good_image, task_id_of,
};
use reqwest::Method;
use serde_json::Value;
use sha2::Sha256;

const SECRET: &str = "test-webhook-secret";

pub(crate) fn logo() -> Vec<u8> {
    good_image("logo.png")
}

pub(crate) fn with_callback(bytes: Vec<u8>, url: &str) -> reqwest::multipart::Form {
    TestSystem::file_form("logo.png", bytes).text("callback_url", url.to_owned())
}

/// Check the signature the way a receiver would, independently of the sender's code.
pub(crate) fn verify(received: &Received) -> Value {
    let header = &received.headers["imagepipe-signature"];
    let (t, v1) = header.split_once(',').unwrap();
    let timestamp: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    let signature = hex::decode(v1.strip_prefix("v1=").unwrap()).unwrap();
    let age = chrono::Utc::now().timestamp() - timestamp;
    assert!((0..300).contains(&age), "fresh timestamp, {age} s old");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.body);
    mac.verify_slice(&signature).expect("the signature matches");
    // A receiver with another secret rejects it.
    let mut other = Hmac::<Sha256>::new_from_slice(b"another secret").unwrap();
    other.update(format!("{timestamp}.").as_bytes());
    other.update(&received.body);
    assert!(other.verify_slice(&signature).is_err());
    serde_json::from_slice(&received.body).unwrap()
}

pub(crate) async fn delivered(
    system: &TestSystem,
    receiver: &WebhookReceiver,
    deadline: Duration,
) -> Vec<Received> {
    system
        .eventually("a webhook is received", deadline, || async {
            receiver.received().iter().any(|r| r.answered < 300)
        })
        .await;
    receiver.received()
}

pub(crate) fn options(port: u16) -> Options {
    Options {
        webhook_allowed_hosts: vec![format!("127.0.0.1:{port}")],
        // The receiver listens on loopback, refused unless allowed.
        webhook_allowed_addresses: vec!["127.0.0.1/32".to_owned()],
        webhook_secret: Some(SECRET.to_owned()),
        webhook_retry_min_ms: 200,
        ..Options::default()
    }
}

#[tokio::test]
async fn a_completed_task_posts_a_signed_webhook_retried_until_received() {
    let receiver = WebhookReceiver::start(0, 2).await;
    let system = TestSystem::start(options(receiver.port)).await;
    let response = system
        .upload_form(with_callback(logo(), &receiver.url()), &[])
        .await;
    assert_eq!(response.status(), 202);
    let task_id = task_id_of(&response.json().await.unwrap());

    let requests = delivered(&system, &receiver, Duration::from_secs(60)).await;
    assert_eq!(
        requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![500, 500, 204],
        "two failures, then the retry that worked; nothing after"
    );
    let delivery_ids: Vec<_> = requests
        .iter()
        .map(|r| r.headers["imagepipe-delivery"].clone())
        .collect();
    assert!(
        delivery_ids.iter().all(|id| *id == delivery_ids[0]),
        "retries carry the same delivery id"
    );
    let body = verify(&requests[2]);
    assert_eq!(body["event"], "task.completed");
    assert_eq!(body["task_id"], task_id.to_string());
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["result_key"], format!("results/{task_id}.png"));
    // The result as the task describes it.
    assert_eq!(body["result"]["key"], body["result_key"]);
    for field in ["width", "height", "size_bytes"] {
        assert!(
            body["result"][field].as_u64().is_some_and(|n| n > 0),
            "{field}: {body}"
        );
    }
    assert_eq!(body["result"]["content_type"], "image/png", "{body}");
    assert!(body["error"].is_null());
    let (_, task) = system.task(task_id).await;
    assert_eq!(task["callback_url"], receiver.url());

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "a delivered webhook is not sent again"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn failed_and_cancelled_tasks_post_their_outcome_too() {
    let receiver = WebhookReceiver::start(0, 0).await;
    let system = TestSystem::start(Options {
        start_processor: true,
        processing_delay_ms: 60_000,
        ..options(receiver.port)
    })
    .await;
    let truncated = bad_file("truncated.jpg");
    let failed = system
        .upload_form(with_callback(truncated, &receiver.url()), &[])
        .await;
    assert_eq!(failed.status(), 202);
    let cancelled: Value = system
        .upload_form(with_callback(logo(), &receiver.url()), &[])
        .await
        .json()
        .await
        .unwrap();
    let cancelled_id = cancelled["task_id"].as_str().unwrap().to_owned();
    let (status, _) = system
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{cancelled_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 200);

    system
        .eventually("two webhooks arrive", Duration::from_secs(60), || async {
            receiver.received().len() >= 2
        })
        .await;
    let mut events: Vec<(String, Value)> = receiver
        .received()
        .iter()
        .map(|r| {
            let body = verify(r);
            (body["event"].as_str().unwrap().to_owned(), body)
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(events[0].0, "task.cancelled");
    assert_eq!(events[0].1["task_id"], cancelled_id);
    assert_eq!(events[1].0, "task.failed");
    assert_eq!(events[1].1["error"]["code"], "undecodable_image");
    system.cleanup().await;
}

#[tokio::test]
async fn callbacks_to_hosts_off_the_allow_list_are_refused_and_nothing_is_kept() {
    let receiver = WebhookReceiver::start(0, 0).await;
    let system = TestSystem::start(Options {
        start_processor: false,
        ..options(receiver.port)
    })
    .await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "http://localhost/hook",
        "file:///etc/passwd",
        "http://user:password@127.0.0.1/hook",
        "not a url",
    ] {
        let response = system.upload_form(with_callback(logo(), url), &[]).await;
        assert_eq!(response.status(), 422, "{url}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "callback_not_allowed", "{url}");
    }
    assert_eq!(system.task_count().await, 0);
    assert_eq!(system.storage.uploads.count().await.unwrap(), 0);
    system.cleanup().await;

    // With no allow-list at all, callbacks are off.
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let response = system
        .upload_form(with_callback(logo(), &receiver.url()), &[])
        .await;
    assert_eq!(response.status(), 422);
    system.cleanup().await;
}
