//! The steps that run models: the shipped face detector's (`detect_faces`, `blur_faces`) and
//! the operator's own (`infer`). Part of [`Step`](super::Step), like every op's type.

use poem_openapi::{Enum, Object, types::Example};
use serde::{Deserialize, Serialize};

use super::bounds;

fn default_min_face_score() -> f32 {
    bounds::DEFAULT_MIN_FACE_SCORE
}

fn default_face_padding() -> f32 {
    bounds::DEFAULT_FACE_PADDING
}

/// Find faces with the shipped detector (BlazeFace, MediaPipe's short-range model) and add
/// them to the task's `analysis`: each face's box, score and six landmarks, in pixels of the
/// image as it is at this step. The pixels are not changed. The detector sees the whole image
/// fitted into 128×128, so it finds faces at least about 12% of the image's longer side wide
/// (the README, "Models").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "DetectFacesStep", example, deny_unknown_fields)]
pub struct DetectFaces {
    /// Faces scoring below are left out, 0 to 1 (default 0.75).
    #[serde(default = "default_min_face_score")]
    #[oai(
        default = "default_min_face_score",
        validator(minimum(value = "0"), maximum(value = "1"))
    )]
    pub min_score: f32,
}

impl Example for DetectFaces {
    fn example() -> Self {
        Self { min_score: 0.75 }
    }
}

/// How `blur_faces` hides a face (default `blur`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case", rename = "FaceHiding")]
pub enum FaceHiding {
    /// A strong Gaussian blur, its sigma a tenth of the box's longer side.
    #[default]
    Blur,
    /// Coarse blocks, each an eighth of the box's longer side.
    Pixelate,
}

/// Find faces as `detect_faces` does and hide each one, for privacy pipelines: its box,
/// grown by `padding`, is blurred or pixelated. The faces hidden go into `analysis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "BlurFacesStep", example, deny_unknown_fields)]
pub struct BlurFaces {
    #[serde(default)]
    #[oai(default)]
    pub mode: FaceHiding,
    /// Added to each side of a face's box, as a fraction of the box's side, 0 to 1
    /// (default 0.25).
    #[serde(default = "default_face_padding")]
    #[oai(
        default = "default_face_padding",
        validator(minimum(value = "0"), maximum(value = "1"))
    )]
    pub padding: f32,
    /// Faces scoring below are left as they are, 0 to 1 (default 0.75).
    #[serde(default = "default_min_face_score")]
    #[oai(
        default = "default_min_face_score",
        validator(minimum(value = "0"), maximum(value = "1"))
    )]
    pub min_score: f32,
}

impl Example for BlurFaces {
    fn example() -> Self {
        Self {
            mode: FaceHiding::Pixelate,
            padding: 0.25,
            min_score: 0.75,
        }
    }
}

/// Run a model the operator declared (the models file, `MODELS_FILE`) on the image as it is
/// at this step, and add what it reports to the task's `analysis`: its output tensors
/// (`outputs`) or its best classes with their labels and scores (`classes`), as the model's
/// declaration says. The pixels are not changed. A model not declared is refused with
/// `unknown_model`; the models are named by the operator, never given as a path or URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "InferStep", example, deny_unknown_fields)]
pub struct Infer {
    /// A declared model's name.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub model: String,
}

impl Example for Infer {
    fn example() -> Self {
        Self {
            model: "classifier".into(),
        }
    }
}
