//! A commit whose answer is lost: the database commits an upload's task, but ingest's deadline
//! runs out before the answer arrives (as when the database goes silent right after receiving
//! the COMMIT; the chaos run found it with a black hole). Ingest must not take the original
//! back, as it does for an upload that committed nothing: the task would exist without its
//! image and end FAILED `original_missing`, after the client was answered 503. Runs one at a
//! time: it holds a commit past the deadline on purpose.

use std::time::Duration;

use imagepipe_shared::db::STATEMENT_TIMEOUT;
use imagepipe_tests::{Options, TestSystem, good_image, task_id_of};

use super::one_at_a_time;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_commit_outlives_the_deadline_is_accepted_and_completes() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options::default()).await;
    // Every COMMIT of a new task takes longer than ingest waits for a database call: a
    // deferred trigger runs at COMMIT time, then the commit succeeds.
    let sleep = STATEMENT_TIMEOUT.as_secs() + 2;
    system
        .sql(&format!(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN PERFORM pg_sleep({sleep}); RETURN NULL; END $$"
        ))
        .await;
    system
        .sql(
            "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON tasks
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
        )
        .await;

    let form = TestSystem::file_form("rocket.jpg", good_image("rocket.jpg"));
    let response = system
        .upload_form(form, &[("Idempotency-Key", "slow-commit")])
        .await;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    system.sql("DROP TRIGGER slow_commit ON tasks").await;

    // The task was committed, so the upload was accepted: 202, never a 503 with a task behind.
    assert_eq!(status, 202, "{body}");
    let id = task_id_of(&body);
    system.all_completed(&[id], DEADLINE).await;
    assert_eq!(system.task_count().await, 1, "one task");
    assert_eq!(system.storage.uploads.count().await.unwrap(), 1);

    // The key recorded the task: a replay answers it again.
    let form = TestSystem::file_form("rocket.jpg", good_image("rocket.jpg"));
    let replay = system
        .upload_form(form, &[("Idempotency-Key", "slow-commit")])
        .await;
    assert_eq!(replay.status(), 202);
    assert_eq!(task_id_of(&replay.json().await.unwrap()), id);
    system.cleanup().await;
}
