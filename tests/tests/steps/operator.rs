//! What the operator's settings change: `ALLOWED_OPS` restricts clients' own steps (not
//! presets, not the default chain), and `PRESETS_FILE` adds presets.

use imagepipe_tests::{Options, TestSystem};
use serde_json::json;

use super::{DEADLINE, accepted, completed_result, form, send};

const FILE: &str = "chelsea.png";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_ops_restrict_clients_steps_and_a_presets_file_adds_presets() {
    let presets =
        std::env::temp_dir().join(format!("imagepipe-presets-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(
        &presets,
        r#"{"crisp": [{"op":"sharpen","sigma":1,"amount":1},{"op":"resize","width":100},{"op":"encode","format":"png"}]}"#,
    )
    .unwrap();
    let system = TestSystem::start(Options {
        allowed_ops: vec!["resize".into(), "encode".into()],
        presets_file: Some(presets.clone()),
        ..Options::default()
    })
    .await;

    // A client may not use an op the server does not allow...
    let (status, body) = send(
        &system,
        form(
            FILE,
            &[(
                "steps",
                r#"[{"op":"resize","width":50},{"op":"sharpen","sigma":1,"amount":1}]"#,
            )],
        ),
        &[],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_steps");
    assert_eq!(body["errors"][0]["pointer"], "/steps/1/op", "{body}");
    assert_eq!(system.task_count().await, 0, "nothing stored");

    // ...but may use the allowed ones, the operator's presets and the default chain, whatever
    // ops they use.
    let own = accepted(
        &system,
        form(
            FILE,
            &[(
                "steps",
                r#"[{"op":"resize","width":50},{"op":"encode","format":"jpeg"}]"#,
            )],
        ),
    )
    .await;
    let crisp = accepted(&system, form(FILE, &[("preset", "crisp")])).await;
    let default = accepted(&system, form(FILE, &[])).await;

    let task = system.wait_terminal(own, DEADLINE).await;
    let (result, _) = completed_result(&system, &task).await;
    assert_eq!(
        (result["width"].as_u64(), result["content_type"].as_str()),
        (Some(50), Some("image/jpeg"))
    );

    let task = system.wait_terminal(crisp, DEADLINE).await;
    assert_eq!(task["preset"], "crisp");
    assert_eq!(
        task["steps"],
        json!([
            {"op":"sharpen","sigma":1.0,"amount":1.0},
            {"op":"resize","width":100,"fit":"contain","gravity":"centre","enlarge":false},
            {"op":"encode","format":"png"}
        ]),
        "{task}"
    );
    let (result, _) = completed_result(&system, &task).await;
    assert_eq!(
        (result["width"].as_u64(), result["content_type"].as_str()),
        (Some(100), Some("image/png"))
    );

    let task = system.wait_terminal(default, DEADLINE).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");

    // The built-in presets are still there beside the file's.
    let (status, body) = send(&system, form(FILE, &[("preset", "nope")]), &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("unknown_preset"))
    );
    let listed = body["errors"][0]["detail"].as_str().unwrap_or_default();
    for name in ["crisp", "grayscale", "thumbnail", "web"] {
        assert!(listed.contains(name), "{listed}");
    }

    // GET /api/v1/presets lists them all, each with the steps it runs.
    let (status, body) = system
        .call(reqwest::Method::GET, "/api/v1/presets", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<_> = body["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["crisp", "grayscale", "thumbnail", "web"], "{body}");
    assert_eq!(body["presets"][0]["steps"][0]["op"], "sharpen", "{body}");
    // `grayscale` is the default chain, spelled out as the default task shows it.
    assert_eq!(body["presets"][1]["steps"], task["steps"], "{body}");

    system.cleanup().await;
    std::fs::remove_file(&presets).ok();
}
