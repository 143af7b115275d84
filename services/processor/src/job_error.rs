//! How one attempt at a job can fail, and which failures are worth another attempt: a
//! missing original or a refused image is permanent, an unreachable object store or model
//! server transient.

use imagepipe_shared::{
    amqp::AmqpError,
    messages::{ErrorCode, TaskFailure},
    storage::StorageError,
};

use crate::{kernel::KernelError, models::oip::CallError};

/// How one attempt ended, when not with a result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    /// Retrying cannot help: the task fails now.
    #[error("{}: {}", .0.code.as_str(), .0.message)]
    Permanent(TaskFailure),
    /// Worth another attempt later.
    #[error("{code:?}: {message}")]
    Transient { code: ErrorCode, message: String },
    /// The broker failed while we reported: hand the job back, it will come again.
    #[error("broker: {0}")]
    Broker(#[from] AmqpError),
    /// The processor must stop (a model server's model is not the declared one): hand the
    /// job back for a processor that can do it.
    #[error("stopping: {0}")]
    Stop(String),
}

impl From<CallError> for JobError {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Unavailable(message) => JobError::Transient {
                code: ErrorCode::ModelUnavailable,
                message,
            },
            CallError::Refused(message) => JobError::Permanent(TaskFailure {
                code: ErrorCode::InferenceFailed,
                message,
            }),
            CallError::Contradicts(reason) => JobError::Stop(reason),
        }
    }
}

impl From<StorageError> for JobError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound { .. } => JobError::Permanent(TaskFailure {
                code: ErrorCode::OriginalMissing,
                message: err.to_string(),
            }),
            other => JobError::Transient {
                code: ErrorCode::StorageUnavailable,
                message: other.to_string(),
            },
        }
    }
}

impl From<KernelError> for JobError {
    fn from(err: KernelError) -> Self {
        let (code, message) = match &err {
            KernelError::Rejected(rejection) => (rejection.code(), err.to_string()),
            KernelError::Chain(chain) => (chain.code, chain.summary()),
            KernelError::Process(_) | KernelError::Encode(_) => {
                (ErrorCode::ProcessingFailed, err.to_string())
            }
            KernelError::Inference(message) => (ErrorCode::InferenceFailed, message.clone()),
        };
        JobError::Permanent(TaskFailure { code, message })
    }
}
