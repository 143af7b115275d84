//! What model steps find in an image: the task's `analysis`, one [`AnalysisEntry`] per model
//! step. The processor makes it, the COMPLETED event carries it, the result-writer stores it
//! and the API and webhooks return it. One type for all of them (serde for the wire and the
//! database, poem-openapi for the document), as for the steps.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

/// Default of `MAX_ANALYSIS_BYTES`: the largest `analysis`, as serialized JSON.
pub const DEFAULT_MAX_ANALYSIS_BYTES: usize = 64 * 1024;

/// What one model step found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct AnalysisEntry {
    /// The step's index in the chain (0-based).
    pub step: u32,
    /// The step's op (`detect_faces`, `blur_faces`, `infer`).
    pub op: String,
    /// The model that ran (`blazeface-front-128` for the face steps, the declared name for
    /// `infer`).
    pub model: String,
    /// Faces found (`detect_faces`) or hidden (`blur_faces`), best score first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub faces: Option<Vec<Face>>,
    /// An `infer` step's output tensors, for a model whose report is `raw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub outputs: Option<Vec<Tensor>>,
    /// An `infer` step's best classes, best first, for a model whose report is `classes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub classes: Option<Vec<ClassScore>>,
}

// Numbers are f64 rounded to a few decimals by whoever makes them: the document's `number`
// is a double, and an f32 widened on the way out shows 0.92 as 0.9200000166893004.

/// An output tensor of a model, as it came out: `values` in row-major order, as many as the
/// product of `shape`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct Tensor {
    /// The output's name in the model.
    pub name: String,
    pub shape: Vec<u64>,
    /// Each value the shortest decimal that reads back as the model's float32.
    pub values: Vec<f64>,
}

/// One class a model scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct ClassScore {
    /// The class's line in the model's labels file.
    pub label: String,
    /// Its index in the model's output (0-based), the labels file's line number less one.
    pub index: u32,
    /// The softmax of the model's output (or the output itself, for a model declared to
    /// give probabilities already), to 6 decimals.
    pub score: f64,
}

/// A face, in pixel coordinates of the image as it was at the step that found it (upright,
/// after the chain's earlier geometry steps): `x`, `y` its top-left corner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct Face {
    #[serde(rename = "box")]
    #[oai(rename = "box")]
    pub bounds: FaceBox,
    /// The detector's confidence, 0 to 1 (to 4 decimals).
    pub score: f64,
    /// BlazeFace's six landmarks, in this order: right eye, left eye, nose tip, mouth centre,
    /// right ear tragion, left ear tragion (right and left of the person in the picture).
    pub keypoints: Vec<Point>,
}

/// A rectangle in pixels (to 2 decimals); it may reach past the image's edges when a face
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Object)]
pub struct FaceBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A point in pixels (to 2 decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Object)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// The analysis of a task, as stored and sent: `None` when its chain has no model step.
pub type Analysis = Vec<AnalysisEntry>;
