//! Cancelling: a cancelled task is never processed into a result, whether its job is still
//! queued, in progress, or its result arrives late.

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, good_image};
use reqwest::Method;

#[tokio::test]
async fn cancelling_a_queued_task_keeps_it_from_ever_being_processed() {
    let mut system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("cat.png", good_image("chelsea.png"))
        .await;
    let (status, task) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/cancel"), None)
        .await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["status"], "CANCELLED");
    assert!(task["completed_at"].is_string());

    let (status, listed) = system
        .call(Method::GET, "/api/v1/tasks?status=CANCELLED", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 1);

    // The processor comes up later: whether its job was still in the outbox or already
    // queued, the task stays CANCELLED and no result is kept.
    system.start_processor();
    let jobs = system.topology.jobs_queue();
    system
        .eventually(
            "the jobs queue is empty",
            Duration::from_secs(30),
            || async { system.queue_depth(&jobs).await == 0 && system.outbox_len().await == 0 },
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(system.task(id).await.1["status"], "CANCELLED");
    assert_eq!(
        system.storage.processed.count().await.unwrap(),
        0,
        "no result kept"
    );

    let (status, problem) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/cancel"), None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("task_not_cancellable"))
    );
    system.cleanup().await;
}

#[tokio::test]
async fn cancelling_a_task_in_progress_stops_its_processor() {
    // One job at a time and a long delay: the second task can only start early if the first
    // one's processor really stopped.
    let system = TestSystem::start(Options {
        processing_delay_ms: 60_000,
        processor_concurrency: 1,
        ..Options::default()
    })
    .await;
    let first = system
        .upload_accepted("first.png", good_image("logo.png"))
        .await;
    system.wait_processing(first, Duration::from_secs(30)).await;
    let second = system
        .upload_accepted("second.png", good_image("logo.png"))
        .await;

    let (status, task) = system
        .call(Method::POST, &format!("/api/v1/tasks/{first}/cancel"), None)
        .await;
    assert_eq!(
        (status, task["status"].as_str()),
        (200, Some("CANCELLED")),
        "{task}"
    );
    system
        .wait_processing(second, Duration::from_secs(20))
        .await;
    assert_eq!(system.task(first).await.1["status"], "CANCELLED");
    assert_eq!(system.storage.processed.count().await.unwrap(), 0);
    system.cleanup().await;
}

#[tokio::test]
async fn a_late_result_for_a_cancelled_task_is_ignored_and_deleted() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("cat.png", good_image("logo.png"))
        .await;
    system.cancel_accepted(id).await;

    // A processor that never heard of the cancellation finishes and reports.
    let key = system.store_late_result(id).await;
    system.report_completed(id, &key).await;
    system
        .eventually(
            "the late result is deleted",
            Duration::from_secs(20),
            || async { !system.storage.processed.exists(&key).await.unwrap() },
        )
        .await;
    let (_, task) = system.task(id).await;
    assert_eq!(task["status"], "CANCELLED");
    assert!(task["result"].is_null());
    system.cleanup().await;
}
