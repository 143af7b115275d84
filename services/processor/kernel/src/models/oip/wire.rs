//! The Open Inference Protocol's JSON (KServe v2 REST): what imagepipe sends, and reads back.
//! Tensors go as JSON numbers (the binary tensor extension is not used).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::models::{
    onnx::Output,
    preprocess::{InputTensor, TensorValues},
};

/// `GET v2/models/{name}[/versions/{v}]`. A server may leave out the inputs and outputs
/// (MLServer does unless the model's settings declare them): then nothing can be checked.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelMetadata {
    pub name: String,
    #[serde(default)]
    pub inputs: Vec<TensorMetadata>,
    #[serde(default)]
    pub outputs: Vec<TensorMetadata>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: String,
    /// -1 for a dynamic dimension.
    pub shape: Vec<i64>,
}

/// `POST …/infer`, one input: the image as the declaration makes it.
#[derive(Debug, Serialize)]
pub struct InferRequest<'a> {
    pub inputs: [RequestInput<'a>; 1],
}

#[derive(Debug, Serialize)]
pub struct RequestInput<'a> {
    pub name: &'a str,
    pub shape: &'a [i64],
    pub datatype: &'static str,
    pub data: RequestData<'a>,
}

/// Row-major and flat, as the protocol's JSON allows.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RequestData<'a> {
    F32(&'a [f32]),
    U8(&'a [u8]),
}

impl<'a> InferRequest<'a> {
    pub fn new(tensor: &'a str, input: &'a InputTensor) -> Self {
        let (datatype, data) = match &input.values {
            TensorValues::F32(values) => ("FP32", RequestData::F32(values)),
            TensorValues::U8(values) => ("UINT8", RequestData::U8(values)),
        };
        Self {
            inputs: [RequestInput {
                name: tensor,
                shape: &input.shape,
                datatype,
                data,
            }],
        }
    }
}

/// The server's answer to an inference.
#[derive(Debug, Deserialize)]
pub struct InferResponse {
    pub outputs: Vec<ResponseOutput>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseOutput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    /// Flat or nested arrays of numbers (or booleans), row-major.
    pub data: Value,
}

/// A server's error body, `{"error": "…"}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

impl ResponseOutput {
    /// As the in-process runtime gives outputs: numbers as f32, whatever the datatype (the
    /// reports read f32, and FP64 or integer outputs of an image model fit it).
    pub fn into_output(self) -> Result<Output, String> {
        let numeric = matches!(
            self.datatype.as_str(),
            "BOOL"
                | "UINT8"
                | "UINT16"
                | "UINT32"
                | "UINT64"
                | "INT8"
                | "INT16"
                | "INT32"
                | "INT64"
                | "FP16"
                | "FP32"
                | "FP64"
                | "BF16"
        );
        if !numeric {
            return Err(format!(
                "output `{}` is {}: only numeric outputs are reported",
                self.name, self.datatype
            ));
        }
        if self.shape.iter().any(|&d| d < 0) {
            return Err(format!(
                "output `{}` has the shape {:?}: a dimension below 0",
                self.name, self.shape
            ));
        }
        let mut values = Vec::new();
        flatten(&self.data, &mut values).map_err(|e| format!("output `{}`: {e}", self.name))?;
        let expected = self
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        if expected != Some(values.len() as u64) {
            return Err(format!(
                "output `{}` has {} values for the shape {:?}",
                self.name,
                values.len(),
                self.shape
            ));
        }
        Ok(Output {
            name: self.name,
            shape: self.shape,
            values,
        })
    }
}

/// Row-major values of flat or nested arrays.
fn flatten(data: &Value, values: &mut Vec<f32>) -> Result<(), String> {
    match data {
        Value::Array(items) => items.iter().try_for_each(|item| flatten(item, values)),
        Value::Number(number) => {
            let value = number.as_f64().ok_or("a number out of range")?;
            values.push(value as f32);
            Ok(())
        }
        Value::Bool(flag) => {
            values.push(f32::from(u8::from(*flag)));
            Ok(())
        }
        other => Err(format!("data holds {other}, not a number")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn output(datatype: &str, shape: &[i64], data: Value) -> ResponseOutput {
        ResponseOutput {
            name: "out".into(),
            shape: shape.to_vec(),
            datatype: datatype.into(),
            data,
        }
    }

    #[test]
    fn a_request_is_one_flat_tensor_of_the_declared_datatype() {
        let input = InputTensor {
            shape: [1, 2, 1, 1],
            values: TensorValues::F32(vec![0.5, -1.0]),
        };
        let request = serde_json::to_value(InferRequest::new("pixels", &input)).unwrap();
        assert_eq!(
            request,
            json!({"inputs": [{"name": "pixels", "shape": [1, 2, 1, 1], "datatype": "FP32", "data": [0.5, -1.0]}]})
        );
        let bytes = InputTensor {
            shape: [1, 1, 1, 3],
            values: TensorValues::U8(vec![0, 128, 255]),
        };
        let request = serde_json::to_value(InferRequest::new("image", &bytes)).unwrap();
        assert_eq!(request["inputs"][0]["datatype"], "UINT8");
        assert_eq!(request["inputs"][0]["data"], json!([0, 128, 255]));
    }

    #[test]
    fn outputs_flat_or_nested_read_row_major_as_f32() {
        let flat = output("FP32", &[2, 2], json!([1, 2.5, 3, 4]))
            .into_output()
            .unwrap();
        assert_eq!(flat.values, [1.0, 2.5, 3.0, 4.0]);
        let nested = output("FP64", &[2, 2], json!([[1, 2.5], [3, 4]]))
            .into_output()
            .unwrap();
        assert_eq!(nested.values, flat.values);
        assert_eq!(nested.shape, [2, 2]);
        let flags = output("BOOL", &[2], json!([true, false]))
            .into_output()
            .unwrap();
        assert_eq!(flags.values, [1.0, 0.0]);
    }

    #[test]
    fn an_output_that_is_not_numbers_of_its_shape_is_refused() {
        for (out, says) in [
            (
                output("BYTES", &[1], json!(["cat"])),
                "only numeric outputs",
            ),
            (
                output("FP32", &[3], json!([1, 2])),
                "2 values for the shape [3]",
            ),
            (output("FP32", &[1], json!(["x"])), "not a number"),
            (output("FP32", &[-1], json!([1])), "a dimension below 0"),
        ] {
            let err = out.into_output().unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
