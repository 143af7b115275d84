//! A task failed by an object-store outage (cut through the test's proxy) is retried through
//! the API once the store is back.

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, good_image, task_id_of};
use reqwest::Method;
use uuid::Uuid;

use super::one_at_a_time;

#[tokio::test]
async fn a_task_failed_by_an_outage_can_be_retried_once_the_store_is_back() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        proxy_s3: true,
        max_attempts: 2,
        retry_delays_ms: vec![100],
        ..Options::default()
    })
    .await;
    // The object store goes away while the job is queued: every attempt fails.
    system
        .wait_worker_readiness(system.processor_health_port, 200, "processor ready")
        .await;
    system.s3_proxy.as_ref().unwrap().cut();
    let id = system
        .enqueue_directly(good_image("chelsea.png"), "image/png", 451, 300)
        .await;
    let failed = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["error"]["code"], "storage_unavailable");

    // Only FAILED tasks can be retried; this one can.
    system.s3_proxy.as_ref().unwrap().restore();
    let (status, accepted) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/retry"), None)
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(task_id_of(&accepted), id, "the same task runs again");
    let (_, queued) = system.task(id).await;
    assert_eq!(queued["run"], 1);
    assert!(queued["error"].is_null());

    let done = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["run"], 1);
    assert_eq!(done["attempts"], 1, "attempts start over");
    let key = done["result"]["key"].as_str().unwrap();
    assert!(system.storage.processed.exists(key).await.unwrap());

    let (status, problem) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/retry"), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("task_not_retryable"))
    );
    let (status, _) = system
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{}/retry", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    system.cleanup().await;
}
