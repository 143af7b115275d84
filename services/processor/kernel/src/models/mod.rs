//! The models a processor runs, loaded once at start and shared by every job: the shipped
//! face detector, and the operator's own models ([`declared`], `MODELS_FILE`). Each runtime
//! is a module ([`onnx`]: ONNX Runtime in-process; [`oip`]: model servers speaking the Open
//! Inference Protocol), checked against the declarations by one set of rules ([`signature`]).
//! Nothing is downloaded here: the files are pinned dependencies (models.lock) fetched by the
//! project's scripts and the image build, and a missing or different file stops the start
//! with a message that names it.

pub mod blazeface;
pub mod declared;
pub mod oip;
pub mod onnx;
mod pins;
pub mod preprocess;
pub mod report;
pub mod signature;

use std::path::PathBuf;

use clap::Args;

pub use blazeface::FaceDetector;
pub use declared::InferModels;
use imagepipe_shared::models::DeclaredModels;
pub use onnx::ModelError;

/// Where the model files are.
#[derive(Debug, Clone, Args)]
pub struct ModelsConfig {
    /// The face detector's model: BlazeFace 128×128 front (models.lock; fetched into
    /// .local/models by scripts/lib.sh's `ensure_models`, into /opt/imagepipe/models in the
    /// image). Its SHA-256 is checked at start.
    #[arg(
        long,
        env = "FACE_MODEL_PATH",
        default_value = ".local/models/blazeface-front-128.onnx"
    )]
    pub face_model_path: PathBuf,

    /// ONNX Runtime's shared library (libonnxruntime.so of the pinned onnxruntime wheel),
    /// loaded at start and checked by its SHA-256.
    #[arg(
        long,
        env = "ONNXRUNTIME_LIBRARY",
        default_value = ".local/models/libonnxruntime.so.1.32.0"
    )]
    pub onnxruntime_library: PathBuf,
}

/// The loaded models.
pub struct Models {
    pub faces: FaceDetector,
    /// The declarations, as ingest reads them (to refuse a job naming another model).
    pub declared: DeclaredModels,
    pub infer: InferModels,
}

impl Models {
    /// Load and check the shipped models; blocking (reads files, builds sessions).
    pub fn load(config: &ModelsConfig) -> Result<Self, ModelError> {
        Self::load_with(config, DeclaredModels::default())
    }

    /// Load and check the shipped models and every `declared` one.
    pub fn load_with(config: &ModelsConfig, declared: DeclaredModels) -> Result<Self, ModelError> {
        let runtime = onnx::runtime(&config.onnxruntime_library, pins::runtime_library_sha256())?;
        let bytes = onnx::read_verified(&config.face_model_path, pins::face_model_sha256())?;
        let model = onnx::OnnxModel::load(runtime, blazeface::MODEL_NAME, &bytes)?;
        let infer = InferModels::load(runtime, &declared)?;
        Ok(Self {
            faces: FaceDetector::new(model)?,
            declared,
            infer,
        })
    }
}
