//! The rules a chain must keep, checked the same way by ingest (before anything is stored)
//! and by the processor (before it decodes): the rules of each step and between steps, then
//! the sizes it produces from the image's own.

use std::collections::BTreeSet;

use super::{
    ChainError, StepProblem,
    bounds::{
        MAX_BLUR_SIGMA, MAX_FACE_PADDING, MAX_QUALITY, MAX_SHARPEN_AMOUNT, MAX_SHARPEN_SIGMA,
        MIN_QUALITY, MIN_SIGMA,
    },
    geometry::output_size,
    types::{BlurFaces, DetectFaces, Fit, Op, OutputFormat, Step},
};
use crate::image_rules::DecodeLimits;

/// What a chain may ask for on this deployment.
#[derive(Debug, Clone)]
pub struct ChainRules {
    pub max_steps: usize,
    pub max_delay_ms: u64,
    /// Every image a step makes stays within these, as the original must.
    pub limits: DecodeLimits,
}

/// Which ops clients' own chains may use (presets and the default chain are the operator's
/// and are not restricted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOps(BTreeSet<Op>);

impl AllowedOps {
    pub fn all() -> Self {
        Self(Op::ALL.into_iter().collect())
    }

    /// From op names, as `ALLOWED_OPS` lists them.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        names
            .into_iter()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                Op::parse(name).ok_or_else(|| {
                    format!(
                        "unknown op `{name}` in ALLOWED_OPS; the ops are {}",
                        Op::names()
                    )
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn allows(&self, op: Op) -> bool {
        self.0.contains(&op)
    }

    /// A client's chain, refused where it uses an op this server does not allow.
    pub fn check(&self, steps: &[Step], root: &str) -> Result<(), ChainError> {
        let problems: Vec<_> = steps
            .iter()
            .enumerate()
            .filter(|(_, step)| !self.allows(step.op()))
            .map(|(index, step)| {
                StepProblem::at(
                    &format!("{root}/{index}/op"),
                    format!(
                        "op `{}` is not allowed on this server; allowed: {}",
                        step.op().as_str(),
                        self.0
                            .iter()
                            .map(|op| op.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
            .collect();
        ChainError::invalid_if_any(problems)
    }
}

impl ChainRules {
    /// Everything that can be checked without the image: the number of steps, each step's
    /// parameters, and `encode` last.
    pub fn check_steps(&self, steps: &[Step], root: &str) -> Result<(), ChainError> {
        let mut problems = Vec::new();
        if steps.len() > self.max_steps {
            problems.push(StepProblem::at(
                root,
                format!(
                    "{} steps, more than the {} allowed (MAX_STEPS)",
                    steps.len(),
                    self.max_steps
                ),
            ));
        }
        let last = steps.len().saturating_sub(1);
        for (index, step) in steps.iter().enumerate() {
            let at = |param: &str| {
                if param.is_empty() {
                    format!("{root}/{index}")
                } else {
                    format!("{root}/{index}/{param}")
                }
            };
            let mut problem = |param: &str, detail: String| {
                problems.push(StepProblem::at(&at(param), detail));
            };
            if matches!(step, Step::Encode(_)) && index != last {
                problem(
                    "",
                    "encode must be the last step, and there can be only one".into(),
                );
            }
            self.check_params(step, &mut problem);
        }
        ChainError::invalid_if_any(problems)
    }

    fn check_params(&self, step: &Step, problem: &mut impl FnMut(&str, String)) {
        let in_range =
            |value: f32, min: f32, max: f32| value.is_finite() && (min..=max).contains(&value);
        match step {
            Step::Resize(resize) => {
                match (resize.width, resize.height, resize.fit) {
                    (None, None, _) => {
                        problem("", "resize needs a width, a height or both".into());
                    }
                    (None, Some(_), Fit::Cover | Fit::Fill)
                    | (Some(_), None, Fit::Cover | Fit::Fill) => {
                        let missing = if resize.width.is_none() {
                            "width"
                        } else {
                            "height"
                        };
                        problem(
                            missing,
                            format!("fit `{}` needs both width and height", fit_name(resize.fit)),
                        );
                    }
                    _ => {}
                }
                for (name, side) in [("width", resize.width), ("height", resize.height)] {
                    if side == Some(0) {
                        problem(name, format!("{name} must be at least 1"));
                    }
                }
            }
            Step::Crop(crop) => {
                for (name, side) in [("width", crop.width), ("height", crop.height)] {
                    if side == 0 {
                        problem(name, format!("{name} must be at least 1"));
                    }
                }
            }
            Step::Rotate(rotate) => {
                if !matches!(rotate.degrees, 90 | 180 | 270) {
                    problem(
                        "degrees",
                        format!("degrees must be 90, 180 or 270, not {}", rotate.degrees),
                    );
                }
            }
            Step::Blur(blur) => {
                if !in_range(blur.sigma, MIN_SIGMA, MAX_BLUR_SIGMA) {
                    problem(
                        "sigma",
                        format!("sigma must be from {MIN_SIGMA} to {MAX_BLUR_SIGMA}"),
                    );
                }
            }
            Step::Sharpen(sharpen) => {
                if !in_range(sharpen.sigma, MIN_SIGMA, MAX_SHARPEN_SIGMA) {
                    problem(
                        "sigma",
                        format!("sigma must be from {MIN_SIGMA} to {MAX_SHARPEN_SIGMA}"),
                    );
                }
                if !in_range(sharpen.amount, 0.0, MAX_SHARPEN_AMOUNT) {
                    problem(
                        "amount",
                        format!("amount must be from 0 to {MAX_SHARPEN_AMOUNT}"),
                    );
                }
            }
            Step::Delay(delay) => {
                if delay.ms > self.max_delay_ms {
                    problem(
                        "ms",
                        format!("ms must be at most {} (MAX_DELAY_MS)", self.max_delay_ms),
                    );
                }
            }
            Step::Encode(encode) => {
                let lossless = encode.lossless == Some(true);
                if encode.lossless.is_some() && encode.format != OutputFormat::Webp {
                    problem("lossless", "lossless applies to webp only".into());
                }
                match encode.quality {
                    Some(_) if encode.format == OutputFormat::Png => {
                        problem(
                            "quality",
                            "quality does not apply to png, which is lossless".into(),
                        );
                    }
                    Some(_) if lossless => {
                        problem("quality", "quality does not apply to lossless webp".into());
                    }
                    Some(quality) if !(MIN_QUALITY..=MAX_QUALITY).contains(&quality) => {
                        problem(
                            "quality",
                            format!("quality must be from {MIN_QUALITY} to {MAX_QUALITY}"),
                        );
                    }
                    _ => {}
                }
            }
            Step::DetectFaces(DetectFaces { min_score })
            | Step::BlurFaces(BlurFaces { min_score, .. }) => {
                if !in_range(*min_score, 0.0, 1.0) {
                    problem("min_score", "min_score must be from 0 to 1".into());
                }
                if let Step::BlurFaces(blur) = step
                    && !in_range(blur.padding, 0.0, MAX_FACE_PADDING)
                {
                    problem(
                        "padding",
                        format!("padding must be from 0 to {MAX_FACE_PADDING}"),
                    );
                }
            }
            // Whether its model is declared is the models file's to say (`unknown_model`).
            Step::Flip(_) | Step::Grayscale(_) | Step::Infer(_) => {}
        }
    }

    /// The sizes the chain produces from a `width` × `height` image (after EXIF orientation):
    /// every crop inside the image it is given, every image within the limits. Returns the
    /// output's size.
    pub fn check_sizes(
        &self,
        steps: &[Step],
        (width, height): (u32, u32),
        root: &str,
    ) -> Result<(u32, u32), ChainError> {
        let mut size = (width, height);
        for (index, step) in steps.iter().enumerate() {
            let at = format!("{root}/{index}");
            if let Step::Crop(crop) = step {
                let fits = u64::from(crop.x) + u64::from(crop.width) <= u64::from(size.0)
                    && u64::from(crop.y) + u64::from(crop.height) <= u64::from(size.1);
                if !fits {
                    return Err(ChainError::invalid(StepProblem::at(
                        &at,
                        format!(
                            "the crop {}x{} at ({}, {}) is outside the {}x{} image it is given",
                            crop.width, crop.height, crop.x, crop.y, size.0, size.1
                        ),
                    )));
                }
            }
            if let Step::Resize(resize) = step {
                // `cover` scales before it crops: the scaled image must fit the limits too.
                let scaled = super::geometry::plan_resize(size.0, size.1, resize).scaled;
                self.within_limits(scaled, &at)?;
            }
            size = output_size(step, size);
            self.within_limits(size, &at)?;
        }
        Ok(size)
    }

    fn within_limits(&self, (width, height): (u32, u32), at: &str) -> Result<(), ChainError> {
        let limits = &self.limits;
        if u64::from(width) * u64::from(height) > limits.max_pixels
            || width > limits.max_side
            || height > limits.max_side
        {
            return Err(ChainError::too_large(StepProblem::at(
                at,
                format!(
                    "this step makes a {width}x{height} image, over the limit of {} pixels or {} per side",
                    limits.max_pixels, limits.max_side
                ),
            )));
        }
        Ok(())
    }

    /// [`check_steps`](Self::check_steps), then [`check_sizes`](Self::check_sizes).
    pub fn check(
        &self,
        steps: &[Step],
        size: (u32, u32),
        root: &str,
    ) -> Result<(u32, u32), ChainError> {
        self.check_steps(steps, root)?;
        self.check_sizes(steps, size, root)
    }
}

fn fit_name(fit: Fit) -> &'static str {
    match fit {
        Fit::Contain => "contain",
        Fit::Cover => "cover",
        Fit::Fill => "fill",
    }
}
