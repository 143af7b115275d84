//! Lists of errors for the tests that must cover every kind: every response an endpoint
//! documents, every code the problem document can carry.

use imagepipe_shared::steps::ChainError;
use uuid::Uuid;

use super::ApiError;

impl ApiError {
    /// A refused chain of each code.
    pub(crate) fn chain_refusals() -> Vec<Self> {
        use imagepipe_shared::{messages::ErrorCode, steps::StepProblem};
        [
            ErrorCode::InvalidSteps,
            ErrorCode::OutputTooLarge,
            ErrorCode::UnknownPreset,
            ErrorCode::UnknownModel,
        ]
        .into_iter()
        .map(|code| {
            Self::Chain(ChainError {
                code,
                problems: vec![StepProblem::at("/steps/0", "wrong")],
            })
        })
        .collect()
    }

    /// One error of every kind, for tests that must cover them all.
    pub(crate) fn one_of_each() -> Vec<Self> {
        let id = Uuid::nil();
        let cause = || anyhow::anyhow!("the cause");
        let all = vec![
            Self::MissingFile,
            Self::EmptyFile,
            Self::PayloadTooLarge { limit: 1 },
            Self::UnsupportedMediaType,
            Self::ImageTooLarge("too large".into()),
            Self::UndecodableImage("undecodable".into()),
            Self::InvalidRequest("invalid".into()),
            Self::InvalidTaskId("not a uuid".into()),
            Self::TaskNotFound(id),
            Self::TaskExpired(id),
            Self::TaskNotCancellable {
                id,
                status: "COMPLETED".into(),
            },
            Self::TaskNotRetryable {
                id,
                status: "PENDING".into(),
            },
            Self::ResultNotReady {
                id,
                status: "FAILED".into(),
            },
            Self::Unauthorized,
            Self::InvalidIdempotencyKey,
            Self::IdempotencyKeyReused,
            Self::IdempotencyKeyInUse,
            Self::CallbackRejected("not allowed".into()),
            Self::CallbackAddressRefused("loopback".into()),
            Self::Chain(ChainError::invalid(
                imagepipe_shared::steps::StepProblem::at("/steps", "wrong"),
            )),
            Self::InvalidCursor,
            Self::StorageUnavailable(cause()),
            Self::Overloaded { waiting: 1 },
            Self::RateLimited {
                retry_after_secs: 1,
            },
            Self::DatabaseUnavailable(cause()),
            Self::Internal(cause()),
        ];
        // A new kind of error does not compile here until it is added to the list above.
        for err in &all {
            match err {
                Self::MissingFile
                | Self::EmptyFile
                | Self::PayloadTooLarge { .. }
                | Self::UnsupportedMediaType
                | Self::ImageTooLarge(_)
                | Self::UndecodableImage(_)
                | Self::InvalidRequest(_)
                | Self::InvalidTaskId(_)
                | Self::TaskNotFound(_)
                | Self::TaskExpired(_)
                | Self::TaskNotCancellable { .. }
                | Self::TaskNotRetryable { .. }
                | Self::ResultNotReady { .. }
                | Self::Unauthorized
                | Self::InvalidIdempotencyKey
                | Self::IdempotencyKeyReused
                | Self::IdempotencyKeyInUse
                | Self::CallbackRejected(_)
                | Self::CallbackAddressRefused(_)
                | Self::Chain(_)
                | Self::InvalidCursor
                | Self::StorageUnavailable(_)
                | Self::Overloaded { .. }
                | Self::RateLimited { .. }
                | Self::DatabaseUnavailable(_)
                | Self::Internal(_) => {}
            }
        }
        all
    }
}
