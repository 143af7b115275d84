//! ONNX models run in-process by ONNX Runtime, through the `ort` crate's C-API bindings with
//! the library loaded at run time (`ONNXRUNTIME_LIBRARY`, a pinned file of the onnxruntime
//! wheel: models.lock). Why ONNX Runtime and not tract: it runs the shipped BlazeFace file as
//! it is (tract 0.23 refuses it), at onnxruntime's own speed (the benchmark's target is
//! parity), with every operator a PyTorch export uses, and without a build of its own.

use std::{
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use ort::{
    environment::Environment,
    session::{Session, builder::GraphOptimizationLevel},
    value::{TensorElementType, TensorRef},
};
use sha2::{Digest, Sha256};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "model file {path} is not the pinned one: its SHA-256 is {actual}, {expected} was expected \
         (fetch it again: scripts/fetch-models.sh)"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("ONNX Runtime library {path}: {message}")]
    Runtime { path: PathBuf, message: String },
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
}

/// The bytes of the file at `path`, if their SHA-256 is `expected` (lowercase hex). Read
/// once and hashed: what is checked is what is loaded.
pub fn read_verified(path: &Path, expected: &str) -> Result<Vec<u8>, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
        path: path.to_owned(),
        source,
    })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(ModelError::Checksum {
            path: path.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}

/// ONNX Runtime's one environment per process (its rule), loaded from the library at `path`
/// the first time, and checked against `sha256`. Later calls (several processors in one test
/// process) get the same environment, provided they name the same library.
pub fn runtime(path: &Path, sha256: &str) -> Result<&'static Environment, ModelError> {
    static RUNTIME: OnceLock<(PathBuf, Environment)> = OnceLock::new();
    static LOADING: Mutex<()> = Mutex::new(());
    let failed = |message: String| ModelError::Runtime {
        path: path.to_owned(),
        message,
    };
    let _one_at_a_time = LOADING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if RUNTIME.get().is_none() {
        // Checked before it is loaded: a library is code, and a wrong one would run.
        read_verified(path, sha256)?;
        let environment = ort::init_from(path)
            .map_err(|e| failed(e.to_string()))?
            .with_name("imagepipe")
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let _ = RUNTIME.set((path.to_owned(), environment));
    }
    let (loaded, environment) = RUNTIME.get().ok_or_else(|| failed("not loaded".into()))?;
    if loaded != path {
        return Err(failed(format!(
            "this process already runs ONNX Runtime from {}",
            loaded.display()
        )));
    }
    Ok(environment)
}

/// One loaded model, shared by every job of the processor.
pub struct OnnxModel {
    name: String,
    // `Session::run` takes `&mut`: jobs take turns. One intra-op thread per run, as every
    // kernel step runs on one core of the kernel pool, which sizes the parallelism.
    session: Mutex<Session>,
}

/// A tensor out of a model: its name, shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub shape: Vec<i64>,
    pub values: Vec<f32>,
}

/// An input's values: float32, or the pixel bytes themselves.
#[derive(Debug, Clone, Copy)]
pub enum InputValues<'a> {
    F32(&'a [f32]),
    U8(&'a [u8]),
}

/// A tensor the model takes or gives, as its signature says: `shape` with -1 for a dynamic
/// dimension, both `None` for what is not a tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub element: Option<TensorElementType>,
    pub shape: Option<Vec<i64>>,
}

impl OnnxModel {
    /// Load `bytes` (a checked model file) as model `name`.
    pub fn load(environment: &Environment, name: &str, bytes: &[u8]) -> Result<Self, ModelError> {
        let failed = |message: String| ModelError::Model {
            model: name.to_owned(),
            message,
        };
        let session = Session::builder(environment)
            .map_err(|e| failed(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| failed(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| failed(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| failed(e.to_string()))?
            .commit_from_memory(bytes)
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            name: name.to_owned(),
            session: Mutex::new(session),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model's inputs and outputs, by name, in its order.
    pub fn signature(&self) -> (Vec<String>, Vec<String>) {
        let session = self.lock();
        let names =
            |outlets: &[ort::value::Outlet]| outlets.iter().map(|o| o.name().to_owned()).collect();
        (names(session.inputs()), names(session.outputs()))
    }

    /// The inputs and outputs with their element types and shapes.
    pub fn tensors(&self) -> (Vec<TensorInfo>, Vec<TensorInfo>) {
        let session = self.lock();
        let infos = |outlets: &[ort::value::Outlet]| {
            outlets
                .iter()
                .map(|o| TensorInfo {
                    name: o.name().to_owned(),
                    element: o.dtype().tensor_type(),
                    shape: o.dtype().tensor_shape().map(|s| s.to_vec()),
                })
                .collect()
        };
        (infos(session.inputs()), infos(session.outputs()))
    }

    /// Run the model on one float32 input of `shape`; every output, as float32.
    pub fn run(
        &self,
        input: &str,
        shape: &[i64],
        values: &[f32],
    ) -> Result<Vec<Output>, ModelError> {
        self.run_values(input, shape, InputValues::F32(values))
    }

    /// Run the model on one input of `shape`, float32 or uint8; every output, as float32.
    pub fn run_values(
        &self,
        input: &str,
        shape: &[i64],
        values: InputValues<'_>,
    ) -> Result<Vec<Output>, ModelError> {
        let failed = |message: String| ModelError::Model {
            model: self.name.clone(),
            message,
        };
        let mut session = self.lock();
        let outputs = match values {
            InputValues::F32(values) => {
                let tensor = TensorRef::from_array_view((shape.to_vec(), values))
                    .map_err(|e| failed(e.to_string()))?;
                session.run(ort::inputs![input => tensor])
            }
            InputValues::U8(values) => {
                let tensor = TensorRef::from_array_view((shape.to_vec(), values))
                    .map_err(|e| failed(e.to_string()))?;
                session.run(ort::inputs![input => tensor])
            }
        }
        .map_err(|e| failed(e.to_string()))?;
        outputs
            .iter()
            .map(|(name, value)| {
                let (shape, values) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| failed(format!("output {name}: {e}")))?;
                Ok(Output {
                    name: name.to_owned(),
                    shape: shape.to_vec(),
                    values: values.to_vec(),
                })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Session> {
        // A panic mid-run leaves nothing half-written in the session that a next run reads.
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
