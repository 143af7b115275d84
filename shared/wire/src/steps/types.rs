//! The steps a chain is made of, one type per op. The same types are the wire format (jobs,
//! the database, idempotency's canonical form, through serde) and the OpenAPI schema (through
//! poem-openapi), so what the document shows is what the services read and write.
//!
//! Bounds live in [`super::bounds`]; the `validator` attributes repeat them for the OpenAPI
//! document only (poem-openapi takes literals there), and a unit test checks the two agree.

use poem_openapi::{Enum, Object, Union, types::Example};
use serde::{Deserialize, Serialize};

pub use super::model_steps::{BlurFaces, DetectFaces, FaceHiding, Infer};

/// One step of a chain, told apart by `op`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[serde(tag = "op", rename_all = "snake_case")]
#[oai(discriminator_name = "op", one_of)]
pub enum Step {
    #[oai(mapping = "resize")]
    Resize(Resize),
    #[oai(mapping = "crop")]
    Crop(Crop),
    #[oai(mapping = "rotate")]
    Rotate(Rotate),
    #[oai(mapping = "flip")]
    Flip(Flip),
    #[oai(mapping = "grayscale")]
    Grayscale(Grayscale),
    #[oai(mapping = "blur")]
    Blur(Blur),
    #[oai(mapping = "sharpen")]
    Sharpen(Sharpen),
    #[oai(mapping = "delay")]
    Delay(Delay),
    #[oai(mapping = "encode")]
    Encode(Encode),
    #[oai(mapping = "detect_faces")]
    DetectFaces(DetectFaces),
    #[oai(mapping = "blur_faces")]
    BlurFaces(BlurFaces),
    #[oai(mapping = "infer")]
    Infer(Infer),
}

/// The ops, by name: what `ALLOWED_OPS` lists and `op` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Resize,
    Crop,
    Rotate,
    Flip,
    Grayscale,
    Blur,
    Sharpen,
    Delay,
    Encode,
    DetectFaces,
    BlurFaces,
    Infer,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Resize,
        Op::Crop,
        Op::Rotate,
        Op::Flip,
        Op::Grayscale,
        Op::Blur,
        Op::Sharpen,
        Op::Delay,
        Op::Encode,
        Op::DetectFaces,
        Op::BlurFaces,
        Op::Infer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Resize => "resize",
            Op::Crop => "crop",
            Op::Rotate => "rotate",
            Op::Flip => "flip",
            Op::Grayscale => "grayscale",
            Op::Blur => "blur",
            Op::Sharpen => "sharpen",
            Op::Delay => "delay",
            Op::Encode => "encode",
            Op::DetectFaces => "detect_faces",
            Op::BlurFaces => "blur_faces",
            Op::Infer => "infer",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// Every op's name, comma-separated, for error messages.
    pub fn names() -> String {
        Op::ALL.map(Op::as_str).join(", ")
    }
}

impl Step {
    pub fn op(&self) -> Op {
        match self {
            Step::Resize(_) => Op::Resize,
            Step::Crop(_) => Op::Crop,
            Step::Rotate(_) => Op::Rotate,
            Step::Flip(_) => Op::Flip,
            Step::Grayscale(_) => Op::Grayscale,
            Step::Blur(_) => Op::Blur,
            Step::Sharpen(_) => Op::Sharpen,
            Step::Delay(_) => Op::Delay,
            Step::Encode(_) => Op::Encode,
            Step::DetectFaces(_) => Op::DetectFaces,
            Step::BlurFaces(_) => Op::BlurFaces,
            Step::Infer(_) => Op::Infer,
        }
    }
}

/// How `resize` fits the image into `width` × `height` (default `contain`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case", rename = "ResizeFit")]
pub enum Fit {
    /// The whole image inside the box, aspect kept (one side may be shorter).
    #[default]
    Contain,
    /// The box filled, aspect kept, the overflow cropped away by `gravity`. Needs both sides.
    Cover,
    /// Exactly the box, aspect ignored. Needs both sides.
    Fill,
}

/// Which part of the image `cover` keeps (default `centre`; only with `fit: cover`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum Gravity {
    #[default]
    Centre,
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
}

/// Scale the image. At least one of `width` and `height`; sizes round to the nearest
/// integer, at least 1. Lanczos-3, on a SIMD resizer; a JPEG is decoded already reduced
/// when the chain starts by shrinking it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "ResizeStep", example, deny_unknown_fields)]
pub struct Resize {
    /// Target width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(validator(minimum(value = "1")), skip_serializing_if_is_none)]
    pub width: Option<u32>,
    /// Target height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(validator(minimum(value = "1")), skip_serializing_if_is_none)]
    pub height: Option<u32>,
    #[serde(default)]
    #[oai(default)]
    pub fit: Fit,
    // Only with `fit: cover`, as the type's description says.
    #[serde(default)]
    #[oai(default)]
    pub gravity: Gravity,
    /// Whether a smaller image may be scaled up. Without it, an image already inside the box
    /// keeps its size (`cover` and `fill` then keep at most the image's own sides).
    #[serde(default)]
    #[oai(default)]
    pub enlarge: bool,
}

