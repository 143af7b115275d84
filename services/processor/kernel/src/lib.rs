//! The pixel work: decode under limits, apply EXIF orientation, run a chain of steps, encode.
//! Pure and synchronous; callers run it off the async runtime. The API is [`run`] (any
//! chain) and [`grayscale`] (the default chain, byte for byte what [`run`] makes of it).
//!
//! The stages, each in its own module, in the spirit of imgproxy's `processing/` and sharp's
//! pipeline:
//! - [`plan`]: the whole chain seen before decoding, to decode less (luma only, or a JPEG
//!   already reduced: "shrink on load").
//! - [`decode`]: bytes to upright 8-bit [`Pixels`]. JPEG, the common case, through `zune-jpeg`
//!   (untrusted bytes parsed by safe Rust; its `unsafe` is confined to SIMD kernels), its luma
//!   plane alone when the result is grey; the shrink-on-load path through libjpeg-turbo
//!   ([`decode::jpeg_scaled`], reasons there). Other formats through `image`.
//! - [`ops`]: one module per step (resize, crop, rotate, flip, grayscale, blur, sharpen, and
//!   hiding faces; finding them is the face detector's, in `crate::models`).
//! - [`encode`]: one module per output format (JPEG, PNG, WebP, AVIF).
//!
//! Memory: every image a chain makes is within the decoder limits; [`run`] checks the sizes
//! the chain produces (`shared::steps::ChainRules::check`) before it decodes, whoever called
//! it. Numbers and reasons: `docs/performance.md`.

#[cfg(test)]
mod chain_tests;
pub mod decode;
pub mod encode;
mod luma;
pub mod models;
pub mod ops;
mod pixels;
pub mod plan;
#[cfg(test)]
mod test_images;

use imagepipe_shared::{
    analysis::{Analysis, AnalysisEntry},
    image_rules::{DecodeLimits, Rejection, inspect},
    steps::{ChainError, ChainRules, Step},
};

pub use decode::{Decoded, decode_luma};

use crate::models::{
    FaceDetector, InferModels, blazeface,
    declared::{Inferred, RemoteInput},
};
pub use encode::encode;
pub use luma::Luma;
pub use pixels::{Layout, Pixels, PixelsRef};
pub use plan::{Plan, PlannedOp};

/// JPEG quality of results: 95, OpenCV's `imencode` default.
/// Measured on the test photographs (mean |result - float BT.601 luma|): the Hubble deep
/// field, all fine noise, is at 2.24 grey levels at quality 90, 1.83 at 92 and 0.88 at 95;
/// the other photographs stay under 0.7 at any of these. 95 keeps every photograph well inside
/// the 2-level tolerance for about a third more bytes than 90 and ~10% more encoding time.
pub const JPEG_QUALITY: u8 = 95;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The chain breaks a rule (`invalid_steps`) or makes an image over the limits
    /// (`output_too_large`).
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("image processing failed: {0}")]
    Process(String),
    #[error("result cannot be encoded: {0}")]
    Encode(String),
    /// A declared model ran, but its outputs cannot be reported as declared
    /// (`inference_failed`).
    #[error("inference failed: {0}")]
    Inference(String),
}

/// A processed image, ready to store.
#[derive(Debug)]
pub struct Processed {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// What the chain's model steps found, one entry per model step run here; empty without
    /// any.
    pub analysis: Analysis,
    /// The inputs of the chain's `infer` steps whose models are on model servers, for the
    /// caller to send (off the kernel pool); their entries go into `analysis` by step.
    pub remote: Vec<RemoteInput>,
}

/// Encoder settings. The product uses [`Settings::default`]; the benchmark sets the JPEG
/// quality OpenCV is compared at.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub jpeg_quality: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            jpeg_quality: JPEG_QUALITY,
        }
    }
}

/// Decode, orient, convert to grayscale and encode one image.
pub fn grayscale(bytes: &[u8], limits: DecodeLimits) -> Result<Processed, KernelError> {
    grayscale_with(bytes, limits, Settings::default())
}

/// [`grayscale`] with chosen encoder settings.
pub fn grayscale_with(
    bytes: &[u8],
    limits: DecodeLimits,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let decoded = decode_luma(bytes, limits)?;
    encode(&decoded.luma, decoded.format, settings)
}

/// Run a chain of steps on one image: decode (as the [`Plan`] says), orient, apply each step,
/// encode (the chain's `encode`, or JPEG for a JPEG and PNG for everything else). `delay`
/// steps are not the kernel's: the caller waits them. A chain with a face step needs
/// [`run_with`] and the face detector.
///
/// The chain is checked first against the image's header (each step's parameters, every
/// crop inside its image, every image within `limits`), so no step can allocate past the
/// decoder's limits whatever the caller checked before.
pub fn run(bytes: &[u8], steps: &[Step], limits: DecodeLimits) -> Result<Processed, KernelError> {
    run_with(bytes, steps, limits, Settings::default(), None)
}

