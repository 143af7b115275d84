//! The planner: the whole chain seen before a byte is decoded, as sharp's pipeline does, so
//! the decode can do less.
//!
//! - **Luma only** when the chain has a `grayscale` step: the decoder then produces grey
//!   (a JPEG's Y plane is read straight out, skipping chroma). It does not matter where in the
//!   chain the step is: luma is a fixed weighted sum of the channels of each pixel, and every
//!   other op either moves pixels without changing them (crop, rotate, flip) or is a linear
//!   filter applied to each channel alike (resize, blur, sharpen before its clamp), and a
//!   weighted sum of filtered channels is the filter of the weighted sum. The results differ
//!   only by rounding (and by sharpen's clamping of a channel that overshoots). The face steps
//!   are the exception: the detector is trained on colour, so a face step before the
//!   grayscale step keeps the decode in colour.
//! - **Shrink on load** when the chain's first pixel op is a `resize` that makes a JPEG at
//!   least 2× smaller: it is decoded reduced by DCT scaling (1/2, 1/4, 1/8), the largest
//!   reduction whose size is still at least the resize's scaled size; the resize then goes
//!   from the reduced size to exactly the planned size. Every size here is computed from the
//!   original's, by `shared::steps`, so the output's dimensions never depend on the decode.
//!   A `blur` or `sharpen` before the resize does not commute with scaling, and a crop,
//!   rotation or flip before it would need its own coordinates scaled: those chains decode
//!   at full size.

use image::ImageFormat;
use imagepipe_shared::{
    image_rules::Header,
    steps::{Axis, Encode, FaceHiding, Rect, ResizePlan, Step, output_size, plan_resize},
};

use super::decode::shrink_factor;

/// One pixel op, with the sizes it works with already worked out.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedOp {
    Resize(ResizePlan),
    Crop(Rect),
    Rotate(u32),
    Flip(Axis),
    Grayscale,
    Blur(f32),
    Sharpen {
        sigma: f32,
        amount: f32,
    },
    /// A face step: find faces (the chain's step `step`), and hide them unless `hiding` is
    /// `None`.
    Faces {
        step: usize,
        min_score: f32,
        hiding: Option<(FaceHiding, f32)>,
    },
    /// An `infer` step (the chain's step `step`): run a declared model, pixels unchanged.
    Infer {
        step: usize,
        model: String,
    },
}

/// How to decode, what to do, how to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Decode grey only.
    pub luma: bool,
    /// Decode a JPEG reduced, to at least this upright size.
    pub shrink_to: Option<(u32, u32)>,
    /// How many times smaller that decode is (1: not reduced).
    pub shrink_factor: u32,
    pub ops: Vec<PlannedOp>,
    /// The chain's `encode`, if it has one (else the format follows the original's).
    pub encode: Option<Encode>,
    /// The size of the result.
    pub output: (u32, u32),
}

impl Plan {
    /// Plan `steps` for the original `header` describes. The steps are checked already
    /// (`ChainRules::check`), so every crop lies inside its image.
    pub fn new(steps: &[Step], header: &Header) -> Self {
        let mut size = header.oriented_size();
        let mut ops = Vec::with_capacity(steps.len());
        let mut encode = None;
        for (index, step) in steps.iter().enumerate() {
            let op = match step {
                Step::Resize(resize) => {
                    Some(PlannedOp::Resize(plan_resize(size.0, size.1, resize)))
                }
                Step::Crop(crop) => Some(PlannedOp::Crop(Rect {
                    x: crop.x,
                    y: crop.y,
                    width: crop.width,
                    height: crop.height,
                })),
                Step::Rotate(rotate) => Some(PlannedOp::Rotate(rotate.degrees)),
                Step::Flip(flip) => Some(PlannedOp::Flip(flip.axis)),
                Step::Grayscale(_) => Some(PlannedOp::Grayscale),
                Step::Blur(blur) => Some(PlannedOp::Blur(blur.sigma)),
                Step::Sharpen(sharpen) => Some(PlannedOp::Sharpen {
                    sigma: sharpen.sigma,
                    amount: sharpen.amount,
                }),
                Step::DetectFaces(detect) => Some(PlannedOp::Faces {
                    step: index,
                    min_score: detect.min_score,
                    hiding: None,
                }),
                Step::BlurFaces(blur) => Some(PlannedOp::Faces {
                    step: index,
                    min_score: blur.min_score,
                    hiding: Some((blur.mode, blur.padding)),
                }),
                Step::Infer(infer) => Some(PlannedOp::Infer {
                    step: index,
                    model: infer.model.clone(),
                }),
                // Waited by the worker, after the pixel work, holding no kernel slot.
                Step::Delay(_) => None,
                Step::Encode(chosen) => {
                    encode = Some(chosen.clone());
                    None
                }
            };
            ops.extend(op);
            size = output_size(step, size);
        }
        // Models want colour: a face or infer step before the grayscale one keeps the decode
        // in colour (after it, the model sees grey whatever the decode).
        let luma = ops.iter().find(|op| {
            matches!(
                op,
                PlannedOp::Grayscale | PlannedOp::Faces { .. } | PlannedOp::Infer { .. }
            )
        }) == Some(&PlannedOp::Grayscale);
        let (shrink_to, shrink_factor) = match shrink_target(header, &ops) {
            Some((target, factor)) => (Some(target), factor),
            None => (None, 1),
        };
        Self {
            luma,
            shrink_to,
            shrink_factor,
            ops,
            encode,
            output: size,
        }
    }
}

