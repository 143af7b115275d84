//! The model files a test system's processors load: the ones `ensure_models`
//! (scripts/lib.sh) fetched and exported (`FACE_MODEL_PATH`, `ONNXRUNTIME_LIBRARY`), or by
//! default where it puts them, `<repository>/.local/models`, whatever the test's directory.

use std::path::PathBuf;

use imagepipe_processor::models::ModelsConfig;

/// The pinned model files, by absolute path.
pub fn models_config() -> ModelsConfig {
    let local = |file: &str| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../.local/models")
            .join(file)
    };
    let path =
        |var: &str, file: &str| std::env::var_os(var).map_or_else(|| local(file), PathBuf::from);
    ModelsConfig {
        face_model_path: path("FACE_MODEL_PATH", "blazeface-front-128.onnx"),
        onnxruntime_library: path("ONNXRUNTIME_LIBRARY", "libonnxruntime.so.1.32.0"),
    }
}
