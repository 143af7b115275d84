//! The operator's own models through the whole system: models built by
//! `tests/reference/make_models.py` (onnx.helper, no PyTorch), declared in a models file the
//! test writes, run by `infer` steps, reported as `classes` and as `raw` outputs and compared
//! with what onnxruntime's Python build computes on inputs preprocessed by Pillow; a model not
//! declared is refused at ingest; a declared model whose file is missing or not the declared
//! one stops the processor at start, naming the model.
//!
//! Tolerances: class scores within 1e-4 (solid colours: both sides' resizes give the same
//! levels, only float rounding differs); the photograph's mean levels within 1.0 grey level
//! (fast_image_resize and Pillow, both bilinear with antialiasing, differ by about a level on
//! a few pixels of 256); `cover` and `contain` on a JPEG within 1.5 (its decoders add about a
//! level on some pixels).

use std::path::{Path, PathBuf};

use imagepipe_tests::{
    Options, TestSystem,
    made_models::{colours_declaration, make_models, oblong_photo, photo},
};
use serde_json::Value;

use super::refusal;
use crate::steps::{DEADLINE, accepted, send};

/// The test's models, their expected outputs, and a models file declaring them, in a fresh
/// folder.
pub(crate) struct Declared {
    pub(crate) dir: PathBuf,
    pub(crate) expected: Value,
    pub(crate) models_file: PathBuf,
}

/// The models file for the made models, `sha256` of `colours` replaced when given.
fn models_toml(made: &Value, colours_sha256: Option<&str>) -> String {
    let sha = |name: &str| made["models"][name]["sha256"].as_str().unwrap().to_owned();
    let colours_sha256 = colours_sha256.map_or_else(|| sha("colours"), str::to_owned);
    let colours = colours_declaration(
        "colours",
        &format!("runtime = \"onnx\"\npath = \"colours.onnx\"\nsha256 = \"{colours_sha256}\""),
        32,
    );
    format!(
        r#"{colours}
[models.means]
runtime = "onnx"
path = "means.onnx"
sha256 = "{means}"
[models.means.input]
tensor = "image"
width = 16
height = 16
fit = "fill"
layout = "nhwc"
dtype = "uint8"
channels = "bgr"
[models.means.report]
kind = "raw"

[models.means-cover]
runtime = "onnx"
path = "means.onnx"
sha256 = "{means}"
[models.means-cover.input]
tensor = "image"
width = 16
height = 16
fit = "cover"
layout = "nhwc"
dtype = "uint8"
channels = "bgr"
[models.means-cover.report]
kind = "raw"
outputs = ["mean"]

[models.means-contain]
runtime = "onnx"
path = "means.onnx"
sha256 = "{means}"
[models.means-contain.input]
tensor = "image"
width = 16
height = 16
fit = "contain"
pad = 128
layout = "nhwc"
dtype = "uint8"
channels = "bgr"
[models.means-contain.report]
kind = "raw"
outputs = ["mean"]

[models.flat]
runtime = "onnx"
path = "flat.onnx"
sha256 = "{flat}"
[models.flat.input]
tensor = "image"
width = 16
height = 16
[models.flat.report]
kind = "raw"
max_values = 100
"#,
        means = sha("means"),
        flat = sha("flat"),
    )
}

