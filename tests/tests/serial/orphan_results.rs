//! No result object outlives the run that stored it unless that run's task is COMPLETED with
//! it. Each test stops a processor between storing a result and reporting it (the processor's
//! `IMAGEPIPE_TEST_HANG_AFTER_STORE` and `IMAGEPIPE_TEST_CRASH_AFTER_STORE` hooks), lets the
//! task end some other way (cancelled, reaped, dead-lettered), and then looks in the bucket;
//! the last one deletes a late result while the object store is away. These are the orphans
//! the chaos run found (docs/reliability-chaos.md).

use std::{path::PathBuf, time::Duration};

use imagepipe_tests::{Options, ServiceProcess, TestSystem, claim_port, good_image};
use reqwest::Method;
use uuid::Uuid;

use super::one_at_a_time;

const DEADLINE: Duration = Duration::from_secs(60);

/// The keys in the processed bucket that belong to `task` (whatever the key layout).
async fn result_objects(system: &TestSystem, task: Uuid) -> Vec<String> {
    let id = task.to_string();
    let mut keys = system.storage.processed.keys().await.expect("list results");
    keys.retain(|key| key.contains(&id));
    keys
}

async fn wait_stored(system: &TestSystem, task: Uuid) {
    system
        .eventually(
            "the first processor stored the result",
            DEADLINE,
            || async { !result_objects(system, task).await.is_empty() },
        )
        .await;
}