/// The size a JPEG may be decoded down to: the scaled size of the chain's first pixel op,
/// when that is a resize and allows at least a half.
fn shrink_target(header: &Header, ops: &[PlannedOp]) -> Option<((u32, u32), u32)> {
    if header.format != ImageFormat::Jpeg {
        return None;
    }
    let first = ops.iter().find(|op| **op != PlannedOp::Grayscale)?;
    let PlannedOp::Resize(resize) = first else {
        return None;
    };
    let factor = shrink_factor(
        (header.width, header.height),
        header.orientation,
        resize.scaled,
    );
    (factor >= 2).then_some((resize.scaled, factor))
}

#[cfg(test)]
mod tests {
    use image::metadata::Orientation;
    use imagepipe_shared::steps::{Blur, Fit, Gravity, Grayscale, Resize, default_chain};

    use super::*;

    fn header(format: ImageFormat, orientation: Orientation) -> Header {
        Header {
            format,
            width: 4000,
            height: 3000,
            orientation,
        }
    }

    fn thumbnail() -> Step {
        Step::Resize(Resize {
            width: Some(256),
            height: Some(256),
            fit: Fit::Cover,
            gravity: Gravity::Centre,
            enlarge: false,
        })
    }

    #[test]
    fn the_default_chain_decodes_luma_at_full_size() {
        let plan = Plan::new(
            &default_chain(5000),
            &header(ImageFormat::Jpeg, Orientation::NoTransforms),
        );
        assert!(plan.luma);
        assert_eq!(plan.shrink_to, None);
        assert_eq!(plan.ops, [PlannedOp::Grayscale]);
        assert_eq!(plan.output, (4000, 3000));
    }

    #[test]
    fn a_jpeg_thumbnail_shrinks_on_load_to_the_scaled_size() {
        let steps = [Step::Grayscale(Grayscale {}), thumbnail()];
        let plan = Plan::new(
            &steps,
            &header(ImageFormat::Jpeg, Orientation::NoTransforms),
        );
        assert!(plan.luma);
        assert_eq!(plan.shrink_to, Some((341, 256)));
        assert_eq!(plan.output, (256, 256));
        // Not a JPEG: nothing to scale in the DCT.
        let png = Plan::new(&steps, &header(ImageFormat::Png, Orientation::NoTransforms));
        assert_eq!(png.shrink_to, None);
        // A blur first: the reduction would change what it blurs.
        let blurred = [Step::Blur(Blur { sigma: 2.0 }), thumbnail()];
        let plan = Plan::new(
            &blurred,
            &header(ImageFormat::Jpeg, Orientation::NoTransforms),
        );
        assert_eq!(plan.shrink_to, None);
    }

    #[test]
    fn a_rotated_original_plans_on_its_upright_size() {
        let plan = Plan::new(
            &[thumbnail()],
            &header(ImageFormat::Jpeg, Orientation::Rotate90),
        );
        assert_eq!(plan.shrink_to, Some((256, 341)));
        assert_eq!(plan.output, (256, 256));
    }

    #[test]
    fn less_than_half_is_decoded_whole() {
        let resize = Step::Resize(Resize {
            width: Some(2500),
            height: None,
            fit: Fit::Contain,
            gravity: Gravity::Centre,
            enlarge: false,
        });
        let plan = Plan::new(
            &[resize],
            &header(ImageFormat::Jpeg, Orientation::NoTransforms),
        );
        assert_eq!(plan.shrink_to, None);
        assert_eq!(plan.output, (2500, 1875));
    }
}