pub(crate) fn declare(test: &str) -> Declared {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("infer-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    let made = make_models(&dir);
    let models_file = dir.join("models.toml");
    std::fs::write(&models_file, models_toml(&made, None)).unwrap();
    Declared {
        dir,
        expected: made["expected"].clone(),
        models_file,
    }
}

pub(crate) fn upload(path: &Path, steps: &str) -> reqwest::multipart::Form {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    TestSystem::file_form(&name, std::fs::read(path).unwrap()).text("steps", steps.to_owned())
}

#[tokio::test]
async fn infer_reports_classes_and_raw_outputs_and_refuses_unknown_models() {
    let declared = declare("system");
    let system = TestSystem::start(Options {
        models_file: Some(declared.models_file.clone()),
        ..Options::default()
    })
    .await;

    // classes: each colour its own top class, the scores onnxruntime's.
    let chain = r#"[{"op":"resize","width":20},{"op":"infer","model":"colours"}]"#;
    for colour in ["red.png", "green.png", "blue.png"] {
        let id = accepted(&system, upload(&declared.dir.join(colour), chain)).await;
        let task = system.wait_terminal(id, DEADLINE).await;
        assert_eq!(task["status"], "COMPLETED", "{colour}: {task}");
        let entry = &task["analysis"][0];
        assert_eq!(
            (&entry["step"], &entry["op"], &entry["model"]),
            (&1.into(), &"infer".into(), &"colours".into()),
            "{task}"
        );
        assert!(entry.get("outputs").is_none(), "{entry}");
        let classes = entry["classes"].as_array().expect("classes");
        let expected = declared.expected["colours"][colour].as_array().unwrap();
        assert_eq!(classes.len(), 2, "{entry}");
        for (got, want) in classes.iter().zip(expected) {
            assert_eq!(got["label"], want["label"], "{colour}: {entry}");
            assert_eq!(got["index"], want["index"], "{colour}: {entry}");
            let (got, want) = (
                got["score"].as_f64().unwrap(),
                want["score"].as_f64().unwrap(),
            );
            assert!((got - want).abs() < 1e-4, "{colour}: {got} vs {want}");
        }
        assert_eq!(
            task["result"]["width"], 20,
            "the pixels are the chain's: {task}"
        );
    }

    // raw: both outputs of the means model on a photograph, as onnxruntime computes them.
    let id = accepted(
        &system,
        upload(
            &photo(),
            r#"[{"op":"infer","model":"means"},{"op":"grayscale"}]"#,
        ),
    )
    .await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let entry = &task["analysis"][0];
    assert!(entry.get("classes").is_none(), "{entry}");
    let outputs = entry["outputs"].as_array().expect("outputs");
    let names: Vec<_> = outputs
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mean", "scaled"], "{entry}");
    for (output, tolerance) in outputs.iter().zip([1.0, 1.0 / 255.0]) {
        assert_eq!(output["shape"], serde_json::json!([1, 3]), "{output}");
        let want = declared.expected["means"][output["name"].as_str().unwrap()]
            .as_array()
            .unwrap();
        for (got, want) in output["values"].as_array().unwrap().iter().zip(want) {
            let (got, want) = (got.as_f64().unwrap(), want.as_f64().unwrap());
            assert!((got - want).abs() <= tolerance, "{output}: {got} vs {want}");
        }
    }

    // cover and contain on a photograph that is not square, as Pillow fits it (a JPEG: the
    // decoders differ by about a level on some pixels too, hence 1.5 levels).
    for (model, fit) in [("means-cover", "cover"), ("means-contain", "contain")] {
        let chain = format!(r#"[{{"op":"infer","model":"{model}"}}]"#);
        let id = accepted(&system, upload(&oblong_photo(), &chain)).await;
        let task = system.wait_terminal(id, DEADLINE).await;
        assert_eq!(task["status"], "COMPLETED", "{task}");
        let output = &task["analysis"][0]["outputs"][0];
        assert_eq!(output["name"], "mean", "{task}");
        let want = declared.expected["means_fits"][fit].as_array().unwrap();
        for (got, want) in output["values"].as_array().unwrap().iter().zip(want) {
            let (got, want) = (got.as_f64().unwrap(), want.as_f64().unwrap());
            assert!(
                (got - want).abs() <= 1.5,
                "{fit}: {output}: {got} vs {want}"
            );
        }
    }

    // An output whose dynamic shape turns out larger than its max_values fails the task.
    let id = accepted(
        &system,
        upload(&photo(), r#"[{"op":"infer","model":"flat"}]"#),
    )
    .await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "inference_failed", "{task}");
    assert!(
        task["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_values"),
        "{task}"
    );

    // A model not declared: refused before anything is stored.
    let chain = r#"[{"op":"grayscale"},{"op":"infer","model":"resnet"}]"#;
    let (status, body) = send(&system, upload(&photo(), chain), &[]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "unknown_model", "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/steps/1/model", "{body}");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("colours, flat, means"),
        "{body}"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn a_declared_model_missing_or_not_as_declared_stops_the_processor_at_start() {
    let declared = declare("startup");
    let system = TestSystem::start(Options {
        models_file: Some(declared.models_file.clone()),
        start_processor: false,
        ..Options::default()
    })
    .await;
    let args = system.processor_args();
    assert!(args.iter().any(|a| a == "--models-file"), "{args:?}");

    // Another checksum than the file's.
    let made = std::fs::read_to_string(&declared.models_file).unwrap();
    let wrong = "ab".repeat(32);
    let (at, _) = made.match_indices("sha256 = \"").next().unwrap();
    let colours_sha = &made[at + 10..at + 74];
    std::fs::write(&declared.models_file, made.replacen(colours_sha, &wrong, 1)).unwrap();
    let stderr = refusal(&args).await;
    assert!(
        stderr.contains("colours") && stderr.contains(&wrong) && stderr.contains("SHA-256"),
        "{stderr}"
    );

    // The file gone.
    std::fs::write(&declared.models_file, &made).unwrap();
    std::fs::remove_file(declared.dir.join("means.onnx")).unwrap();
    let stderr = refusal(&args).await;
    assert!(
        stderr.contains("means")
            && stderr.contains("means.onnx")
            && stderr.contains("No such file"),
        "{stderr}"
    );

    // Not a models file a processor can use: a model server's model with a file.
    std::fs::write(
        &declared.models_file,
        made.replacen("runtime = \"onnx\"", "runtime = \"oip\"", 1),
    )
    .unwrap();
    let stderr = refusal(&args).await;
    assert!(
        stderr.contains("MODELS_FILE") && stderr.contains("path: not a field of an oip model"),
        "{stderr}"
    );
    system.cleanup().await;
    let _ = std::fs::remove_dir_all(&declared.dir);
}
