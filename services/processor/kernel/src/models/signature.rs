//! A declared model against the signature its runtime shows: the ONNX file's own inputs and
//! outputs, or a model server's metadata. One set of rules for both, each failure a sentence
//! naming the field of the declaration that does not fit.

use imagepipe_shared::models::{DeclaredModel, InputDtype, ReportSpec};
use ort::value::TensorElementType;

use super::onnx::TensorInfo;

/// Which output element types the runtime can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// ONNX Runtime's outputs are read as float32 tensors.
    Float32,
    /// A model server's JSON numbers, whatever their datatype, are read as float32.
    Numeric,
}

/// The declared input against the model's inputs.
pub fn check_input(spec: &DeclaredModel, inputs: &[TensorInfo]) -> Result<(), String> {
    let declared = &spec.input;
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
            "input.dtype: the model's input `{}` is {}, not {element:?}",
            input.name,
            shown(input.element)
        ));
    }
    let wanted = declared.tensor_shape();
    if let Some(shape) = &input.shape {
        let fits = shape.len() == 4 && shape.iter().zip(wanted).all(|(&d, w)| d < 0 || d == w);
        if !fits {
            return Err(format!(
                "input: declared as {wanted:?} (width, height, layout), the model's input `{}` is {shape:?}",
                input.name
            ));
        }
    }
    Ok(())
}

/// The outputs the report names, and the sizes the model's shapes fix: a `raw` output
/// statically larger than `max_values`, or a `classes` output with another number of values
/// than labels. (A dynamic dimension is checked on each run instead.)
pub fn check_outputs(
    spec: &DeclaredModel,
    outputs: &[TensorInfo],
    reported: Outputs,
) -> Result<(), String> {
    let find = |name: &str| {
        outputs.iter().find(|t| t.name == name).ok_or_else(|| {
            format!(
                "the model has no output `{name}`; its outputs are {}",
                names(outputs)
            )
        })
    };
    let unreportable = |t: &TensorInfo| {
        let refused = match reported {
            Outputs::Float32 => t.element.is_some_and(|e| e != TensorElementType::Float32),
            Outputs::Numeric => t.element == Some(TensorElementType::String),
        };
        refused.then(|| {
            let wanted = match reported {
                Outputs::Float32 => "only float32 outputs are reported",
                Outputs::Numeric => "only numeric outputs are reported",
            };
            format!("output `{}` is {}: {wanted}", t.name, shown(t.element))
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
                if let Some(problem) = unreportable(output) {
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
            if let Some(problem) = unreportable(scored) {
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

fn names(tensors: &[TensorInfo]) -> String {
    tensors
        .iter()
        .map(|t| format!("`{}`", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown(element: Option<TensorElementType>) -> String {
    element.map_or_else(|| "not a tensor".to_owned(), |e| format!("{e:?}"))
}

/// Values in an output, when its shape says (no dynamic dimension).
fn static_len(t: &TensorInfo) -> Option<i64> {
    t.shape
        .as_ref()
        .filter(|s| s.iter().all(|&d| d >= 0))
        .map(|s| s.iter().product::<i64>())
}
