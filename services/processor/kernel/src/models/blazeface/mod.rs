//! The shipped face detector: BlazeFace, MediaPipe's short-range model (128×128, front
//! camera), run by ONNX Runtime. The model only scores anchors; finding faces is the work
//! around it, one module each: [`letterbox`] (the image into the input and back),
//! [`anchors`], [`decode`] (raw values to detections) and [`nms`] (one per face).

mod anchors;
mod decode;
mod letterbox;
mod nms;

use imagepipe_shared::analysis::{Face, FaceBox, Point};

use super::onnx::{ModelError, OnnxModel, Output};
use crate::{KernelError, PixelsRef};
use anchors::GRIDS;
use decode::{BOX_VALUES, INPUT_SIDE};

/// The model's name in a task's `analysis`.
pub const MODEL_NAME: &str = "blazeface-front-128";
const INPUT: &str = "input:0";
/// Scores and boxes of the 16×16 grid, then of the 8×8 one.
const OUTPUTS: [(&str, &str); 2] = [
    ("Identity:0", "Identity_2:0"),
    ("Identity_1:0", "Identity_3:0"),
];

pub struct FaceDetector {
    model: OnnxModel,
}

impl FaceDetector {
    /// The detector over a loaded BlazeFace model, checked to have its inputs and outputs.
    pub fn new(model: OnnxModel) -> Result<Self, ModelError> {
        let (inputs, outputs) = model.signature();
        let expected: Vec<&str> = OUTPUTS.iter().flat_map(|(s, b)| [*s, *b]).collect();
        if inputs != [INPUT]
            || expected
                .iter()
                .any(|name| !outputs.iter().any(|o| o == name))
        {
            return Err(ModelError::Model {
                model: model.name().to_owned(),
                message: format!(
                    "not BlazeFace's signature: inputs {inputs:?}, outputs {outputs:?}"
                ),
            });
        }
        Ok(Self { model })
    }

    /// The faces in `pixels` scoring at least `min_score`, best first, in its pixels.
    pub fn detect(&self, pixels: PixelsRef<'_>, min_score: f32) -> Result<Vec<Face>, KernelError> {
        let (tensor, letterbox) = letterbox::fit(pixels)?;
        let side = INPUT_SIDE as i64;
        let outputs = self
            .model
            .run(INPUT, &[1, side, side, 3], &tensor)
            .map_err(|e| KernelError::Process(e.to_string()))?;
        let mut found = Vec::new();
        for (grid, (scores, boxes)) in GRIDS.into_iter().zip(OUTPUTS) {
            let scores = output(&outputs, scores, grid.len())?;
            let boxes = output(&outputs, boxes, grid.len() * BOX_VALUES)?;
            found.extend(decode::candidates(grid, scores, boxes, min_score));
        }
        Ok(nms::weighted_nms(found)
            .into_iter()
            .filter_map(|detection| in_image(&detection, &letterbox))
            .collect())
    }

    /// The model's raw outputs for an input tensor, for the parity test against onnxruntime.
    pub fn raw(&self, tensor: &[f32]) -> Result<Vec<Output>, ModelError> {
        let side = INPUT_SIDE as i64;
        self.model.run(INPUT, &[1, side, side, 3], tensor)
    }
}

/// A detection in the image's pixels, rounded to what the numbers mean (a hundredth of a
/// pixel, a ten-thousandth of a score); `None` if the model gave a value that is not finite,
/// which no JSON number can carry.
fn in_image(detection: &decode::Detection, letterbox: &letterbox::Letterbox) -> Option<Face> {
    let round = |value: f32, decimals: i32| {
        let scale = 10_f64.powi(decimals);
        let value = (f64::from(value) * scale).round() / scale;
        value.is_finite().then_some(value)
    };
    let point = |(x, y): (f32, f32)| {
        let (x, y) = letterbox.point_in_image((x, y));
        Some(Point {
            x: round(x, 2)?,
            y: round(y, 2)?,
        })
    };
    let corner = point((
        detection.centre.0 - detection.size.0 / 2.0,
        detection.centre.1 - detection.size.1 / 2.0,
    ))?;
    let (width, height) = letterbox.size_in_image(detection.size);
    Some(Face {
        bounds: FaceBox {
            x: corner.x,
            y: corner.y,
            width: round(width, 2)?,
            height: round(height, 2)?,
        },
        score: round(detection.score, 4)?,
        keypoints: detection
            .keypoints
            .iter()
            .map(|&k| point(k))
            .collect::<Option<_>>()?,
    })
}

/// The output called `name`, holding `len` values.
fn output<'a>(outputs: &'a [Output], name: &str, len: usize) -> Result<&'a [f32], KernelError> {
    let found = outputs
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| KernelError::Process(format!("face detector: no output {name}")))?;
    if found.values.len() != len {
        return Err(KernelError::Process(format!(
            "face detector: output {name} has {} values, not {len}",
            found.values.len()
        )));
    }
    Ok(&found.values)
}
