//! A model server's metadata (`GET v2/models/{name}`) against the declaration, by the same
//! rules as an ONNX file's own signature ([`signature`]). What the server leaves out (MLServer
//! lists no inputs unless the model's settings declare them) cannot contradict anything.

use imagepipe_shared::models::DeclaredModel;
use ort::value::TensorElementType;

use super::wire::{ModelMetadata, TensorMetadata};
use crate::models::{
    onnx::TensorInfo,
    signature::{self, Outputs},
};

/// `Err`: what in the declaration the server's model contradicts.
pub(super) fn check(spec: &DeclaredModel, metadata: &ModelMetadata) -> Result<(), String> {
    if !metadata.inputs.is_empty() {
        signature::check_input(spec, &infos(&metadata.inputs))?;
    }
    if !metadata.outputs.is_empty() {
        signature::check_outputs(spec, &infos(&metadata.outputs), Outputs::Numeric)?;
    }
    Ok(())
}

fn infos(tensors: &[TensorMetadata]) -> Vec<TensorInfo> {
    tensors
        .iter()
        .map(|t| TensorInfo {
            name: t.name.clone(),
            element: element(&t.datatype),
            shape: Some(t.shape.clone()),
        })
        .collect()
}

/// The protocol's datatype names; one it does not define is not checked.
fn element(datatype: &str) -> Option<TensorElementType> {
    Some(match datatype {
        "BOOL" => TensorElementType::Bool,
        "UINT8" => TensorElementType::Uint8,
        "UINT16" => TensorElementType::Uint16,
        "UINT32" => TensorElementType::Uint32,
        "UINT64" => TensorElementType::Uint64,
        "INT8" => TensorElementType::Int8,
        "INT16" => TensorElementType::Int16,
        "INT32" => TensorElementType::Int32,
        "INT64" => TensorElementType::Int64,
        "FP16" => TensorElementType::Float16,
        "FP32" => TensorElementType::Float32,
        "FP64" => TensorElementType::Float64,
        "BF16" => TensorElementType::Bfloat16,
        "BYTES" => TensorElementType::String,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use imagepipe_shared::models::DeclaredModels;

    use super::*;

    fn declared(report: &str) -> DeclaredModel {
        let dir = std::env::temp_dir().join(format!("imagepipe-oip-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("colours.txt"), "red\ngreen\nblue\n").unwrap();
        let file = dir.join("models.toml");
        std::fs::write(
            &file,
            format!(
                r#"
[models.colours]
runtime = "oip"
url = "http://127.0.0.1:1"
[models.colours.input]
tensor = "pixels"
width = 32
height = 24
[models.colours.report]
{report}
"#
            ),
        )
        .unwrap();
        let models = DeclaredModels::load(Some(Path::new(&file))).unwrap();
        models.get("colours").unwrap().clone()
    }

    fn tensor(name: &str, datatype: &str, shape: &[i64]) -> TensorMetadata {
        TensorMetadata {
            name: name.into(),
            datatype: datatype.into(),
            shape: shape.to_vec(),
        }
    }

    fn metadata(inputs: Vec<TensorMetadata>, outputs: Vec<TensorMetadata>) -> ModelMetadata {
        ModelMetadata {
            name: "colours".into(),
            inputs,
            outputs,
        }
    }

    #[test]
    fn a_server_that_agrees_or_says_nothing_is_accepted() {
        let spec = declared("kind = \"classes\"\nlabels = \"colours.txt\"");
        let pixels = tensor("pixels", "FP32", &[1, 3, 24, 32]);
        let logits = tensor("logits", "FP64", &[1, 3]);
        assert_eq!(
            check(&spec, &metadata(vec![pixels.clone()], vec![logits])),
            Ok(())
        );
        assert_eq!(check(&spec, &metadata(vec![], vec![])), Ok(()));
        let dynamic = tensor("pixels", "FP32", &[-1, 3, -1, -1]);
        assert_eq!(check(&spec, &metadata(vec![dynamic], vec![])), Ok(()));
    }

    #[test]
    fn a_server_that_contradicts_the_declaration_is_named_by_field() {
        let spec = declared("kind = \"classes\"\nlabels = \"colours.txt\"");
        let pixels = tensor("pixels", "FP32", &[1, 3, 24, 32]);
        for (meta, says) in [
            (
                metadata(vec![tensor("image", "FP32", &[1, 3, 24, 32])], vec![]),
                "input.tensor: the model has no input `pixels`; its inputs are `image`",
            ),
            (
                metadata(vec![tensor("pixels", "UINT8", &[1, 3, 24, 32])], vec![]),
                "input.dtype: the model's input `pixels` is Uint8, not Float32",
            ),
            (
                metadata(vec![tensor("pixels", "FP32", &[1, 3, 16, 16])], vec![]),
                "input: declared as [1, 3, 24, 32]",
            ),
            (
                metadata(
                    vec![pixels.clone()],
                    vec![tensor("logits", "FP32", &[1, 4])],
                ),
                "report.labels: 3 labels for the 4 values of output `logits`",
            ),
            (
                metadata(vec![pixels], vec![tensor("logits", "BYTES", &[1, 3])]),
                "only numeric outputs are reported",
            ),
        ] {
            let err = check(&spec, &meta).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
        let raw = declared("kind = \"raw\"\nmax_values = 2\noutputs = [\"mean\"]");
        let err = check(
            &raw,
            &metadata(vec![], vec![tensor("mean", "FP32", &[1, 3])]),
        )
        .unwrap_err();
        assert!(
            err.contains("report.max_values: output `mean` has 3 values, more than 2"),
            "{err}"
        );
        let err = check(&raw, &metadata(vec![], vec![tensor("other", "FP32", &[1])])).unwrap_err();
        assert!(
            err.contains("report.outputs: the model has no output `mean`"),
            "{err}"
        );
    }
}
