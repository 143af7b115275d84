//! Ingest's readiness tells what is true from the start: the broker is reported `ok` as soon
//! as it answers, not only after something was published.

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem};

#[tokio::test]
async fn readiness_reports_the_broker_ok_before_any_upload() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    system
        .eventually(
            "readiness reports the broker ok",
            Duration::from_secs(10),
            || async {
                let (status, body) = system.readiness().await;
                assert_eq!(status, 200, "ready on database and object store: {body}");
                body["checks"]["broker"] == "ok"
            },
        )
        .await;
    // Nothing was uploaded or published to get there.
    assert_eq!(system.task_count().await, 0);
    assert_eq!(system.outbox_len().await, 0);
    system.cleanup().await;
}
