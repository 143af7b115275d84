//! Which chain of steps an upload asks for, decided and checked before anything is stored:
//! the client's own `steps`, a `preset`, or (neither) the default chain. Everything a chain
//! must keep is `imagepipe_shared::steps`'s; this module adds what is ingest's alone: the
//! operator's settings (allowed ops, presets, the default delay) and how a request names them.

use bytes::Bytes;
use imagepipe_shared::{
    messages::ErrorCode,
    models::DeclaredModels,
    steps::{
        self, AllowedOps, Chain, ChainError, ChainRules, PRESETS_POINTER, Presets, Step,
        StepProblem,
    },
};

use crate::config::IngestConfig;

/// Where a client's own chain sits in the request: the root of its pointers.
const STEPS_POINTER: &str = "/steps";

/// The operator's settings for chains, read and checked once at start.
#[derive(Debug, Clone)]
pub(crate) struct ChainSettings {
    pub rules: ChainRules,
    pub allowed: AllowedOps,
    pub presets: Presets,
    /// `MODELS_FILE`: the models an `infer` step may name.
    pub models: DeclaredModels,
    /// `PROCESSING_DELAY_MS`: the default chain's delay, as the processor runs it.
    pub default_delay_ms: u64,
}

impl ChainSettings {
    /// From the settings, refusing a default delay over `MAX_DELAY_MS`, an unknown op in
    /// `ALLOWED_OPS`, a bad models file, or a bad presets file (a preset's `infer` naming a
    /// model not declared included): each would otherwise fail tasks later.
    pub(crate) fn from_config(config: &IngestConfig) -> anyhow::Result<Self> {
        config
            .chain
            .check_default_delay(config.processing_delay_ms)?;
        let rules = config.chain.rules(config.decode_limits());
        let allowed = AllowedOps::from_names(config.allowed_ops.iter().map(String::as_str))
            .map_err(anyhow::Error::msg)?;
        let models = config.models.load()?;
        let presets = Presets::load(config.presets_file.as_deref(), &rules)?;
        for (name, chain) in presets.iter() {
            if let Chain::Steps(steps) = chain {
                models.check(steps, &format!("/{name}")).map_err(|e| {
                    anyhow::anyhow!(
                        "preset `{name}` names a model MODELS_FILE does not declare: {}",
                        e.summary()
                    )
                })?;
            }
        }
        Ok(Self {
            rules,
            allowed,
            presets,
            models,
            default_delay_ms: config.processing_delay_ms,
        })
    }

    /// The steps a task runs, spelled out: its stored chain, or the default chain (`None`).
    pub(crate) fn steps_of(&self, stored: Option<&serde_json::Value>) -> Vec<Step> {
        match stored {
            None => steps::default_chain(self.default_delay_ms),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|err| {
                // Only ingest writes the column, with chains it parsed: this is a bug or a
                // hand-edited row, and the view should still answer.
                tracing::error!(%err, "a stored chain does not read as steps");
                Vec::new()
            }),
        }
    }
}

/// The chain fields of an upload, as sent (blank fields count as absent, as a browser form
/// sends an empty text field).
#[derive(Debug, Default)]
pub(crate) struct ChainRequest {
    /// The `steps` field's bytes, at most `MAX_STEPS_BYTES` (the reader refuses longer).
    pub steps: Option<Bytes>,
    pub preset: Option<String>,
}

/// The chain an accepted upload runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChosenChain {
    /// The canonical chain for the task row and the job; `None` for the default chain (the
    /// `grayscale` preset included), so such a job reads as every job before chains did.
    pub steps: Option<serde_json::Value>,
    pub preset: Option<String>,
}

impl ChosenChain {
    /// What an `Idempotency-Key` compares besides the file: the same preset, the same
    /// canonical steps, or (`None`) both the default chain.
    pub(crate) fn identity(&self) -> Option<String> {
        match (&self.preset, &self.steps) {
            (Some(preset), _) => Some(format!("preset:{preset}")),
            (None, Some(steps)) => Some(format!("steps:{steps}")),
            (None, None) => None,
        }
    }
}

impl ChainRequest {
    /// Decide and check the chain for an image of `size` (after EXIF orientation).
    pub(crate) fn choose(
        self,
        settings: &ChainSettings,
        size: (u32, u32),
    ) -> Result<ChosenChain, ChainError> {
        match (self.steps, self.preset) {
            (None, None) => Ok(ChosenChain {
                steps: None,
                preset: None,
            }),
            (Some(_), Some(_)) => Err(ChainError::invalid(StepProblem::at(
                PRESETS_POINTER,
                "give either steps or a preset, not both",
            ))),
            (None, Some(name)) => {
                let chain = settings.presets.get(&name).ok_or_else(|| ChainError {
                    code: ErrorCode::UnknownPreset,
                    problems: vec![StepProblem::at(
                        PRESETS_POINTER,
                        format!(
                            "no preset named `{name}`; the presets are {}",
                            settings.presets.names().collect::<Vec<_>>().join(", ")
                        ),
                    )],
                })?;
                let steps = match chain {
                    Chain::Default => None,
                    // Not restricted by ALLOWED_OPS (the operator's own), but sized like any
                    // chain: a preset can still make too large an image of this one.
                    Chain::Steps(steps) => {
                        settings.rules.check(steps, size, PRESETS_POINTER)?;
                        Some(canonical_value(steps))
                    }
                };
                Ok(ChosenChain {
                    steps,
                    preset: Some(name),
                })
            }
            (Some(bytes), None) => {
                let steps = steps::parse_steps(&bytes).map_err(ChainError::invalid_all)?;
                settings.allowed.check(&steps, STEPS_POINTER)?;
                settings.models.check(&steps, STEPS_POINTER)?;
                settings.rules.check(&steps, size, STEPS_POINTER)?;
                Ok(ChosenChain {
                    steps: Some(canonical_value(&steps)),
                    preset: None,
                })
            }
        }
    }
}

/// The refusal of a `steps` field longer than the limit (it is not read further).
pub(crate) fn steps_too_long() -> ChainError {
    ChainError::invalid(StepProblem::at(
        STEPS_POINTER,
        format!(
            "steps is longer than {} bytes",
            steps::bounds::MAX_STEPS_BYTES
        ),
    ))
}

/// The refusal of a `preset` field given twice: which one counts is not guessed.
pub(crate) fn repeated(field: &str) -> ChainError {
    ChainError::invalid(StepProblem::at(
        &format!("/{field}"),
        format!("{field} is given more than once"),
    ))
}

/// The refusal of a `preset` that cannot be a preset's name (too long, not UTF-8).
pub(crate) fn unknown_preset_name() -> ChainError {
    ChainError {
        code: ErrorCode::UnknownPreset,
        problems: vec![StepProblem::at(
            PRESETS_POINTER,
            "no preset has such a name (1 to 64 letters, digits, `-` or `_`)",
        )],
    }
}

/// The chain as stored and sent: every default spelled out, so equal work is equal JSON.
fn canonical_value(steps: &[Step]) -> serde_json::Value {
    serde_json::Value::Array(
        steps
            .iter()
            .map(|step| serde_json::to_value(step).unwrap_or_default())
            .collect(),
    )
}

#[cfg(test)]
mod tests;
