//! Fault injection: the object store, the broker and the database go away and come back
//! (through a [`FaultProxy`] each, so the machine's shared services are never disturbed), and
//! every accepted task still ends in exactly one terminal state, with the API answering
//! throughout. These tests run one at a time.

use std::time::{Duration, Instant};

use imagepipe_tests::{Options, TestSystem, good_image, task_id_of};
use serde_json::Value;

use super::one_at_a_time;

const DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_outage_within_the_retry_budget_completes_everything_with_retries() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        processing_delay_ms: 1500,
        max_attempts: 8,
        retry_delays_ms: vec![500, 1000],
        proxy_s3: true,
        ..Options::default()
    })
    .await;
    let mut tasks = Vec::new();
    for name in ["rocket.jpg", "coffee.png", "chelsea.png", "camera.png"] {
        tasks.push(system.upload_accepted(name, good_image(name)).await);
    }
    // Cut the object store while the jobs are in their simulated inference.
    system.wait_processing(tasks[0], DEADLINE).await;
    let proxy = system.s3_proxy.as_ref().unwrap();
    let processor = system.processor_health_port;
    system
        .wait_worker_readiness(processor, 200, "processor ready")
        .await;
    proxy.cut();
    // The processor needs the object store: not ready while it is away.
    system
        .wait_worker_readiness(processor, 503, "processor not ready")
        .await;

    // Meanwhile, an upload cannot be stored: a fast 503 with Retry-After, and nothing kept.
    let started = Instant::now();
    let response = system.upload("rocket.jpg", good_image("rocket.jpg")).await;
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(10), "503 came fast");
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "storage_unavailable");
    assert_eq!(
        system.task_count().await,
        tasks.len() as i64,
        "no row for it"
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    system
        .wait_worker_readiness(processor, 200, "processor ready again")
        .await;

    let finals = system.account(&tasks, DEADLINE).await;
    for task in &finals {
        assert_eq!(task["status"], "COMPLETED", "{task}");
    }
    let retried = finals
        .iter()
        .filter(|t| t["attempts"].as_i64() >= Some(2))
        .count();
    assert!(retried >= 1, "at least one task needed a retry: {finals:?}");
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_outage_past_the_retry_budget_fails_tasks_and_keeps_the_jobs() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        processing_delay_ms: 2000,
        max_attempts: 3,
        retry_delays_ms: vec![100, 200],
        proxy_s3: true,
        ..Options::default()
    })
    .await;
    let mut tasks = Vec::new();
    for name in ["rocket.jpg", "coffee.png"] {
        tasks.push(system.upload_accepted(name, good_image(name)).await);
    }
    // Down before any result can be stored, and for longer than all attempts take.
    system.wait_processing(tasks[0], DEADLINE).await;
    system.s3_proxy.as_ref().unwrap().cut();

    let finals = system.account(&tasks, DEADLINE).await;
    for task in &finals {
        assert_eq!(task["status"], "FAILED", "{task}");
        assert_eq!(task["error"]["code"], "storage_unavailable", "{task}");
        let message = task["error"]["message"].as_str().unwrap();
        assert!(message.contains("after 3 attempts"), "{message}");
        assert!(
            message.contains("object store"),
            "names the storage error: {message}"
        );
        assert_eq!(task["attempts"], 3, "{task}");
    }
    // The failed jobs are kept for inspection and re-drive.
    let parked = system.topology.parked_queue();
    system
        .eventually("both jobs parked", DEADLINE, || async {
            system.queue_depth(&parked).await == 2
        })
        .await;
    system.s3_proxy.as_ref().unwrap().restore();
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_cut_during_a_burst_keeps_uploads_accepted_and_everything_completes() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        processing_delay_ms: 200,
        proxy_amqp: true,
        ..Options::default()
    })
    .await;
    let proxy = system.amqp_proxy.as_ref().unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        if i == 5 {
            proxy.cut();
        }
        tasks.push(
            system
                .upload_accepted(&format!("{i}.png"), good_image("chelsea.png"))
                .await,
        );
        if i == 5 {
            // Ingest stays ready while only the broker is away: the outbox holds the jobs.
            let (status, body) = system.readiness().await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["checks"]["broker"], "degraded", "{body}");
        }
    }
    // The processor needs the broker: not ready while it is away.
    let processor = system.processor_health_port;
    system
        .wait_worker_readiness(processor, 503, "processor not ready")
        .await;
    assert!(
        system.outbox_len().await > 0,
        "jobs wait in the outbox while the broker is away"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();

    system.all_completed(&tasks, DEADLINE).await;
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_cut_gives_503_then_recovers_and_the_result_writer_catches_up() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        processing_delay_ms: 1000,
        proxy_db: true,
        ..Options::default()
    })
    .await;
    let mut tasks = Vec::new();
    for name in ["rocket.jpg", "coffee.png", "camera.png"] {
        tasks.push(system.upload_accepted(name, good_image(name)).await);
    }
    let proxy = system.db_proxy.as_ref().unwrap();
    let writer = system.result_writer_health_port;
    system
        .wait_worker_readiness(writer, 200, "result-writer ready")
        .await;
    proxy.cut();
    // The result-writer needs the database: not ready while it is away.
    system
        .wait_worker_readiness(writer, 503, "result-writer not ready")
        .await;

    // Uploads get a fast 503, and leave no object behind.
    let started = Instant::now();
    let response = system.upload("rocket.jpg", good_image("rocket.jpg")).await;
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "503 came fast enough"
    );
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "database_unavailable");
    assert_eq!(
        system.readiness().await.0,
        503,
        "not ready without the database"
    );
    assert_eq!(
        system.storage.uploads.count().await.unwrap(),
        tasks.len(),
        "no orphan original"
    );

    // Processing goes on; its events wait for the database.
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    system
        .wait_worker_readiness(writer, 200, "result-writer ready again")
        .await;

    system
        .eventually("ingest ready again", DEADLINE, || async {
            system.readiness().await.0 == 200
        })
        .await;
    tasks.push(
        system
            .upload_accepted("chelsea.png", good_image("chelsea.png"))
            .await,
    );
    system.all_completed(&tasks, DEADLINE).await;
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_committed_but_not_published_when_ingest_stops_is_published_by_the_next() {
    let _serial = one_at_a_time().await;
    let mut system = TestSystem::start(Options {
        proxy_amqp: true,
        ..Options::default()
    })
    .await;
    // The broker is away at the moment of the commit, and ingest goes away right after.
    system.amqp_proxy.as_ref().unwrap().cut();
    let id = system
        .upload_accepted("rocket.jpg", good_image("rocket.jpg"))
        .await;
    system.stop_ingest().await;
    assert_eq!(
        system.outbox_len().await,
        1,
        "the job is committed, not yet published"
    );

    system.amqp_proxy.as_ref().unwrap().restore();
    system.start_ingest().await;
    system.all_completed(&[id], DEADLINE).await;
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_backlog_ceiling_uploads_are_shed_with_503_and_accepted_again_after() {
    let _serial = one_at_a_time().await;
    let mut system = TestSystem::start(Options {
        start_processor: false,
        max_backlog: 3,
        ..Options::default()
    })
    .await;
    let mut tasks = Vec::new();
    for name in ["rocket.jpg", "coffee.png", "camera.png"] {
        tasks.push(system.upload_accepted(name, good_image(name)).await);
    }
    // The backlog is measured in the background (every 500 ms): soon uploads are refused.
    let started = Instant::now();
    let problem = loop {
        let response = system
            .upload("chelsea.png", good_image("chelsea.png"))
            .await;
        if response.status() == 503 {
            assert!(response.headers().contains_key("retry-after"));
            break response.json::<Value>().await.unwrap();
        }
        assert_eq!(response.status(), 202);
        tasks.push(task_id_of(&response.json().await.unwrap()));
        assert!(started.elapsed() < DEADLINE, "uploads were never shed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(problem["code"], "overloaded", "{problem}");
    assert_eq!(
        system.task_count().await,
        tasks.len() as i64,
        "a shed upload keeps nothing"
    );

    // Once a processor drains the queue, uploads are accepted again.
    system.start_processor();
    for id in &tasks {
        assert_eq!(
            system.wait_terminal(*id, DEADLINE).await["status"],
            "COMPLETED"
        );
    }
    system
        .eventually("uploads accepted again", DEADLINE, || async {
            system
                .upload("chelsea.png", good_image("chelsea.png"))
                .await
                .status()
                == 202
        })
        .await;
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_reports_the_broker_degraded_while_it_is_cut_and_ok_again_after_without_an_upload() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        proxy_amqp: true,
        ..Options::default()
    })
    .await;
    let proxy = system.amqp_proxy.as_ref().unwrap();
    ingest_reports_the_broker(&system, "ok").await;
    proxy.cut();
    ingest_reports_the_broker(&system, "degraded").await;
    proxy.restore();
    // Nothing waits to be published: ingest reconnects on its own.
    ingest_reports_the_broker(&system, "ok").await;
    assert_eq!(system.task_count().await, 0);
    system.cleanup().await;
}

/// Wait until ingest's readiness reports the broker as `word`, ready throughout: the database
/// and the object store are all it needs.
async fn ingest_reports_the_broker(system: &TestSystem, word: &str) {
    let what = format!("ingest reports the broker {word}");
    system
        .eventually(&what, Duration::from_secs(15), || async {
            let (status, body) = system.readiness().await;
            assert_eq!(status, 200, "{body}");
            body["checks"]["broker"] == word
        })
        .await;
}
