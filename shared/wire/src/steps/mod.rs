//! Chains of steps: what a task does to its image, chosen per request. Defined once here, so
//! ingest and the processor read, check and size a chain the same way.
//!
//! - [`types`]: the steps themselves (wire format and OpenAPI schema in one); [`bounds`], their
//!   parameters' limits;
//!   the model steps' types in `model_steps`.
//! - [`parse`]: a client's JSON to typed steps, every problem at its JSON pointer.
//! - [`check`]: the rules of a chain, and the sizes it makes from the image's own.
//! - [`geometry`]: the size arithmetic both sides share (resize's fit and gravity, turns).
//! - [`presets`]: named chains the operator configures.
//!
//! A task's chain is [`Chain::Default`] (the seed's grayscale and simulated delay, the delay
//! being each service's `PROCESSING_DELAY_MS`) unless the request gave steps or a preset.

pub mod bounds;
mod check;
mod geometry;
mod model_steps;
mod parse;
mod presets;
mod types;

pub use check::{AllowedOps, ChainRules};
pub use geometry::{Rect, ResizePlan, output_size, plan_resize};
pub use parse::{parse_steps, parse_value};
pub use presets::valid_name;
pub use presets::{PRESETS_POINTER, Presets};
pub use types::*;

use crate::messages::ErrorCode;

/// One thing wrong with a chain, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepProblem {
    /// RFC 6901 JSON pointer into the request, like `/steps/2/width`.
    pub pointer: String,
    pub detail: String,
}

impl StepProblem {
    pub fn at(pointer: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Why a chain is refused: one code for the whole, a problem for each place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", .code.as_str(), self.summary())]
pub struct ChainError {
    /// `invalid_steps`, `output_too_large`, `unknown_preset` or `unknown_model`.
    pub code: ErrorCode,
    pub problems: Vec<StepProblem>,
}

impl ChainError {
    pub fn invalid(problem: StepProblem) -> Self {
        Self {
            code: ErrorCode::InvalidSteps,
            problems: vec![problem],
        }
    }

    pub fn invalid_all(problems: Vec<StepProblem>) -> Self {
        Self {
            code: ErrorCode::InvalidSteps,
            problems,
        }
    }

    pub fn too_large(problem: StepProblem) -> Self {
        Self {
            code: ErrorCode::OutputTooLarge,
            problems: vec![problem],
        }
    }

    pub(crate) fn invalid_if_any(problems: Vec<StepProblem>) -> Result<(), Self> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Self::invalid_all(problems))
        }
    }

    /// Every problem on one line, for logs and a FAILED task's message.
    pub fn summary(&self) -> String {
        self.problems
            .iter()
            .map(|p| format!("{}: {}", p.pointer, p.detail))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What a task runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Chain {
    /// The seed's: `grayscale`, then `delay` of `PROCESSING_DELAY_MS`.
    Default,
    Steps(Vec<Step>),
}

impl Chain {
    /// The steps, the default chain spelled out with `delay_ms`.
    pub fn steps(&self, delay_ms: u64) -> Vec<Step> {
        match self {
            Chain::Default => default_chain(delay_ms),
            Chain::Steps(steps) => steps.clone(),
        }
    }
}

/// The default chain with a delay of `delay_ms`.
pub fn default_chain(delay_ms: u64) -> Vec<Step> {
    vec![
        Step::Grayscale(Grayscale {}),
        Step::Delay(Delay { ms: delay_ms }),
    ]
}

/// The canonical text of a chain: its steps with every default spelled out, as serde writes
/// them. Two requests ask for the same work exactly when their canonical texts are equal.
pub fn canonical(steps: &[Step]) -> String {
    serde_json::to_string(steps).unwrap_or_default()
}

#[cfg(test)]
mod tests;
