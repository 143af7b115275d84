//! The face steps through the whole system: uploaded with a chain, run by the processor's
//! in-process detector, their findings in the task's `analysis`; their parameters checked
//! by ingest before anything is stored.

use imagepipe_tests::{Options, TestSystem};

use crate::steps::{DEADLINE, accepted, form, send};

#[tokio::test]
async fn the_face_steps_report_the_astronaut_in_the_tasks_analysis() {
    let system = TestSystem::start(Options::default()).await;
    let chain = r#"[{"op":"detect_faces","min_score":0.8},{"op":"resize","width":256},{"op":"blur_faces","mode":"pixelate"}]"#;
    let id = accepted(&system, form("astronaut.png", &[("steps", chain)])).await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let analysis = task["analysis"].as_array().expect("an analysis").clone();
    assert_eq!(analysis.len(), 2, "{task}");
    for (entry, (step, op)) in analysis
        .iter()
        .zip([(0, "detect_faces"), (2, "blur_faces")])
    {
        assert_eq!(entry["step"], step, "{entry}");
        assert_eq!(entry["op"], op, "{entry}");
        assert_eq!(entry["model"], "blazeface-front-128", "{entry}");
        let faces = entry["faces"].as_array().expect("faces");
        assert_eq!(faces.len(), 1, "{entry}");
        assert!(faces[0]["score"].as_f64().unwrap() > 0.8, "{entry}");
        assert_eq!(
            faces[0]["keypoints"].as_array().unwrap().len(),
            6,
            "{entry}"
        );
    }
    // Each in the pixels of its own step's image: the 512-pixel original, then half of it.
    let first = &analysis[0]["faces"][0]["box"];
    let second = &analysis[1]["faces"][0]["box"];
    let ratio = first["width"].as_f64().unwrap() / second["width"].as_f64().unwrap();
    assert!((ratio - 2.0).abs() < 0.2, "{first} / {second}");
    assert_eq!(task["result"]["width"], 256, "{task}");

    // A chain without a model step has no analysis.
    let plain = accepted(
        &system,
        form(
            "astronaut.png",
            &[("steps", r#"[{"op":"flip","axis":"vertical"}]"#)],
        ),
    )
    .await;
    let task = system.wait_terminal(plain, DEADLINE).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert!(
        task.get("analysis").is_none_or(serde_json::Value::is_null),
        "{task}"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn face_step_parameters_out_of_range_are_refused_with_a_pointer() {
    let system = TestSystem::start(Options::default()).await;
    for (chain, pointer) in [
        (
            r#"[{"op":"detect_faces","min_score":1.5}]"#,
            "/steps/0/min_score",
        ),
        (
            r#"[{"op":"grayscale"},{"op":"blur_faces","padding":-0.1}]"#,
            "/steps/1/padding",
        ),
        (r#"[{"op":"blur_faces","mode":"erase"}]"#, "/steps/0/mode"),
    ] {
        let (status, body) = send(&system, form("astronaut.png", &[("steps", chain)]), &[]).await;
        assert_eq!(status, 422, "{chain}: {body}");
        assert_eq!(body["code"], "invalid_steps", "{chain}: {body}");
        assert_eq!(body["errors"][0]["pointer"], pointer, "{chain}: {body}");
    }
    system.cleanup().await;
}

#[tokio::test]
async fn an_analysis_over_max_analysis_bytes_fails_the_task_and_stores_no_result() {
    // One face's entry is about 400 bytes of JSON: 100 is too little for it.
    let system = TestSystem::start(Options {
        max_analysis_bytes: 100,
        ..Options::default()
    })
    .await;
    let id = accepted(
        &system,
        form("astronaut.png", &[("steps", r#"[{"op":"detect_faces"}]"#)]),
    )
    .await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "analysis_too_large", "{task}");
    assert_eq!(task["attempts"], 1, "at once, without retries: {task}");
    assert_eq!(
        system.storage.processed.count().await.unwrap(),
        0,
        "no result object"
    );
    system.cleanup().await;
}
