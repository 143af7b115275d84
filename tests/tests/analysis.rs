//! A task's `analysis`, from the COMPLETED event on: stored with the task and returned as the
//! event carried it by `GET /api/v1/tasks/{id}`, the list and the webhook; null after an event
//! without one; never carried into a new run.
//!
//! The events are published straight to the events exchange, each after its result object is
//! stored, as a processor publishes them: what the processor's model steps find, and its
//! `MAX_ANALYSIS_BYTES` check, are tested with the processor; this is the road after it.

use std::time::Duration;

use imagepipe_shared::{
    analysis::{Analysis, AnalysisEntry, Face, FaceBox, Point},
    messages::{ResultInfo, StatusEvent},
    topology::EVENT_ROUTING_KEY,
};
use imagepipe_tests::{Options, TestSystem, WebhookReceiver, task_id_of};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::webhooks::{logo, options, verify, with_callback};

const DEADLINE: Duration = Duration::from_secs(30);

/// What a chain of `detect_faces` then `blur_faces` might report, with numbers that show
/// whether any side widens or rounds them on the way (0.92 is no binary fraction exactly).
fn two_steps() -> Analysis {
    let face = |x: f64, score: f64| Face {
        bounds: FaceBox {
            x,
            y: 81.3,
            width: 94.7,
            height: 94.7,
        },
        score,
        keypoints: vec![
            Point { x: 201.1, y: 110.9 },
            Point { x: 245.6, y: 111.2 },
            Point { x: 223.4, y: 135.0 },
            Point { x: 223.9, y: 156.8 },
            Point { x: 181.7, y: 118.3 },
            Point { x: 267.2, y: 119.5 },
        ],
    };
    vec![
        AnalysisEntry {
            step: 1,
            op: "detect_faces".into(),
            model: "blazeface-front-128".into(),
            faces: Some(vec![face(178.3, 0.92), face(20.25, 0.7612)]),
            outputs: None,
            classes: None,
        },
        AnalysisEntry {
            step: 2,
            op: "blur_faces".into(),
            model: "blazeface-front-128".into(),
            faces: Some(Vec::new()),
            outputs: None,
            classes: None,
        },
    ]
}

/// A task uploaded with `form`, held PENDING (no processor runs).
async fn pending(system: &TestSystem, form: reqwest::multipart::Form) -> Uuid {
    let response = system.upload_form(form, &[]).await;
    assert_eq!(response.status(), 202);
    task_id_of(&response.json().await.unwrap())
}

/// What a processor does when a task of `run` is done: store the result object, then publish
/// COMPLETED, describing it, with `analysis`.
async fn complete(system: &TestSystem, id: Uuid, run: u32, analysis: Option<Analysis>) {
    let key = format!("results/{id}.png");
    let bytes = logo();
    let result = ResultInfo {
        width: 500,
        height: 500,
        content_type: "image/png".into(),
        size_bytes: bytes.len() as u64,
        analysis,
    };
    system
        .storage
        .processed
        .upload_file(&key, bytes.into(), "image/png")
        .await
        .unwrap();
    let event = StatusEvent::completed(id, 1, key, result).in_run(run);
    system
        .publish_raw(
            &system.topology.events_exchange(),
            EVENT_ROUTING_KEY,
            &serde_json::to_vec(&event).unwrap(),
        )
        .await;
}

/// The task once COMPLETED in `run`.
async fn completed(system: &TestSystem, id: Uuid, run: u32) -> Value {
    let start = tokio::time::Instant::now();
    loop {
        let (_, task) = system.task(id).await;
        if task["status"] == "COMPLETED" && task["run"] == run {
            return task;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "not COMPLETED in run {run}: {task}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `analysis` as the answer has it: an analysis, or none (absent from the API's answers,
/// null in the webhook's documented payload).
fn analysis_in(body: &Value) -> Option<Analysis> {
    let field = body.get("analysis").cloned().unwrap_or(Value::Null);
    serde_json::from_value(field).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_a_completed_event_carries_is_what_the_task_the_list_and_the_webhook_show() {
    let receiver = WebhookReceiver::start(0, 0).await;
    let system = TestSystem::start(Options {
        start_processor: false,
        ..options(receiver.port)
    })
    .await;
    let analysed = pending(&system, with_callback(logo(), &receiver.url())).await;
    let plain = pending(&system, with_callback(logo(), &receiver.url())).await;
    complete(&system, analysed, 0, Some(two_steps())).await;
    complete(&system, plain, 0, None).await;

    let task = completed(&system, analysed, 0).await;
    assert_eq!(analysis_in(&task), Some(two_steps()), "{task}");
    let task = completed(&system, plain, 0).await;
    assert_eq!(analysis_in(&task), None, "null without one: {task}");

    let (status, page) = system.call(Method::GET, "/api/v1/tasks", None).await;
    assert_eq!(status, 200, "{page}");
    let listed = |id: Uuid| {
        page["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|task| task["task_id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} listed: {page}"))
            .clone()
    };
    assert_eq!(analysis_in(&listed(analysed)), Some(two_steps()));
    assert_eq!(analysis_in(&listed(plain)), None);

    system
        .eventually("both webhooks arrive", DEADLINE, || async {
            receiver.received().len() >= 2
        })
        .await;
    let bodies: Vec<Value> = receiver.received().iter().map(verify).collect();
    assert_eq!(bodies.len(), 2, "one webhook per task");
    let webhook = |id: Uuid| {
        bodies
            .iter()
            .find(|body| body["task_id"] == id.to_string())
            .unwrap_or_else(|| panic!("a webhook for {id}"))
    };
    // The webhook carries the stored JSON: the event's, number for number.
    let as_sent: Value =
        serde_json::from_slice(&serde_json::to_vec(&two_steps()).unwrap()).unwrap();
    assert_eq!(
        webhook(analysed)["analysis"],
        as_sent,
        "{}",
        webhook(analysed)
    );
    assert_eq!(webhook(analysed)["analysis"][0]["faces"][0]["score"], 0.92);
    assert_eq!(analysis_in(webhook(analysed)), Some(two_steps()));
    assert_eq!(analysis_in(webhook(plain)), None, "{}", webhook(plain));
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_starts_without_the_analysis_of_the_last() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let id = system.upload_accepted("logo.png", logo()).await;
    complete(&system, id, 0, Some(two_steps())).await;
    completed(&system, id, 0).await;

    // A COMPLETED task cannot be retried: its analysis stays.
    let retry = format!("/api/v1/tasks/{id}/retry");
    let (status, problem) = system.call(Method::POST, &retry, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("task_not_retryable"))
    );
    assert_eq!(analysis_in(&system.task(id).await.1), Some(two_steps()));

    // Only a FAILED task is retried, and no transition leaves a FAILED task with an analysis
    // today; one made by hand shows that a retry clears it all the same, with the result.
    system
        .sql(&format!(
            "UPDATE tasks SET status = 'FAILED', error_code = 'storage_unavailable'
              WHERE id = '{id}'"
        ))
        .await;
    let (status, _) = system.call(Method::POST, &retry, None).await;
    assert_eq!(status, 202);
    let (_, task) = system.task(id).await;
    assert_eq!(task["run"], 1, "{task}");
    assert_eq!(analysis_in(&task), None, "{task}");
    assert!(task["result"].is_null(), "{task}");

    // The new run shows what it found itself.
    let found_again = two_steps()[..1].to_vec();
    complete(&system, id, 1, Some(found_again.clone())).await;
    let task = completed(&system, id, 1).await;
    assert_eq!(analysis_in(&task), Some(found_again), "{task}");
    system.cleanup().await;
}
