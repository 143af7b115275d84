//! `infer` on a real Open Inference Protocol server: MLServer from PyPI (pinned in
//! tests/reference/mlserver) serving the test's `colours` model through a small custom runtime
//! that runs it with onnxruntime (tests/reference/mlserver/onnx_model.py). The same model is
//! declared twice, in-process (`onnx`) and on the server (`oip`), so what the server returns
//! is compared with what the processor computes itself, and both with onnxruntime's Python
//! build on Pillow's preprocessing (make_models.py).
//!
//! Tolerance: scores within 1e-6 between the two runtimes (the same input tensor, the same
//! onnxruntime version; only the JSON round trip of float32 values differs), 1e-4 against
//! make_models.py's (as in infer.rs).
//!
//! The server stopped, and coming back, is in tests/tests/serial/model_server.rs.

use std::path::Path;

use image::{Rgb, RgbImage};
pub(crate) use imagepipe_tests::made_models::served_colours;
use imagepipe_tests::{MlServer, Options, TestSystem, made_models::colours_on_server};
use serde_json::Value;

use super::{
    infer::{Declared, declare, upload},
    refusal,
};
use crate::steps::{DEADLINE, accepted};

/// The test's `colours` model on a new MLServer, its input and output in the metadata.
pub(crate) async fn serve_colours(declared: &Declared) -> MlServer {
    MlServer::start(
        &declared.dir.join("mlserver"),
        vec![colours_on_server(&declared.dir)],
    )
    .await
}

/// `declared`'s models file with `extra` declarations after its own.
pub(crate) fn declare_also(declared: &Declared, extra: &str) {
    let mut text = std::fs::read_to_string(&declared.models_file).unwrap();
    text.push_str(extra);
    std::fs::write(&declared.models_file, text).unwrap();
}

/// The processor's readiness and its body (0 and the error while its endpoint does not
/// answer yet).
pub(crate) async fn processor_readiness(system: &TestSystem) -> (u16, Value) {
    let url = format!(
        "http://127.0.0.1:{}/health/ready",
        system.processor_health_port
    );
    match system.http.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(err) => (0, Value::String(err.to_string())),
    }
}

fn black_png(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("black.png");
    RgbImage::from_pixel(40, 40, Rgb([0, 0, 0]))
        .save(&path)
        .unwrap();
    path
}

#[tokio::test]
async fn infer_on_a_model_server_reports_what_it_returns_and_its_refusals() {
    let declared = declare("served");
    let server = serve_colours(&declared).await;
    declare_also(&declared, &served_colours(&server.url(), 32));
    let system = TestSystem::start(Options {
        models_file: Some(declared.models_file.clone()),
        ..Options::default()
    })
    .await;
    system
        .eventually("the processor shows its model server", DEADLINE, || async {
            let (status, body) = processor_readiness(&system).await;
            status == 200 && body["checks"]["model_server:colours-served"] == "ok"
        })
        .await;

    // The same image, the same model: on the server and in-process, the same classes.
    let chain = r#"[{"op":"resize","width":20},{"op":"infer","model":"colours-served"},{"op":"infer","model":"colours"}]"#;
    for colour in ["red.png", "green.png", "blue.png"] {
        let id = accepted(&system, upload(&declared.dir.join(colour), chain)).await;
        let task = system.wait_terminal(id, DEADLINE).await;
        assert_eq!(task["status"], "COMPLETED", "{colour}: {task}");
        let (served, local) = (&task["analysis"][0], &task["analysis"][1]);
        assert_eq!(
            (&served["step"], &served["model"], &local["step"]),
            (&1.into(), &"colours-served".into(), &2.into()),
            "{task}"
        );
        let expected = declared.expected["colours"][colour].as_array().unwrap();
        let served = served["classes"].as_array().expect("classes");
        let local = local["classes"].as_array().expect("classes");
        assert_eq!(served.len(), 2, "{task}");
        for ((got, here), want) in served.iter().zip(local).zip(expected) {
            assert_eq!(
                (&got["label"], &got["index"]),
                (&want["label"], &want["index"]),
                "{colour}: {task}"
            );
            assert_eq!(got["index"], here["index"], "{colour}: {task}");
            let score = |v: &Value| v["score"].as_f64().unwrap();
            assert!((score(got) - score(here)).abs() < 1e-6, "{colour}: {task}");
            assert!((score(got) - score(want)).abs() < 1e-4, "{colour}: {task}");
        }
    }

    // The server refuses a blank image (a 400, its own validation): FAILED at once, with the
    // server's message, no retry.
    let id = accepted(
        &system,
        upload(
            &black_png(&declared.dir),
            r#"[{"op":"infer","model":"colours-served"}]"#,
        ),
    )
    .await;
    let task = system.wait_terminal(id, DEADLINE).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "inference_failed", "{task}");
    assert_eq!(task["attempts"], 1, "{task}");
    let message = task["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("colours-served") && message.contains("400") && message.contains("blank"),
        "{message}"
    );

    // A declaration the server's metadata contradicts (24x16 where the server's model takes
    // 24x32): the processor refuses to start, naming the model and the field.
    let text = std::fs::read_to_string(&declared.models_file).unwrap();
    std::fs::write(
        &declared.models_file,
        text.replace(
            &served_colours(&server.url(), 32),
            &served_colours(&server.url(), 16),
        ),
    )
    .unwrap();
    let stderr = refusal(&system.processor_args()).await;
    assert!(
        stderr.contains("model `colours-served` (MODELS_FILE) does not match its server")
            && stderr.contains("input: declared as [1, 3, 24, 16]")
            && stderr.contains("[1, 3, 24, 32]"),
        "{stderr}"
    );
    system.cleanup().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&declared.dir);
}
