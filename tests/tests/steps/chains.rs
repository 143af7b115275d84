//! Chains run to their results: a client's chain, a preset, the default chain as the task
//! shows it, idempotent replays compared by file and chain, a retry that runs the same chain
//! again, and a job whose chain no ingest checked, refused by the processor.

use imagepipe_tests::{Options, TestSystem, task_id_of};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{DEADLINE, accepted, completed_result, form, send, upright_size};

const PHOTO: &str = "photo-2mp.jpg";
const PNG: &str = "chelsea.png";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_and_presets_make_the_results_they_describe() {
    let system = TestSystem::start(Options::default()).await;
    let chain = r#"[{"op":"resize","width":400},{"op":"rotate","degrees":90},{"op":"encode","format":"webp"}]"#;
    let webp = accepted(&system, form(PHOTO, &[("steps", chain)])).await;
    let thumbnail = accepted(&system, form(PHOTO, &[("preset", "thumbnail")])).await;
    let default = accepted(&system, form(PNG, &[])).await;
    let grayscale = accepted(&system, form(PNG, &[("preset", "grayscale")])).await;

    a_clients_chain_completes_as_described(&system, webp).await;
    the_thumbnail_preset_is_a_256_px_square_jpeg(&system, thumbnail).await;
    the_default_chain_is_shown_spelled_out(&system, default, None).await;
    the_default_chain_is_shown_spelled_out(&system, grayscale, Some("grayscale")).await;
    a_retry_runs_the_same_chain_again(&system, webp).await;
    replays_match_on_the_file_and_the_chain(&system).await;
    a_job_with_a_chain_no_ingest_checked_fails_at_once(&system).await;
    a_chain_starts_from_the_upright_image(&system).await;

    system.cleanup().await;
}

/// Resize to 400 wide (aspect kept), a quarter turn, WebP: the result's size follows.
async fn a_clients_chain_completes_as_described(system: &TestSystem, id: Uuid) {
    let task = system.wait_terminal(id, DEADLINE).await;
    let (width, height) = upright_size(PHOTO);
    let resized_height = (f64::from(height) * 400.0 / f64::from(width)).round();
    let (result, _) = completed_result(system, &task).await;
    assert_eq!(
        (result["width"].as_f64(), result["height"].as_f64()),
        (Some(resized_height), Some(400.0)),
        "{task}"
    );
    assert_eq!(result["content_type"], "image/webp", "{task}");
    assert_eq!(result["key"], format!("results/{id}.webp"), "{task}");
    assert_eq!(task["preset"], Value::Null);
    assert_eq!(
        task["steps"],
        json!([
            {"op":"resize","width":400,"fit":"contain","gravity":"centre","enlarge":false},
            {"op":"rotate","degrees":90},
            {"op":"encode","format":"webp"}
        ]),
        "the canonical chain: {task}"
    );
}

async fn the_thumbnail_preset_is_a_256_px_square_jpeg(system: &TestSystem, id: Uuid) {
    let task = system.wait_terminal(id, DEADLINE).await;
    let (result, _) = completed_result(system, &task).await;
    assert_eq!(
        (result["width"].as_u64(), result["height"].as_u64()),
        (Some(256), Some(256))
    );
    assert_eq!(result["content_type"], "image/jpeg", "{task}");
    assert_eq!(result["key"], format!("results/{id}.jpg"), "{task}");
    assert_eq!(task["preset"], "thumbnail");
    assert_eq!(
        task["steps"],
        json!([
            {"op":"resize","width":256,"height":256,"fit":"cover","gravity":"centre","enlarge":false},
            {"op":"encode","format":"jpeg","quality":90}
        ]),
        "{task}"
    );
}

/// The default chain, asked for by no chain or by the `grayscale` preset: grayscale, then the
/// delay the services run with; the result is the seed's (same size, PNG stays PNG).
async fn the_default_chain_is_shown_spelled_out(
    system: &TestSystem,
    id: Uuid,
    preset: Option<&str>,
) {
    let task = system.wait_terminal(id, DEADLINE).await;
    let delay = Options::default().processing_delay_ms;
    assert_eq!(
        task["steps"],
        json!([{"op":"grayscale"},{"op":"delay","ms":delay}]),
        "{task}"
    );
    assert_eq!(task["preset"], json!(preset), "{task}");
    let (result, _) = completed_result(system, &task).await;
    let (width, height) = upright_size(PNG);
    assert_eq!(
        (result["width"].as_u64(), result["height"].as_u64()),
        (Some(u64::from(width)), Some(u64::from(height)))
    );
    assert_eq!(result["content_type"], "image/png", "{task}");
    assert_eq!(result["key"], format!("results/{id}.png"), "{task}");
}

