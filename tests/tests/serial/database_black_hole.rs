//! A database that accepts connections and never answers (a hung server, a partition): every
//! service bounds each database call, so ingest answers 503 in time, the result-writer's
//! deliveries are not held for ever, and once a database answers again every accepted task
//! ends in exactly one terminal state. Runs one at a time with the other serial tests.

use std::time::{Duration, Instant};

use imagepipe_shared::db::STATEMENT_TIMEOUT;
use imagepipe_tests::{Options, TestSystem, good_image};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::Value;

use super::one_at_a_time;

const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_never_answers_gives_503_in_time_and_holds_no_delivery_for_ever() {
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
    // A write of the result-writer is in flight when the database goes silent: the test holds
    // the task rows locked, so a COMPLETED write waits in PostgreSQL, and then ends it there
    // (the server went away): only a deadline tells the result-writer to write it again.
    let lock = system.db.begin().await.unwrap();
    lock.execute_unprepared("SELECT id FROM tasks FOR UPDATE")
        .await
        .unwrap();
    system
        .eventually("a COMPLETED write waits on the lock", DEADLINE, || async {
            completed_writes_waiting_on_a_lock(&system, "count(*)").await > 0
        })
        .await;
    proxy.black_hole();
    // Let the proxy's connections see the black hole, then end the waiting write's session.
    tokio::time::sleep(Duration::from_millis(500)).await;
    completed_writes_waiting_on_a_lock(&system, "count(pg_terminate_backend(pid))").await;
    lock.commit().await.unwrap();
    system
        .wait_worker_readiness(writer, 503, "result-writer not ready")
        .await;

    // Ingest waits at most its deadline per call, then answers 503.
    let bound = 10 * STATEMENT_TIMEOUT;
    let started = Instant::now();
    let response = system.upload("rocket.jpg", good_image("rocket.jpg")).await;
    let upload_took = started.elapsed();
    assert_eq!(response.status(), 503);
    assert!(upload_took < bound, "upload answered in {upload_took:?}");
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "database_unavailable", "{problem}");

    let started = Instant::now();
    let (status, problem) = system.task(tasks[0]).await;
    let get_took = started.elapsed();
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["code"], "database_unavailable", "{problem}");
    assert!(get_took < bound, "GET answered in {get_took:?}");
    eprintln!("black hole: upload 503 after {upload_took:?}, GET 503 after {get_took:?}");
    assert_eq!(
        system.readiness().await.0,
        503,
        "not ready without the database"
    );

    // Processing goes on; the result-writer's writes hang on connections that never answer,
    // longer than one statement may take, and stay dead after the restore.
    tokio::time::sleep(2 * STATEMENT_TIMEOUT).await;
    let restored = Instant::now();
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
    let finals = system.account(&tasks, DEADLINE).await;
    for task in &finals {
        assert_eq!(task["status"], "COMPLETED", "{task}");
    }
    eprintln!(
        "black hole: everything completed {:?} after the restore",
        restored.elapsed()
    );
    system.cleanup().await;
}

/// Writes of a COMPLETED event (the only statement that sets `result_key`) blocked on a row
/// lock in this test's database: if one were held for ever, its task would never complete.
/// `select` is what to count over them.
async fn completed_writes_waiting_on_a_lock(system: &TestSystem, select: &str) -> i64 {
    let row = system
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT {select} AS n FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'
                    AND query LIKE '%result_key%'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}