/// Waits up to `within` for the task's result objects to go, and says which remain.
async fn left_within(system: &TestSystem, task: Uuid, within: Duration) -> Vec<String> {
    let start = tokio::time::Instant::now();
    loop {
        let left = result_objects(system, task).await;
        if left.is_empty() || start.elapsed() > within {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn hang_after_store(task: Uuid) -> [(&'static str, String); 1] {
    hooked();
    [("IMAGEPIPE_TEST_HANG_AFTER_STORE", task.to_string())]
}

/// Without its hooks, the processor would report the result and no test here could fail.
fn hooked() {
    let version = ServiceProcess::version("imagepipe-processor");
    assert!(
        version.contains("IMAGEPIPE_TEST_HANG_AFTER_STORE"),
        "the processor binary lacks its test hooks ({version:?}): build it with \
         `--features imagepipe-processor/test-hooks` (scripts/test.sh does)"
    );
}

/// A processor's log, to follow what it heard and did.
struct Log(PathBuf);

impl Log {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("imagepipe-{name}-{}.log", Uuid::new_v4()));
        Self(path)
    }

    async fn wait_for(&self, system: &TestSystem, line: &str) {
        self.wait_for_line_with(system, &[line]).await;
    }

    /// Wait for one line that contains every one of `parts`.
    async fn wait_for_line_with(&self, system: &TestSystem, parts: &[&str]) {
        system
            .eventually(
                &format!("the log has a line with {parts:?}"),
                DEADLINE,
                || async {
                    tokio::fs::read_to_string(&self.0).await.is_ok_and(|text| {
                        text.lines()
                            .any(|line| parts.iter().all(|part| line.contains(part)))
                    })
                },
            )
            .await;
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The chaos run's suspect: the task is cancelled after its processor stored the result and
/// before it reported it; the processor dies, and the redelivered job goes to a processor that
/// heard of the cancellation and skips it. No COMPLETED event ever comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_cancelled_between_store_and_report_keeps_no_result_object() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("logo.png", good_image("logo.png"))
        .await;
    let stalled = ServiceProcess::spawn(
        "imagepipe-processor",
        &system.processor_args(),
        &hang_after_store(id),
    );
    wait_stored(&system, id).await;

    // Up before the cancellation, so it hears it; the job is still the first one's.
    let port = claim_port();
    let log = Log::new("processor");
    let _second = ServiceProcess::spawn_logged(
        "imagepipe-processor",
        &system.processor_args_on(port),
        &[],
        Some(&log.0),
    );
    system
        .wait_worker_readiness(port, 200, "the second processor consumes")
        .await;
    // Readiness is about the jobs queue; a cancellation broadcast before its private queue
    // is bound is never heard (notices save work and lose nothing when missed), so wait for
    // it to consume the cancellations exchange too.
    let cancellations = system.topology.cancellations_exchange();
    log.wait_for_line_with(&system, &["consuming", &cancellations])
        .await;
    system.cancel_accepted(id).await;
    log.wait_for(&system, "cancellation heard").await;

    stalled.kill().await;
    log.wait_for(&system, "task was cancelled, skipping its job")
        .await;
    assert_eq!(
        left_within(&system, id, Duration::from_secs(10)).await,
        Vec::<String>::new(),
        "the cancelled task's result object is deleted"
    );
    assert_eq!(system.task(id).await.1["status"], "CANCELLED");
    assert_eq!(system.queue_depth(&system.topology.jobs_queue()).await, 0);
    system.cleanup().await;
}

/// The task is FAILED (here by the reaper) while its processor holds a stored result; the
/// redelivered job completes late and its COMPLETED is refused. A retry afterwards still ends
/// COMPLETED with its own result, the only object of the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_failed_while_its_result_was_stored_keeps_no_result_object_until_retried() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        task_timeout_secs: 3,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("logo.png", good_image("logo.png"))
        .await;
    let stalled = ServiceProcess::spawn(
        "imagepipe-processor",
        &system.processor_args(),
        &hang_after_store(id),
    );
    wait_stored(&system, id).await;
    let failed = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(failed["error"]["code"], "timed_out", "{failed}");

    stalled.kill().await;
    let port = claim_port();
    let _second =
        ServiceProcess::spawn("imagepipe-processor", &system.processor_args_on(port), &[]);
    // The redelivered job ran to the end: its COMPLETED reached the result-writer, refused.
    let metrics = format!(
        "http://127.0.0.1:{}/metrics",
        system.result_writer_health_port
    );
    system
        .eventually("the late COMPLETED is refused", DEADLINE, || async {
            let text = system.http.get(&metrics).send().await.unwrap();
            text.text().await.unwrap().contains(
                r#"imagepipe_status_events_total{status="COMPLETED",outcome="ignored"} 1"#,
            )
        })
        .await;
    assert_eq!(
        left_within(&system, id, Duration::from_secs(10)).await,
        Vec::<String>::new(),
        "the failed task's result object is deleted"
    );
    assert_eq!(system.task(id).await.1["status"], "FAILED");

    let (status, _) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/retry"), None)
        .await;
    assert_eq!(status, 202);
    let done = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let key = done["result"]["key"].as_str().expect("a result key");
    assert_eq!(
        result_objects(&system, id).await,
        [key],
        "the new run's result is there, and alone"
    );
    system.cleanup().await;
}

/// The processor dies after storing every time, so the broker dead-letters the job past its
/// delivery limit and the task ends FAILED: nothing reports that result, ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_dead_lettered_after_storing_keeps_no_result_object() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        processor_concurrency: 1,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("logo.png", good_image("logo.png"))
        .await;
    hooked();
    let hook = [("IMAGEPIPE_TEST_CRASH_AFTER_STORE", id.to_string())];
    let mut restarts = 0;
    loop {
        let mut worker =
            ServiceProcess::spawn("imagepipe-processor", &system.processor_args(), &hook);
        let crashed = worker.exited_within(Duration::from_secs(10)).await;
        if !crashed {
            worker.kill().await;
        }
        if system.task(id).await.1["status"] == "FAILED" {
            break;
        }
        restarts += 1;
        assert!(restarts <= 12, "the job was never dead-lettered");
    }
    let (_, task) = system.task(id).await;
    assert_eq!(task["error"]["code"], "delivery_limit_exceeded", "{task}");
    assert_eq!(
        left_within(&system, id, Duration::from_secs(10)).await,
        Vec::<String>::new(),
        "the failed task's result object is deleted"
    );
    system.cleanup().await;
}

/// A late result of a cancelled task while the object store is away: the delete waits for the
/// store instead of giving up (it used to give up after five quick tries, leaving the object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_result_is_deleted_once_the_object_store_is_back() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        proxy_s3: true,
        ..Options::default()
    })
    .await;
    let id = system
        .upload_accepted("logo.png", good_image("logo.png"))
        .await;
    system.cancel_accepted(id).await;

    // What a processor that missed the cancellation stores, then reports with the store away.
    let key = system.store_late_result(id).await;
    let proxy = system.s3_proxy.as_ref().unwrap();
    proxy.cut();
    system.report_completed(id, &key).await;
    let metrics = format!(
        "http://127.0.0.1:{}/metrics",
        system.result_writer_health_port
    );
    system
        .eventually("the late COMPLETED is refused", DEADLINE, || async {
            let text = system.http.get(&metrics).send().await.unwrap();
            text.text().await.unwrap().contains(
                r#"imagepipe_status_events_total{status="COMPLETED",outcome="ignored"} 1"#,
            )
        })
        .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        system.storage.processed.exists(&key).await.unwrap(),
        "nothing can delete it while the store is away"
    );

    proxy.restore();
    assert_eq!(
        // The delete is tried again at most about 10 s apart (5 s and its jitter).
        left_within(&system, id, Duration::from_secs(30)).await,
        Vec::<String>::new(),
        "the late result is deleted once the store is back"
    );
    system.cleanup().await;
}
