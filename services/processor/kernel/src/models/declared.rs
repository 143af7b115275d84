//! The operator's own models (`MODELS_FILE`), each loaded once at start and shared by every
//! job, and run by `infer` steps: the image made into the declared input ([`preprocess`]),
//! the model run, its outputs reported as declared ([`report`]). An `onnx` model runs here,
//! on the kernel pool; an `oip` model's input is made here and sent to its server by the
//! worker ([`oip`](super::oip), which checks the server's metadata by the same rules).
//!
//! An `onnx` model is checked at start, each failure naming the model: its file against the
//! declared SHA-256,
//! the declared input tensor against the model's signature (its name, element type, and every
//! static dimension), the outputs a report names, and the sizes the model's signature fixes:
//! a `raw` output statically larger than `max_values`, or a `classes` output with another
//! number of values than labels, stops the start. A dynamic dimension is checked on each run
//! instead, and fails that task (`inference_failed`).

use std::{collections::BTreeMap, sync::Arc};

use imagepipe_shared::{
    analysis::AnalysisEntry,
    models::{DeclaredModel, DeclaredModels, ModelRuntime},
};
use ort::environment::Environment;

use super::{
    oip::ServedModel,
    onnx::{self, ModelError, OnnxModel},
    preprocess::{self, InputTensor},
    report,
    signature::{self, Outputs},
};
use crate::{KernelError, PixelsRef};

/// The declared models, loaded, by name.
#[derive(Default)]
pub struct InferModels(BTreeMap<String, InferModel>);

/// One declared model and where it runs.
pub enum InferModel {
    InProcess(Box<InProcessModel>),
    Served(Arc<ServedModel>),
}

/// An `onnx` model, loaded here.
pub struct InProcessModel {
    spec: DeclaredModel,
    model: OnnxModel,
}

/// What an `infer` step gives on the kernel pool.
#[derive(Debug)]
pub enum Inferred {
    /// The model ran: its entry.
    Entry(AnalysisEntry),
    /// The input for a model server, sent after the pixel work.
    Remote(RemoteInput),
}

/// An `infer` step's input for its model server.
#[derive(Debug)]
pub struct RemoteInput {
    /// The chain step.
    pub step: usize,
    /// The declared model.
    pub model: String,
    pub input: InputTensor,
}

impl InferModels {
    /// Load and check every model of `declared`; blocking (reads files, builds sessions). The
    /// servers of `oip` models are not called here: see [`ServedModel::watch`].
    pub fn load(environment: &Environment, declared: &DeclaredModels) -> Result<Self, ModelError> {
        declared
            .iter()
            .map(|spec| {
                let model = match &spec.runtime {
                    ModelRuntime::Onnx { path, sha256 } => {
                        load_onnx(environment, spec, path, sha256)?
                    }
                    ModelRuntime::Oip(server) => {
                        InferModel::Served(Arc::new(ServedModel::new(spec.clone(), server.clone())))
                    }
                };
                Ok((spec.name.clone(), model))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn get(&self, name: &str) -> Option<&InferModel> {
        self.0.get(name)
    }

    /// The declared models on model servers.
    pub fn served(&self) -> impl Iterator<Item = &Arc<ServedModel>> {
        self.0.values().filter_map(|model| match model {
            InferModel::Served(served) => Some(served),
            InferModel::InProcess(_) => None,
        })
    }
}

fn load_onnx(
    environment: &Environment,
    spec: &DeclaredModel,
    path: &std::path::Path,
    sha256: &str,
) -> Result<InferModel, ModelError> {
    let failed = |message: String| ModelError::Model {
        model: format!("{} (MODELS_FILE)", spec.name),
        message,
    };
    let bytes = onnx::read_verified(path, sha256).map_err(|err| match err {
        ModelError::Checksum { actual, .. } => failed(format!(
            "{}: its SHA-256 is {actual}, the models file declares {sha256}",
            path.display()
        )),
        other => failed(other.to_string()),
    })?;
    let model = OnnxModel::load(environment, &spec.name, &bytes)
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let (inputs, outputs) = model.tensors();
    signature::check_input(spec, &inputs)
        .and_then(|()| signature::check_outputs(spec, &outputs, Outputs::Float32))
        .map_err(failed)?;
    Ok(InferModel::InProcess(Box::new(InProcessModel {
        spec: spec.clone(),
        model,
    })))
}

impl InferModel {
    /// The `infer` step at chain step `step` on `pixels`: the model run here, or its input
    /// made for its server.
    pub fn run(&self, pixels: PixelsRef<'_>, step: usize) -> Result<Inferred, KernelError> {
        match self {
            InferModel::InProcess(loaded) => {
                let InProcessModel { spec, model } = loaded.as_ref();
                let input = preprocess::tensor(pixels, &spec.input)?;
                let failed = |message: String| {
                    KernelError::Inference(format!("model `{}`: {message}", spec.name))
                };
                let outputs = model
                    .run_values(&spec.input.tensor, &input.shape, input.values())
                    .map_err(|e| failed(e.to_string()))?;
                report::analysis_entry(spec, step, outputs)
                    .map(Inferred::Entry)
                    .map_err(failed)
            }
            InferModel::Served(served) => Ok(Inferred::Remote(RemoteInput {
                step,
                model: served.name().to_owned(),
                input: preprocess::tensor(pixels, &served.spec().input)?,
            })),
        }
    }
}