/// A FAILED task retried runs its own chain again: the new run's result is the same WebP.
async fn a_retry_runs_the_same_chain_again(system: &TestSystem, id: Uuid) {
    let first = system.wait_terminal(id, DEADLINE).await;
    system
        .sql(&format!(
            "UPDATE tasks SET status = 'FAILED', error_code = 'processing_failed' WHERE id = '{id}'"
        ))
        .await;
    let (status, body) = system
        .call(Method::POST, &format!("/api/v1/tasks/{id}/retry"), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let again = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(again["run"], 1, "{again}");
    let (result, _) = completed_result(system, &again).await;
    assert_eq!(result["content_type"], "image/webp", "{again}");
    assert_eq!(
        (&result["width"], &result["height"]),
        (&first["result"]["width"], &first["result"]["height"])
    );
    assert_eq!(again["steps"], first["steps"]);
}

/// The same key answers the same task for the same file and chain, however the chain is
/// spelled; other steps, a preset, or none is another request.
async fn replays_match_on_the_file_and_the_chain(system: &TestSystem) {
    let key = [("Idempotency-Key", "steps-replay")];
    let chain = r#"[{"op":"resize","width":64},{"op":"encode","format":"png"}]"#;
    let spelled_out = r#"[{"width":64,"op":"resize","fit":"contain","enlarge":false},{"format":"png","op":"encode"}]"#;
    let (status, first) = send(system, form(PNG, &[("steps", chain)]), &key).await;
    assert_eq!(status, 202, "{first}");
    for same in [chain, spelled_out] {
        let (status, again) = send(system, form(PNG, &[("steps", same)]), &key).await;
        assert_eq!(status, 202, "{again}");
        assert_eq!(
            task_id_of(&again),
            task_id_of(&first),
            "replayed for {same}"
        );
    }
    for other in [
        vec![(
            "steps",
            r#"[{"op":"resize","width":65},{"op":"encode","format":"png"}]"#,
        )],
        vec![("preset", "thumbnail")],
        vec![],
    ] {
        let (status, body) = send(system, form(PNG, &other), &key).await;
        assert_eq!(status, 422, "{other:?}: {body}");
        assert_eq!(body["code"], "idempotency_key_reused", "{other:?}: {body}");
    }
    system.wait_terminal(task_id_of(&first), DEADLINE).await;
}

/// A job published straight to the jobs exchange, with a chain ingest would have refused: the
/// processor checks it again and fails the task at once, without retries.
async fn a_job_with_a_chain_no_ingest_checked_fails_at_once(system: &TestSystem) {
    let bytes = imagepipe_tests::good_image(PNG);
    let (width, height) = upright_size(PNG);
    let size = (width as i32, height as i32);
    let outside = json!([{"op":"crop","x":0,"y":0,"width":width + 1,"height":height}]);
    for steps in [json!([{"op":"spin"}]), json!({"op":"grayscale"}), outside] {
        let id = system
            .enqueue_with_steps(bytes.clone(), "image/png", size, Some(steps.clone()))
            .await;
        let task = system.wait_terminal(id, DEADLINE).await;
        assert_eq!(task["status"], "FAILED", "{steps}: {task}");
        assert_eq!(task["error"]["code"], "invalid_steps", "{steps}: {task}");
        assert_eq!(task["attempts"], 1, "not retried: {task}");
    }
}

/// A crop that only fits the image once its EXIF orientation is applied is accepted, and the
/// result is cut from the upright pixels.
async fn a_chain_starts_from_the_upright_image(system: &TestSystem) {
    let (stored_width, stored_height) = upright_size("rocket.jpg");
    let turned = super::with_exif_orientation(&imagepipe_tests::good_image("rocket.jpg"), 6);
    let steps = format!(
        r#"[{{"op":"crop","x":0,"y":0,"width":{stored_height},"height":{}}}]"#,
        stored_width - 40
    );
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(turned).file_name("turned.jpg"),
        )
        .text("steps", steps);
    let id = accepted(system, form).await;
    let task = system.wait_terminal(id, DEADLINE).await;
    let (result, _) = completed_result(system, &task).await;
    assert_eq!(
        (result["width"].as_u64(), result["height"].as_u64()),
        (
            Some(u64::from(stored_height)),
            Some(u64::from(stored_width - 40))
        ),
        "{task}"
    );
}
