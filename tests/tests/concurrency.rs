//! The API never waits on the work: 50 uploads at once are all accepted while the processor
//! is busy, are processed side by side, and the task endpoint stays fast meanwhile.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use imagepipe_tests::{Options, TestSystem, good_image};

const UPLOADS: usize = 50;
const DELAY_MS: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_uploads_at_once_are_accepted_processed_concurrently_and_all_complete() {
    let system = TestSystem::start(Options {
        processing_delay_ms: DELAY_MS,
        processor_concurrency: 25,
        ..Options::default()
    })
    .await;
    let bytes = good_image("rocket.jpg");

    let uploads = (0..UPLOADS).map(|i| {
        let bytes = bytes.clone();
        let system = &system;
        async move {
            let start = Instant::now();
            let response = system.upload(&format!("rocket-{i}.jpg"), bytes).await;
            (response.status().as_u16(), start.elapsed(), response)
        }
    });
    let mut task_ids = Vec::new();
    for (status, took, response) in join_all(uploads).await {
        assert_eq!(status, 202);
        // The answer does not wait for the 3 s of work (10x margin on a busy 2-core box).
        assert!(took < Duration::from_secs(10), "an upload took {took:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "processing");
        task_ids.push(
            body["task_id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        );
    }

    // While the work is in flight, every task answers within a second.
    system
        .eventually(
            "some task is PROCESSING",
            Duration::from_secs(30),
            || async { system.task(task_ids[0]).await.1["status"] == "PROCESSING" },
        )
        .await;
    for id in &task_ids {
        let start = Instant::now();
        let (status, task) = system.task(*id).await;
        let took = start.elapsed();
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(1), "GET took {took:?}: {task}");
    }

    let mut intervals = Vec::new();
    for id in &task_ids {
        let task = system.wait_terminal(*id, Duration::from_secs(120)).await;
        assert_eq!(task["status"], "COMPLETED", "{task}");
        let at = |field: &str| {
            task[field]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        };
        intervals.push((at("started_at"), at("completed_at")));
    }

    // Handled side by side, not one after another: many tasks were in their simulated work
    // (the last DELAY_MS before completed_at) at once, not just waiting in PROCESSING for a
    // core. (With 2 cores and the delay inside the per-core kernel slot, at most 2 were.)
    let delay = chrono::Duration::milliseconds(i64::try_from(DELAY_MS).unwrap());
    let working: Vec<_> = intervals
        .iter()
        .map(|(_, completed)| (*completed - delay, *completed))
        .collect();
    let overlap = working
        .iter()
        .map(|(start, _)| {
            working
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap();
    assert!(
        overlap >= 10,
        "at most {overlap} tasks were in their simulated work at once"
    );

    assert_eq!(system.queue_depth(&system.topology.jobs_queue()).await, 0);
    system.cleanup().await;
}
