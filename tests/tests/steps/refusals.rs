//! Every way a chain can be refused gets its code and the JSON pointer of its place, and
//! leaves nothing behind: no task, no object, no job, no idempotency claim.

use imagepipe_tests::{Options, TestSystem};
use reqwest::multipart::{Form, Part};

use super::{form, send, upright_size};

const FILE: &str = "chelsea.png";

/// One refusal: what it is, the form's chain fields, the code, the pointer of its problem.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str, &'a str);

/// `count` copies of one step, as a JSON array.
fn repeated(step: &str, count: usize) -> String {
    format!("[{}]", vec![step; count].join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_chain_names_its_code_and_place_and_leaves_nothing_behind() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let (width, height) = upright_size(FILE);
    let outside = format!(r#"[{{"op":"crop","x":1,"y":0,"width":{width},"height":{height}}}]"#);
    let too_long = format!("[{}]", " ".repeat(16 * 1024));
    let seventeen = repeated(r#"{"op":"grayscale"}"#, 17);

    let steps = |json: &str| vec![("steps", json.to_owned())];
    let cases: Vec<Case> = vec![
        ("not JSON", steps("{"), "invalid_steps", "/steps"),
        (
            // (One object is one step: what a generated client sends for a chain of one.)
            "not an array",
            steps(r#""grayscale""#),
            "invalid_steps",
            "/steps",
        ),
        ("over 16 KiB", steps(&too_long), "invalid_steps", "/steps"),
        (
            "unknown op",
            steps(r#"[{"op":"spin"}]"#),
            "invalid_steps",
            "/steps/0/op",
        ),
        (
            "no op",
            steps(r#"[{"width":3}]"#),
            "invalid_steps",
            "/steps/0/op",
        ),
        (
            "unknown parameter",
            steps(r#"[{"op":"blur","sigma":1,"radius":2}]"#),
            "invalid_steps",
            "/steps/0/radius",
        ),
        (
            "wrong type",
            steps(r#"[{"op":"resize","width":"wide"}]"#),
            "invalid_steps",
            "/steps/0/width",
        ),
        (
            "missing parameter",
            steps(r#"[{"op":"rotate"}]"#),
            "invalid_steps",
            "/steps/0",
        ),
        (
            "sigma out of range",
            steps(r#"[{"op":"grayscale"},{"op":"blur","sigma":500}]"#),
            "invalid_steps",
            "/steps/1/sigma",
        ),
        (
            "sharpen amount out of range",
            steps(r#"[{"op":"sharpen","sigma":1,"amount":11}]"#),
            "invalid_steps",
            "/steps/0/amount",
        ),
        (
            "degrees not a quarter turn",
            steps(r#"[{"op":"rotate","degrees":45}]"#),
            "invalid_steps",
            "/steps/0/degrees",
        ),
        (
            "quality out of range",
            steps(r#"[{"op":"encode","format":"jpeg","quality":101}]"#),
            "invalid_steps",
            "/steps/0/quality",
        ),
        (
            "lossless for jpeg",
            steps(r#"[{"op":"encode","format":"jpeg","lossless":true}]"#),
            "invalid_steps",
            "/steps/0/lossless",
        ),
        (
            "delay over MAX_DELAY_MS",
            steps(r#"[{"op":"delay","ms":60001}]"#),
            "invalid_steps",
            "/steps/0/ms",
        ),
        (
            "more than MAX_STEPS",
            steps(&seventeen),
            "invalid_steps",
            "/steps",
        ),
        (
            "encode not last",
            steps(r#"[{"op":"encode","format":"png"},{"op":"grayscale"}]"#),
            "invalid_steps",
            "/steps/0",
        ),
        (
            "encode twice",
            steps(r#"[{"op":"encode","format":"png"},{"op":"encode","format":"jpeg"}]"#),
            "invalid_steps",
            "/steps/0",
        ),
        (
            "resize without a side",
            steps(r#"[{"op":"resize","fit":"contain"}]"#),
            "invalid_steps",
            "/steps/0",
        ),
        (
            "cover with one side",
            steps(r#"[{"op":"resize","width":10,"fit":"cover"}]"#),
            "invalid_steps",
            "/steps/0/height",
        ),
        (
            "crop outside the image",
            steps(&outside),
            "invalid_steps",
            "/steps/0",
        ),
        (
            "output over the pixel limits",
            steps(r#"[{"op":"resize","width":100000,"enlarge":true}]"#),
            "output_too_large",
            "/steps/0",
        ),
        (
            "an intermediate image over the limits",
            steps(r#"[{"op":"resize","width":100000,"enlarge":true},{"op":"resize","width":10}]"#),
            "output_too_large",
            "/steps/0",
        ),
        (
            "both steps and preset",
            vec![
                ("steps", r#"[{"op":"grayscale"}]"#.to_owned()),
                ("preset", "thumbnail".to_owned()),
            ],
            "invalid_steps",
            "/preset",
        ),
        (
            // Several `steps` parts are a step each (how generators send an array of objects
            // in a form); two arrays are not two steps.
            "steps in parts that are not a step each",
            vec![
                ("steps", r#"[{"op":"grayscale"}]"#.to_owned()),
                ("steps", r#"[{"op":"grayscale"}]"#.to_owned()),
            ],
            "invalid_steps",
            "/steps/0",
        ),
        (
            "unknown preset",
            vec![("preset", "polaroid".to_owned())],
            "unknown_preset",
            "/preset",
        ),
    ];

    for (index, (what, fields, code, pointer)) in cases.iter().enumerate() {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // A key on every request: a refused one must not keep its claim either.
        let key = format!("refused-{index}");
        let (status, body) = send(&system, form(FILE, &fields), &[("Idempotency-Key", &key)]).await;
        assert_eq!(status, 422, "{what}: {body}");
        assert_eq!(body["code"], *code, "{what}: {body}");
        assert_eq!(body["status"], 422, "{what}");
        assert_eq!(body["errors"][0]["pointer"], *pointer, "{what}: {body}");
        assert!(
            body["errors"][0]["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {body}"
        );
    }

    // Sizes are the upright image's: rocket.jpg is 640 × 427 as stored, 427 × 640 once its
    // EXIF orientation (6) is applied, so a crop 600 wide fits the stored pixels only.
    let turned = super::with_exif_orientation(&imagepipe_tests::good_image("rocket.jpg"), 6);
    let crop = r#"[{"op":"crop","x":0,"y":0,"width":600,"height":400}]"#;
    let form_turned = Form::new()
        .part("file", Part::bytes(turned).file_name("turned.jpg"))
        .text("steps", crop);
    let (status, body) = send(&system, form_turned, &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_steps")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["pointer"], "/steps/0", "{body}");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("427x640"),
        "the upright size: {body}"
    );

    // The limit on `steps` holds whatever the part says it is.
    let json_part = Part::text(too_long).mime_str("application/json").unwrap();
    let form = Form::new()
        .part(
            "file",
            Part::bytes(imagepipe_tests::good_image(FILE)).file_name(FILE),
        )
        .part("steps", json_part);
    let (status, body) = send(&system, form, &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_steps")),
        "{body}"
    );

    assert_eq!(system.task_count().await, 0, "no task");
    assert_eq!(system.outbox_len().await, 0, "no job in the outbox");
    assert_eq!(
        system.storage.uploads.count().await.unwrap(),
        0,
        "no object"
    );
    assert_eq!(
        system.queue_depth(&system.topology.jobs_queue()).await,
        0,
        "no job"
    );
    assert_eq!(
        system.idempotency_key_count().await,
        0,
        "no idempotency claim"
    );

    system.cleanup().await;
}
