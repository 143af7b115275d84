//! A model server that goes away: the test's own MLServer (tests/tests/models/model_server.rs)
//! stopped and started again. Its jobs retry through the retry queues, then end FAILED
//! `model_unavailable` after the budget, or COMPLETED when it is back in time; the processor
//! stays ready meanwhile (the server `degraded`) and does every other job. Serial: it stops a
//! process.

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, good_image};

use super::one_at_a_time;
use crate::{
    models::{
        infer::{declare, upload},
        model_server::{declare_also, processor_readiness, serve_colours, served_colours},
    },
    steps::accepted,
};

const DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_server_away_retries_its_jobs_and_fails_them_only_past_the_budget() {
    let _serial = one_at_a_time().await;
    let declared = declare("server-away");
    let mut server = serve_colours(&declared).await;
    declare_also(&declared, &served_colours(&server.url(), 32));
    let system = TestSystem::start(Options {
        models_file: Some(declared.models_file.clone()),
        // The second retry waits long enough for the server to start again (about 2 s here;
        // the harness waits until it is ready before the job's last attempt is due).
        max_attempts: 3,
        retry_delays_ms: vec![500, 5_000],
        ..Options::default()
    })
    .await;
    // Ready (200) with the model server shown as `word`: `degraded` never makes it unready.
    let ready_with = |word: &'static str| {
        let system = &system;
        move || async move {
            let (status, body) = processor_readiness(system).await;
            status == 200 && body["checks"]["model_server:colours-served"] == word
        }
    };
    system
        .eventually("the model server ok", DEADLINE, ready_with("ok"))
        .await;
    let chain = r#"[{"op":"infer","model":"colours-served"}]"#;
    let red = declared.dir.join("red.png");

    server.stop().await;
    system
        .eventually(
            "the model server degraded",
            DEADLINE,
            ready_with("degraded"),
        )
        .await;
    // Away for longer than three attempts take: FAILED, with the last error.
    let id = accepted(&system, upload(&red, chain)).await;
    // Meanwhile every job without the model completes.
    let other = system
        .upload_accepted("rocket.jpg", good_image("rocket.jpg"))
        .await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "model_unavailable", "{task}");
    assert_eq!(task["attempts"], 3, "{task}");
    let message = task["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("after 3 attempts")
            && message.contains("colours-served")
            && message.contains("cannot connect"),
        "{message}"
    );
    assert_eq!(
        system.wait_terminal(other, DEADLINE).await["status"],
        "COMPLETED"
    );

    // Back within the budget: a job that failed its first two attempts completes.
    let id = accepted(&system, upload(&red, chain)).await;
    system
        .eventually("a retry started", DEADLINE, || async {
            system.task(id).await.1["attempts"].as_i64() >= Some(2)
        })
        .await;
    server.restart().await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(task["analysis"][0]["classes"][0]["label"], "red", "{task}");
    system
        .eventually("the model server ok again", DEADLINE, ready_with("ok"))
        .await;
    system.cleanup().await;
    let _ = std::fs::remove_dir_all(&declared.dir);
}
