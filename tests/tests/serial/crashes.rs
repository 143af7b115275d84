//! Services killed for real: SIGKILL mid-task, SIGTERM during work, and a job that crashes its
//! processor every time. The killed service runs as its own process; the rest of the system
//! runs in the test. These tests run one at a time.

use std::time::Duration;

use imagepipe_tests::{Options, ServiceProcess, TestSystem, good_image};
use uuid::Uuid;

use super::one_at_a_time;

const DEADLINE: Duration = Duration::from_secs(90);

async fn upload_some(system: &TestSystem, names: &[&str]) -> Vec<Uuid> {
    let mut tasks = Vec::new();
    for name in names {
        tasks.push(system.upload_accepted(name, good_image(name)).await);
    }
    tasks
}

fn processor(system: &TestSystem, env: &[(&str, String)]) -> ServiceProcess {
    ServiceProcess::spawn("imagepipe-processor", &system.processor_args(), env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_killed_mid_task_loses_nothing_and_the_next_one_finishes() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        processing_delay_ms: 3000,
        ..Options::default()
    })
    .await;
    let tasks = upload_some(&system, &["rocket.jpg", "coffee.png", "camera.png"]).await;
    let first = processor(&system, &[]);
    system.wait_processing(tasks[0], DEADLINE).await;
    first.kill().await; // SIGKILL in the middle of the simulated inference

    let _second = processor(&system, &[]);
    system.all_completed(&tasks, DEADLINE).await;
    for id in &tasks {
        let (_, task) = system.task(*id).await;
        assert!(task["attempts"].as_i64() >= Some(1), "{task}");
    }
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_writer_killed_and_restarted_loses_no_event() {
    let _serial = one_at_a_time().await;
    let mut system = TestSystem::start(Options {
        processing_delay_ms: 500,
        ..Options::default()
    })
    .await;
    system.stop_result_writer().await;
    let writer =
        ServiceProcess::spawn("imagepipe-result-writer", &system.result_writer_args(), &[]);
    let tasks = upload_some(
        &system,
        &["rocket.jpg", "coffee.png", "chelsea.png", "camera.png"],
    )
    .await;
    system.wait_processing(tasks[0], DEADLINE).await;
    writer.kill().await;

    // Events keep coming while no writer runs; they wait in their queue.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _writer =
        ServiceProcess::spawn("imagepipe-result-writer", &system.result_writer_args(), &[]);
    system.all_completed(&tasks, DEADLINE).await;
    assert_eq!(system.queue_depth(&system.topology.events_queue()).await, 0);
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_work_exits_cleanly_and_loses_nothing() {
    let _serial = one_at_a_time().await;
    let mut system = TestSystem::start(Options {
        start_processor: false,
        processing_delay_ms: 2000,
        ..Options::default()
    })
    .await;
    let tasks = upload_some(
        &system,
        &["rocket.jpg", "coffee.png", "camera.png", "chelsea.png"],
    )
    .await;
    let worker = processor(&system, &[]);
    system.wait_processing(tasks[0], DEADLINE).await;
    // Work in flight finishes within the grace period (10 s here), then the process exits 0.
    let code = worker.terminate(Duration::from_secs(30)).await;
    assert_eq!(code, Some(0), "clean exit on SIGTERM");

    // Whatever it had not taken is still queued; a new processor finishes it.
    system.start_processor();
    system.all_completed(&tasks, DEADLINE).await;
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_crashes_every_processor_ends_parked_and_failed_and_the_others_complete() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        processor_concurrency: 1,
        ..Options::default()
    })
    .await;
    let poison = system
        .upload_accepted("poison.png", good_image("logo.png"))
        .await;
    let others = upload_some(&system, &["rocket.jpg", "coffee.png"]).await;
    let hook = [("IMAGEPIPE_TEST_CRASH_ON_TASK", poison.to_string())];
    let version = ServiceProcess::version("imagepipe-processor");
    assert!(
        version.contains("IMAGEPIPE_TEST_CRASH_ON_TASK"),
        "the processor binary lacks its test hooks ({version:?}): build it with \
         `--features imagepipe-processor/test-hooks` (scripts/test.sh does)"
    );

    // A supervisor, as an orchestrator would be: restart the processor whenever it dies.
    let mut restarts = 0;
    loop {
        let mut worker = processor(&system, &hook);
        let crashed = worker.exited_within(Duration::from_secs(5)).await;
        let (_, task) = system.task(poison).await;
        if task["status"] == "FAILED" {
            if !crashed {
                worker.kill().await;
            }
            break;
        }
        restarts += 1;
        assert!(restarts <= 12, "the poison job was never parked: {task}");
        if !crashed {
            worker.kill().await;
        }
    }

    let (_, task) = system.task(poison).await;
    assert_eq!(task["error"]["code"], "delivery_limit_exceeded", "{task}");
    let parked = system.topology.parked_queue();
    system
        .eventually("the poison job is parked", DEADLINE, || async {
            system.queue_depth(&parked).await == 1
        })
        .await;

    let _worker = processor(&system, &[]);
    system.all_completed(&others, DEADLINE).await;
    system.cleanup().await;
}