impl Example for Resize {
    fn example() -> Self {
        Self {
            width: Some(800),
            height: Some(600),
            fit: Fit::Cover,
            gravity: Gravity::Centre,
            enlarge: false,
        }
    }
}

/// Cut out a rectangle, in the current image's pixels; it must lie inside the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "CropStep", example, deny_unknown_fields)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    #[oai(validator(minimum(value = "1")))]
    pub width: u32,
    #[oai(validator(minimum(value = "1")))]
    pub height: u32,
}

impl Example for Crop {
    fn example() -> Self {
        Self {
            x: 10,
            y: 20,
            width: 300,
            height: 200,
        }
    }
}

/// Turn the image clockwise by a quarter, half or three quarters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "RotateStep", example, deny_unknown_fields)]
pub struct Rotate {
    /// 90, 180 or 270.
    #[oai(validator(minimum(value = "90"), maximum(value = "270"), multiple_of = "90"))]
    pub degrees: u32,
}

impl Example for Rotate {
    fn example() -> Self {
        Self { degrees: 90 }
    }
}

/// The mirror axis of `flip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case", rename = "FlipAxis")]
pub enum Axis {
    /// Mirror left–right.
    Horizontal,
    /// Mirror top–bottom.
    Vertical,
}

/// Mirror the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "FlipStep", example, deny_unknown_fields)]
pub struct Flip {
    pub axis: Axis,
}

impl Example for Flip {
    fn example() -> Self {
        Self {
            axis: Axis::Horizontal,
        }
    }
}

/// Convert to grey: BT.601 luma (0.299 R + 0.587 G + 0.114 B), what OpenCV's
/// `COLOR_BGR2GRAY` and a JPEG's Y plane are. Alpha is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "GrayscaleStep", deny_unknown_fields)]
pub struct Grayscale {}

/// Gaussian blur.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "BlurStep", example, deny_unknown_fields)]
pub struct Blur {
    /// Standard deviation in pixels, 0.1 to 50.
    #[oai(validator(minimum(value = "0.1"), maximum(value = "50")))]
    pub sigma: f32,
}

impl Example for Blur {
    fn example() -> Self {
        Self { sigma: 2.0 }
    }
}

/// Unsharp mask: `image + amount × (image − blur(image, sigma))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "SharpenStep", example, deny_unknown_fields)]
pub struct Sharpen {
    /// Standard deviation of the blur in pixels, 0.1 to 10.
    #[oai(validator(minimum(value = "0.1"), maximum(value = "10")))]
    pub sigma: f32,
    /// Strength, 0 to 10.
    #[oai(validator(minimum(value = "0"), maximum(value = "10")))]
    pub amount: f32,
}

impl Example for Sharpen {
    fn example() -> Self {
        Self {
            sigma: 1.0,
            amount: 1.5,
        }
    }
}

/// The simulated inference: wait, holding no thread. 0 to `MAX_DELAY_MS` (default 60000).
/// The delays of a chain are waited after its pixel work, together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "DelayStep", example, deny_unknown_fields)]
pub struct Delay {
    /// Milliseconds.
    pub ms: u64,
}

impl Example for Delay {
    fn example() -> Self {
        Self { ms: 5000 }
    }
}

/// The result's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case", rename = "OutputFormat")]
pub enum OutputFormat {
    Jpeg,
    Png,
    Webp,
    Avif,
}

impl OutputFormat {
    /// The quality used when `encode` names none (lossy formats only).
    pub fn default_quality(self) -> Option<u8> {
        match self {
            OutputFormat::Jpeg => Some(90),
            OutputFormat::Webp => Some(80),
            OutputFormat::Avif => Some(70),
            OutputFormat::Png => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Avif => "image/avif",
        }
    }
}

/// Write the result in this format. At most one, and last; without it a JPEG stays JPEG (at
/// quality 95) and everything else becomes PNG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(rename = "EncodeStep", example, deny_unknown_fields)]
pub struct Encode {
    pub format: OutputFormat,
    /// 1 to 100, for `jpeg` (default 90), `webp` (default 80) and `avif` (default 70);
    /// not for `png` or lossless `webp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(
        validator(minimum(value = "1"), maximum(value = "100")),
        skip_serializing_if_is_none
    )]
    pub quality: Option<u8>,
    /// `webp` only: lossless instead of lossy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub lossless: Option<bool>,
}

impl Example for Encode {
    fn example() -> Self {
        Self {
            format: OutputFormat::Webp,
            quality: Some(80),
            lossless: None,
        }
    }
}
