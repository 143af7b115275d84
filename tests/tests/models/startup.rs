//! A model file that is missing, or is not the pinned one, stops the processor at start with
//! a message naming it: never a crash on the first job that needs it.

use imagepipe_tests::{Options, TestSystem, good_image};

use super::refusal;

/// The processor's flags with `flag` replaced by `value`.
fn with(args: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut args = args.to_vec();
    let at = args
        .iter()
        .position(|a| a == flag)
        .expect("the harness sets the flag");
    args[at + 1] = value.to_owned();
    args
}

#[tokio::test]
async fn a_missing_or_different_model_file_stops_the_processor_at_start() {
    let system = TestSystem::start(Options::default()).await;
    let args = system.processor_args();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("model-refusals-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("no-such-model.onnx");
    let stderr = refusal(&with(
        &args,
        "--face-model-path",
        &missing.to_string_lossy(),
    ))
    .await;
    assert!(
        stderr.contains("no-such-model.onnx") && stderr.contains("No such file"),
        "{stderr}"
    );

    // Any other bytes, even a well-formed file: a picture where the model should be.
    let other = dir.join("other.onnx");
    std::fs::write(&other, good_image("logo.png")).unwrap();
    let stderr = refusal(&with(&args, "--face-model-path", &other.to_string_lossy())).await;
    assert!(
        stderr.contains("other.onnx") && stderr.contains("not the pinned one"),
        "{stderr}"
    );

    let library = dir.join("libonnxruntime.so");
    std::fs::write(&library, b"not a library").unwrap();
    let stderr = refusal(&with(
        &args,
        "--onnxruntime-library",
        &library.to_string_lossy(),
    ))
    .await;
    assert!(
        stderr.contains("libonnxruntime.so") && stderr.contains("not the pinned one"),
        "{stderr}"
    );
    drop(system);
    let _ = std::fs::remove_dir_all(&dir);
}
