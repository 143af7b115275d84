//! The operator's own models (`MODELS_FILE`), each loaded once at start and shared by every
//! job, and run by `infer` steps: the image made into the declared input ([`preprocess`]),
//! the model run, its outputs reported as declared ([`report`]).
//!
//! Checked at start, each failure naming the model: its file against the declared SHA-256,
//! the declared input tensor against the model's signature (its name, element type, and every
//! static dimension), the outputs a report names, and the sizes the model's signature fixes:
//! a `raw` output statically larger than `max_values`, or a `classes` output with another
//! number of values than labels, stops the start. A dynamic dimension is checked on each run
//! instead, and fails that task (`inference_failed`).

use std::collections::BTreeMap;

use imagepipe_shared::{
    analysis::AnalysisEntry,
    models::{DeclaredModel, DeclaredModels, InputDtype, ModelRuntime, ReportSpec},
};
use ort::{environment::Environment, value::TensorElementType};

use super::{
    onnx::{self, ModelError, OnnxModel, TensorInfo},
    preprocess::{self, InputTensor},
    report::{self, Report},
};
use crate::kernel::{KernelError, PixelsRef};

/// The declared models, loaded, by name.
#[derive(Default)]
pub struct InferModels(BTreeMap<String, InferModel>);

/// One declared model and its loaded runtime.
pub struct InferModel {
    spec: DeclaredModel,
    model: OnnxModel,
}

impl InferModels {
    /// Load and check every model of `declared`; blocking (reads files, builds sessions).
    pub fn load(environment: &Environment, declared: &DeclaredModels) -> Result<Self, ModelError> {
        declared
            .iter()
            .map(|spec| {
                let model = InferModel::load(environment, spec)?;
                Ok((spec.name.clone(), model))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn get(&self, name: &str) -> Option<&InferModel> {
        self.0.get(name)
    }
}

impl InferModel {
    fn load(environment: &Environment, spec: &DeclaredModel) -> Result<Self, ModelError> {
        let failed = |message: String| ModelError::Model {
            model: format!("{} (MODELS_FILE)", spec.name),
            message,
        };
        let ModelRuntime::Onnx { path, sha256 } = &spec.runtime;
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
        check_signature(spec, &inputs, &outputs).map_err(failed)?;
        Ok(Self {
            spec: spec.clone(),
            model,
        })
    }

    /// Run the model on `pixels` (the image at chain step `step`): its analysis entry.
    pub fn run(&self, pixels: PixelsRef<'_>, step: usize) -> Result<AnalysisEntry, KernelError> {
        let input: InputTensor = preprocess::tensor(pixels, &self.spec.input)?;
        let failed = |message: String| {
            KernelError::Inference(format!("model `{}`: {message}", self.spec.name))
        };
        let outputs = self
            .model
            .run_values(&self.spec.input.tensor, &input.shape, input.values())
            .map_err(|e| failed(e.to_string()))?;
        let (outputs, classes) = match report::report(&self.spec.report, outputs).map_err(failed)? {
            Report::Outputs(tensors) => (Some(tensors), None),
            Report::Classes(classes) => (None, Some(classes)),
        };
        Ok(AnalysisEntry {
            step: step as u32,
            op: "infer".to_owned(),
            model: self.spec.name.clone(),
            faces: None,
            outputs,
            classes,
        })
    }
}

/// The declaration against the model's own signature.
fn check_signature(
    spec: &DeclaredModel,
    inputs: &[TensorInfo],
    outputs: &[TensorInfo],
) -> Result<(), String> {
    let declared = &spec.input;
    let names = |tensors: &[TensorInfo]| {
        tensors
            .iter()
            .map(|t| format!("`{}`", t.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let input = inputs
        .iter()
        .find(|t| t.name == declared.tensor)
        .ok_or_else(|| {
            format!(
                "input.tensor: the model has no input `{}`; its inputs are {}",
                declared.tensor,
                names(inputs)
            )
        })?;
    if inputs.len() > 1 {
        return Err(format!(
            "the model takes {} inputs ({}): an infer step gives it one, the image",
            inputs.len(),
            names(inputs)
        ));
    }
    let element = match declared.dtype {
        InputDtype::Float32 => TensorElementType::Float32,
        InputDtype::Uint8 => TensorElementType::Uint8,
    };
    if input.element.is_some_and(|e| e != element) {
        return Err(format!(
            "input.dtype: the model's input `{}` is {:?}, not {element:?}",
            input.name, input.element
        ));
    }
    let wanted = match declared.layout {
        imagepipe_shared::models::TensorLayout::Nchw => {
            [1, 3, i64::from(declared.height), i64::from(declared.width)]
        }
        imagepipe_shared::models::TensorLayout::Nhwc => {
            [1, i64::from(declared.height), i64::from(declared.width), 3]
        }
    };
    if let Some(shape) = &input.shape {
        let fits = shape.len() == 4 && shape.iter().zip(wanted).all(|(&d, w)| d < 0 || d == w);
        if !fits {
            return Err(format!(
                "input: declared as {wanted:?} (width, height, layout), the model's input `{}` is {shape:?}",
                input.name
            ));
        }
    }
    let find = |name: &str| {
        outputs.iter().find(|t| t.name == name).ok_or_else(|| {
            format!(
                "the model has no output `{name}`; its outputs are {}",
                names(outputs)
            )
        })
    };
    // Values in an output, when its shape says (no dynamic dimension).
    let static_len = |t: &TensorInfo| {
        t.shape
            .as_ref()
            .filter(|s| s.iter().all(|&d| d >= 0))
            .map(|s| s.iter().product::<i64>())
    };
    let not_float = |t: &TensorInfo| {
        t.element
            .is_some_and(|e| e != TensorElementType::Float32)
            .then(|| {
                format!(
                    "output `{}` is {:?}: only float32 outputs are reported",
                    t.name, t.element
                )
            })
    };
    match &spec.report {
        ReportSpec::Raw {
            outputs: chosen,
            max_values,
        } => {
            let reported: Vec<&TensorInfo> = match chosen {
                Some(chosen) => chosen
                    .iter()
                    .map(|n| find(n).map_err(|e| format!("report.outputs: {e}")))
                    .collect::<Result<_, _>>()?,
                None => outputs.iter().collect(),
            };
            for output in reported {
                if let Some(problem) = not_float(output) {
                    return Err(format!("report: {problem}"));
                }
                if let Some(len) = static_len(output)
                    && len > *max_values as i64
                {
                    return Err(format!(
                        "report.max_values: output `{}` has {len} values, more than {max_values}",
                        output.name
                    ));
                }
            }
        }
        ReportSpec::Classes { output, labels, .. } => {
            let scored = match output {
                Some(name) => find(name).map_err(|e| format!("report.output: {e}"))?,
                None => match outputs {
                    [only] => only,
                    _ => {
                        return Err(format!(
                            "report.output: the model has {} outputs ({}): name the one to score",
                            outputs.len(),
                            names(outputs)
                        ));
                    }
                },
            };
            if let Some(problem) = not_float(scored) {
                return Err(format!("report: {problem}"));
            }
            if let Some(len) = static_len(scored)
                && len != labels.len() as i64
            {
                return Err(format!(
                    "report.labels: {} labels for the {len} values of output `{}`",
                    labels.len(),
                    scored.name
                ));
            }
        }
    }
    Ok(())
}
