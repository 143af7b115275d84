//! Status only moves forward: duplicate, late and out-of-order events change nothing; a job
//! delivered twice yields one result; stuck tasks are reaped; unreadable jobs are parked.

use std::time::Duration;

use chrono::Utc;
use imagepipe_entity::task::{self, TaskStatus};
use imagepipe_result_writer::transitions::{Applied, apply_event, run_result_is_orphan};
use imagepipe_shared::messages::{ErrorCode, JobMessage, StatusEvent, TaskFailure};
use imagepipe_tests::{Options, TestSystem, good_image};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use uuid::Uuid;

async fn insert_pending(system: &TestSystem) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    task::ActiveModel {
        id: Set(id),
        status: Set(TaskStatus::Pending),
        original_key: Set(format!("originals/{id}")),
        original_filename: Set(None),
        content_type: Set("image/png".into()),
        size_bytes: Set(1),
        width: Set(1),
        height: Set(1),
        attempts: Set(0),
        error_code: Set(None),
        error_message: Set(None),
        result_key: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        completed_at: Set(None),
        run: Set(0),
        queued_at: Set(now),
        owner: Set(None),
        callback_url: Set(None),
        steps: Set(None),
        preset: Set(None),
        result_width: Set(None),
        result_height: Set(None),
        result_content_type: Set(None),
        result_size_bytes: Set(None),
        analysis: Set(None),
    }
    .insert(&system.db)
    .await
    .unwrap();
    id
}

