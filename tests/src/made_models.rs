//! The tests' own small ONNX models, made by `tests/reference/make_models.py` (onnx.helper, no
//! PyTorch) with the outputs onnxruntime's Python build gives on inputs Pillow prepared, and
//! the one way each test, the harness's own test and the bench declares `colours`: in-process
//! or on a model server, the same input and report either way.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{
    mlserver::{ServedModel, TensorMeta},
    testdata,
};

/// The Python with the reference tools (onnxruntime, Pillow, openapi-spec-validator), as
/// `ensure_python_tools` (scripts/lib.sh) installs it and exports it.
pub fn reference_python() -> PathBuf {
    std::env::var_os("IMAGEPIPE_TEST_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/venv-openapi/bin/python"),
        PathBuf::from,
    )
}

/// The photograph whose expected `means` make_models.py computes.
pub fn photo() -> PathBuf {
    testdata("good/astronaut.png")
}

/// The photograph, not square, on which it computes `means` after `cover` and `contain`.
pub fn oblong_photo() -> PathBuf {
    testdata("good/rocket.jpg")
}

/// Makes the models, their labels and the solid-colour test images in `dir`, and returns
/// make_models.py's JSON: each model's file and SHA-256 (`models`) and the outputs expected
/// of them (`expected`) on [`photo`] and [`oblong_photo`].
pub fn make_models(dir: &Path) -> Value {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let output = std::process::Command::new(reference_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/make_models.py"))
        .arg(dir)
        .arg(photo())
        .arg(oblong_photo())
        // One thread, so the expected outputs do not depend on the machine's cores.
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} does not run ({e}): source scripts/lib.sh && ensure_python_tools",
                reference_python().display()
            )
        });
    assert!(
        output.status.success(),
        "make_models.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("make_models.py's JSON")
}

/// `colours` declared as `name`, its runtime given by `runtime` (the lines after
/// `[models.NAME]`), reading an image `width` wide (make_models.py's is 32).
pub fn colours_declaration(name: &str, runtime: &str, width: u32) -> String {
    format!(
        r#"
[models.{name}]
{runtime}
[models.{name}.input]
tensor = "pixels"
width = {width}
height = 24
fit = "contain"
mean = [0.5, 0.5, 0.5]
std = [0.5, 0.5, 0.5]
[models.{name}.report]
kind = "classes"
labels = "colours.txt"
top_k = 2
"#
    )
}

/// The model server's `colours` declared as `colours-served`.
pub fn served_colours(url: &str, width: u32) -> String {
    let runtime =
        format!("runtime = \"oip\"\nurl = \"{url}\"\nmodel = \"colours\"\ntimeout_ms = 10000");
    colours_declaration("colours-served", &runtime, width)
}

/// `colours` as a model server serves it from `dir` (where [`make_models`] wrote it), its
/// input and output in the metadata.
pub fn colours_on_server(dir: &Path) -> ServedModel {
    let tensor = |name: &str, shape: Vec<i64>| TensorMeta {
        name: name.into(),
        datatype: "FP32".into(),
        shape,
    };
    ServedModel {
        name: "colours".into(),
        onnx: dir.join("colours.onnx"),
        inputs: vec![tensor("pixels", vec![1, 3, 24, 32])],
        outputs: vec![tensor("logits", vec![1, 3])],
    }
}
