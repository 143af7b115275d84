//! A job's chain of steps, checked again before anything is decoded (defence in depth: anything
//! that can publish a job could skip ingest's check), by the same rules as ingest.

use imagepipe_shared::{
    image_rules::inspect,
    messages::TaskFailure,
    models::DeclaredModels,
    steps::{self, ChainError, ChainRules, Step},
};

use crate::{job_error::JobError, kernel::KernelError};

/// Where a job's chain sits in its problems' pointers, as in the request it came from.
const ROOT: &str = "/steps";

/// The job's steps (`None`: the default chain, with `default_delay_ms`), parsed and checked:
/// each step's rules first, then the sizes the chain makes from the original's header. A
/// chain that breaks a rule breaks it on every attempt, so it fails the task at once, without
/// retries, as `invalid_steps` or `output_too_large`; an `infer` step naming a model this
/// processor does not declare, as `unknown_model`.
pub(crate) fn checked_steps(
    job_steps: Option<&serde_json::Value>,
    original: &[u8],
    rules: &ChainRules,
    models: &DeclaredModels,
    default_delay_ms: u64,
) -> Result<Vec<Step>, JobError> {
    let steps = match job_steps {
        None => steps::default_chain(default_delay_ms),
        Some(value) => steps::parse_value(value, ROOT)
            .map_err(ChainError::invalid_all)
            .map_err(refused)?,
    };
    rules.check_steps(&steps, ROOT).map_err(refused)?;
    models.check(&steps, ROOT).map_err(refused)?;
    let header = inspect(original, rules.limits).map_err(KernelError::from)?;
    rules
        .check_sizes(&steps, header.oriented_size(), ROOT)
        .map_err(refused)?;
    Ok(steps)
}

fn refused(err: ChainError) -> JobError {
    JobError::Permanent(TaskFailure {
        code: err.code,
        message: err.summary(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageFormat, RgbImage};
    use imagepipe_shared::{image_rules::DecodeLimits, messages::ErrorCode};
    use serde_json::json;

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(width, height))
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn rules() -> ChainRules {
        ChainRules {
            max_steps: 16,
            max_delay_ms: 60_000,
            limits: DecodeLimits {
                max_pixels: 1_000_000,
                max_side: 2000,
            },
        }
    }

    fn refusal(steps: serde_json::Value) -> TaskFailure {
        match checked_steps(
            Some(&steps),
            &png(40, 30),
            &rules(),
            &DeclaredModels::default(),
            5000,
        ) {
            Err(JobError::Permanent(failure)) => failure,
            other => panic!("{steps}: expected a permanent failure, got {other:?}"),
        }
    }

    #[test]
    fn no_steps_is_the_default_chain_with_the_configured_delay() {
        let steps = checked_steps(
            None,
            &png(40, 30),
            &rules(),
            &DeclaredModels::default(),
            1234,
        )
        .unwrap();
        assert_eq!(steps, steps::default_chain(1234));
    }

    #[test]
    fn an_invalid_chain_fails_at_once_as_invalid_steps() {
        for (steps, pointer) in [
            (json!([{"op": "spin"}]), "/steps/0/op"),
            (json!({"op": "grayscale"}), "/steps"),
            (json!([{"op": "blur", "sigma": 500}]), "/steps/0/sigma"),
            (json!([{"op": "delay", "ms": 60_001}]), "/steps/0/ms"),
            (
                json!([{"op": "encode", "format": "png"}, {"op": "grayscale"}]),
                "/steps/0",
            ),
            // Outside the 40×30 image it is given.
            (
                json!([{"op": "crop", "x": 30, "y": 0, "width": 20, "height": 10}]),
                "/steps/0",
            ),
        ] {
            let failure = refusal(steps.clone());
            assert_eq!(failure.code, ErrorCode::InvalidSteps, "{steps}");
            assert!(
                failure.message.starts_with(pointer),
                "{steps}: {}",
                failure.message
            );
        }
    }

    #[test]
    fn a_model_not_declared_here_fails_at_once_as_unknown_model() {
        let failure = refusal(json!([{"op": "grayscale"}, {"op": "infer", "model": "mystery"}]));
        assert_eq!(failure.code, ErrorCode::UnknownModel);
        assert!(
            failure.message.starts_with("/steps/1/model"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_chain_that_outgrows_the_limits_fails_as_output_too_large() {
        let failure = refusal(json!([{"op": "resize", "width": 1900, "enlarge": true}]));
        assert_eq!(failure.code, ErrorCode::OutputTooLarge);
        assert!(
            failure.message.starts_with("/steps/0"),
            "{}",
            failure.message
        );
    }
}