/// [`run`] with chosen encoder settings and the face detector for the face steps.
pub fn run_with(
    bytes: &[u8],
    steps: &[Step],
    limits: DecodeLimits,
    settings: Settings,
    faces: Option<&FaceDetector>,
) -> Result<Processed, KernelError> {
    run_models(bytes, steps, limits, settings, faces, None)
}

/// [`run_with`], with the declared models for `infer` steps too.
pub fn run_models(
    bytes: &[u8],
    steps: &[Step],
    limits: DecodeLimits,
    settings: Settings,
    faces: Option<&FaceDetector>,
    infer: Option<&InferModels>,
) -> Result<Processed, KernelError> {
    let header = inspect(bytes, limits)?;
    // Only the sizes and parameters: how many steps and how long a delay are the service's.
    let rules = ChainRules {
        max_steps: usize::MAX,
        max_delay_ms: u64::MAX,
        limits,
    };
    rules.check(steps, header.oriented_size(), "/steps")?;
    let plan = Plan::new(steps, &header);
    let mut pixels = decode::decode_planned(bytes, limits, &plan)?;
    // A reduced decode is the first resize's input: only the part of it that shows the
    // original is scaled. (A decode that fell back to full size is used whole.)
    let factor = plan.shrink_factor;
    let (up_w, up_h) = header.oriented_size();
    let mut source = (factor > 1
        && pixels.dimensions() == (up_w.div_ceil(factor), up_h.div_ceil(factor)))
        .then(|| decode::covered_box((header.width, header.height), header.orientation, factor));
    let mut analysis = Vec::new();
    let mut remote = Vec::new();
    for op in &plan.ops {
        pixels = match op {
            PlannedOp::Resize(resize) => ops::resize(&pixels, resize, source.take())?,
            PlannedOp::Faces {
                step,
                min_score,
                hiding,
            } => {
                let detector = faces.ok_or_else(|| {
                    KernelError::Process("a face step needs the face detector".into())
                })?;
                let found = detector.detect(pixels.as_ref(), *min_score)?;
                let pixels = match hiding {
                    Some((how, padding)) => ops::hide_faces(pixels, &found, *how, *padding)?,
                    None => pixels,
                };
                analysis.push(AnalysisEntry {
                    step: *step as u32,
                    op: steps[*step].op().as_str().to_owned(),
                    model: blazeface::MODEL_NAME.to_owned(),
                    faces: Some(found),
                    outputs: None,
                    classes: None,
                });
                pixels
            }
            PlannedOp::Infer { step, model } => {
                let model = infer.and_then(|models| models.get(model)).ok_or_else(|| {
                    KernelError::Process(format!("model `{model}` is not loaded"))
                })?;
                // What the model sees is reported; the pixels go on unchanged.
                match model.run(pixels.as_ref(), *step)? {
                    Inferred::Entry(entry) => analysis.push(entry),
                    Inferred::Remote(input) => remote.push(input),
                }
                pixels
            }
            other => apply(pixels, other)?,
        };
    }
    if pixels.dimensions() != plan.output {
        return Err(KernelError::Process(format!(
            "the chain made a {}x{} image where {}x{} was planned",
            pixels.width, pixels.height, plan.output.0, plan.output.1
        )));
    }
    let mut processed = encode::encode_result(
        pixels.as_ref(),
        header.format,
        plan.encode.as_ref(),
        settings,
    )?;
    processed.analysis = analysis;
    processed.remote = remote;
    Ok(processed)
}

fn apply(pixels: Pixels, op: &PlannedOp) -> Result<Pixels, KernelError> {
    Ok(match op {
        PlannedOp::Resize(plan) => ops::resize(&pixels, plan, None)?,
        PlannedOp::Crop(rect) => ops::crop(&pixels, *rect),
        PlannedOp::Rotate(degrees) => ops::rotate(&pixels, *degrees),
        PlannedOp::Flip(axis) => ops::flip(pixels, *axis),
        PlannedOp::Grayscale => ops::grayscale(pixels),
        PlannedOp::Blur(sigma) => ops::blur(&pixels, *sigma)?,
        PlannedOp::Sharpen { sigma, amount } => ops::sharpen(&pixels, *sigma, *amount)?,
        PlannedOp::Faces { .. } | PlannedOp::Infer { .. } => {
            return Err(KernelError::Process(
                "a model step is run with its model".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{test_images::testdata, *};

    #[test]
    fn every_good_image_becomes_grayscale_of_the_same_size() {
        let mut seen = 0;
        let good = testdata("good");
        let entries = std::fs::read_dir(&good)
            .unwrap_or_else(|e| panic!("{} (set IMAGEPIPE_SHARED_DIR?): {e}", good.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let out = grayscale(&bytes, DecodeLimits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let original = image::load_from_memory(&bytes).unwrap();
            let result = image::load_from_memory(&out.bytes).unwrap();
            assert!(
                matches!(result.color(), image::ColorType::L8 | image::ColorType::La8),
                "{}: {:?}",
                path.display(),
                result.color()
            );
            // No test image is rotated by EXIF, so sizes match the decoded original.
            assert_eq!(result.width(), original.width(), "{}", path.display());
            assert_eq!(result.height(), original.height(), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 10, "expected the test photographs, found {seen}");
    }
}