async fn load(system: &TestSystem, id: Uuid) -> task::Model {
    task::Entity::find_by_id(id)
        .one(&system.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_move_a_task_forward_only() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let db = &system.db;

    let id = insert_pending(&system).await;
    let processing = StatusEvent::processing(id, 1);
    let completed = StatusEvent::completed(
        id,
        1,
        format!("results/{id}.png"),
        imagepipe_tests::a_png_result(),
    );
    assert_eq!(
        apply_event(db, &processing).await.unwrap(),
        Applied::Changed
    );
    assert_eq!(load(&system, id).await.status, TaskStatus::Processing);
    assert_eq!(apply_event(db, &completed).await.unwrap(), Applied::Changed);
    let done = load(&system, id).await;
    assert_eq!(done.status, TaskStatus::Completed);
    // The result as the event described it.
    let described = imagepipe_tests::a_png_result();
    assert_eq!(
        (
            done.result_width,
            done.result_height,
            done.result_content_type.as_deref(),
            done.result_size_bytes,
        ),
        (
            Some(described.width as i32),
            Some(described.height as i32),
            Some(described.content_type.as_str()),
            Some(described.size_bytes as i64),
        )
    );

    // Duplicates and stragglers are no-ops, never errors.
    assert_eq!(apply_event(db, &completed).await.unwrap(), Applied::Ignored);
    assert_eq!(
        apply_event(db, &processing).await.unwrap(),
        Applied::Ignored
    );
    let failure = TaskFailure {
        code: ErrorCode::StorageUnavailable,
        message: "late".into(),
    };
    let late_failure = StatusEvent::failed(id, 2, failure.clone());
    assert_eq!(
        apply_event(db, &late_failure).await.unwrap(),
        Applied::Ignored
    );
    assert_eq!(
        load(&system, id).await,
        done,
        "nothing changed after the end"
    );

    // Out of order: COMPLETED before PROCESSING ends COMPLETED.
    let other = insert_pending(&system).await;
    let completed = StatusEvent::completed(
        other,
        1,
        format!("results/{other}.png"),
        imagepipe_tests::a_png_result(),
    );
    apply_event(db, &completed).await.unwrap();
    assert_eq!(
        apply_event(db, &StatusEvent::processing(other, 1))
            .await
            .unwrap(),
        Applied::Ignored
    );
    let other = load(&system, other).await;
    assert_eq!(other.status, TaskStatus::Completed);
    assert!(
        other.started_at.is_some(),
        "start time filled from the completion"
    );

    // A retry's PROCESSING raises the attempt count but never goes back from FAILED.
    let third = insert_pending(&system).await;
    apply_event(db, &StatusEvent::processing(third, 1))
        .await
        .unwrap();
    apply_event(db, &StatusEvent::processing(third, 2))
        .await
        .unwrap();
    assert_eq!(load(&system, third).await.attempts, 2);
    apply_event(db, &StatusEvent::failed(third, 2, failure))
        .await
        .unwrap();
    apply_event(db, &StatusEvent::processing(third, 3))
        .await
        .unwrap();
    let third = load(&system, third).await;
    assert_eq!(third.status, TaskStatus::Failed);
    assert_eq!(third.error_code.as_deref(), Some("storage_unavailable"));

    system.cleanup().await;
}

/// A late message about a run whose task can never complete it deletes that run's result,
/// except a key the task row holds: a retry's result stored before retries had keys of their
/// own is at the first run's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_result_is_an_orphan_only_if_its_task_cannot_hold_it() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let db = &system.db;
    let id = insert_pending(&system).await;
    assert!(
        !run_result_is_orphan(db, id, 0).await.unwrap(),
        "run 0 may still complete"
    );

    // The first run failed, the retry completed at its own key: run 0's result is an orphan.
    let mut row = load(&system, id).await.into_active_model();
    row.status = Set(TaskStatus::Completed);
    row.run = Set(1);
    row.result_key = Set(Some(format!("results/{id}.run1.png")));
    let row = row.update(db).await.unwrap();
    assert!(
        run_result_is_orphan(db, id, 0).await.unwrap(),
        "run 0 can never complete"
    );
    assert!(
        !run_result_is_orphan(db, id, 1).await.unwrap(),
        "run 1 holds its result"
    );

    // The same, but the retry stored at the first run's key (before retries had their own).
    let mut row = row.into_active_model();
    row.result_key = Set(Some(format!("results/{id}.png")));
    row.update(db).await.unwrap();
    assert!(
        !run_result_is_orphan(db, id, 0).await.unwrap(),
        "the key the task holds is never deleted"
    );

    assert!(
        run_result_is_orphan(db, Uuid::now_v7(), 0).await.unwrap(),
        "a task that is gone holds nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_delivered_twice_yields_one_result_and_one_final_state() {
    let system = TestSystem::start(Options::default()).await;
    let bytes = good_image("coffee.png");
    let id = system.upload_accepted("coffee.png", bytes).await;
    let first = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(first["status"], "COMPLETED");
    let key = first["result"]["key"].as_str().unwrap().to_owned();
    let result = system.storage.processed.get_file(&key).await.unwrap();

    // Deliver the same job again, as a broker redelivery would.
    let job = JobMessage::new(id, format!("originals/{id}"), "image/png".into());
    system
        .publish_raw(
            &system.topology.jobs_exchange(),
            "job",
            &serde_json::to_vec(&job).unwrap(),
        )
        .await;
    // Proof that the second delivery was processed to the end: its COMPLETED event reached
    // the result-writer, which counted it as ignored.
    let metrics = format!(
        "http://127.0.0.1:{}/metrics",
        system.result_writer_health_port
    );
    system
        .eventually(
            "the duplicate COMPLETED event is applied as a no-op",
            Duration::from_secs(30),
            || async {
                let text = system
                    .http
                    .get(&metrics)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                text.contains(
                    r#"imagepipe_status_events_total{status="COMPLETED",outcome="ignored"} 1"#,
                )
            },
        )
        .await;

    let (_, again) = system.task(id).await;
    assert_eq!(again["status"], "COMPLETED");
    assert_eq!(
        again["completed_at"], first["completed_at"],
        "final state unchanged"
    );
    assert_eq!(
        again["result"]["key"],
        key.as_str(),
        "same key: overwritten, not duplicated"
    );
    assert_eq!(
        system.storage.processed.get_file(&key).await.unwrap(),
        result
    );
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_nobody_processes_is_reaped_as_timed_out() {
    let system = TestSystem::start(Options {
        start_processor: false,
        task_timeout_secs: 2,
        ..Options::default()
    })
    .await;
    let bytes = good_image("camera.png");
    let id = system.upload_accepted("camera.png", bytes).await;
    let task = system.wait_terminal(id, Duration::from_secs(30)).await;
    assert_eq!(task["status"], "FAILED");
    assert_eq!(task["error"]["code"], "timed_out", "{task}");
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_jobs_are_parked_and_fail_their_task_when_it_can_be_named() {
    let system = TestSystem::start(Options::default()).await;
    let id = insert_pending(&system).await;
    let jobs = system.topology.jobs_exchange();

    // A job from a future producer, naming an existing task...
    let future_job = serde_json::json!({ "schema_version": 99, "task_id": id, "anything": 1 });
    system
        .publish_raw(&jobs, "job", &serde_json::to_vec(&future_job).unwrap())
        .await;
    // ...and plain garbage.
    system.publish_raw(&jobs, "job", b"\x00 not json").await;

    let parked = system.topology.parked_queue();
    system
        .eventually(
            "both messages are parked",
            Duration::from_secs(30),
            || async { system.queue_depth(&parked).await == 2 },
        )
        .await;
    let task = load(&system, id).await;
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.error_code.as_deref(), Some("unreadable_message"));
    assert!(
        task.error_message
            .as_deref()
            .unwrap_or("")
            .contains("schema_version 99"),
        "{:?}",
        task.error_message
    );
    assert_eq!(system.queue_depth(&system.topology.jobs_queue()).await, 0);
    assert_eq!(
        system
            .queue_depth(&system.topology.dead_letter_queue())
            .await,
        0
    );
    system.cleanup().await;
}
