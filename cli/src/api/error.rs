//! How a call to the API can fail, and what each failure means to the user.

use std::{fmt, time::Duration};

use super::types::Problem;

#[derive(Debug)]
pub(crate) enum ApiError {
    /// The server answered, with an error status (and, from imagepipe, a problem document).
    Refused {
        status: u16,
        problem: Problem,
        /// `Retry-After` of a 503.
        retry_after: Option<Duration>,
    },
    /// No answer: the server cannot be reached, the call timed out or the connection broke.
    Unreachable(reqwest::Error),
    /// An answer, but not one this client understands (not imagepipe, or a newer API).
    Unreadable { status: u16, reason: String },
}

impl ApiError {
    /// The stable code to report: the problem's, or one of the client's own.
    pub(crate) fn code(&self) -> String {
        match self {
            Self::Refused {
                status, problem, ..
            } => problem
                .code
                .clone()
                .unwrap_or_else(|| format!("http_{status}")),
            Self::Unreachable(_) => "connection_error".to_owned(),
            Self::Unreadable { .. } => "unexpected_response".to_owned(),
        }
    }

    /// What happened, for a person.
    pub(crate) fn detail(&self) -> String {
        match self {
            Self::Refused { problem, .. } => {
                let mut detail = problem
                    .detail
                    .clone()
                    .or_else(|| problem.title.clone())
                    .unwrap_or_default();
                for place in problem.errors.iter().flatten() {
                    detail.push_str(&format!("\n    {}: {}", place.pointer, place.detail));
                }
                detail
            }
            Self::Unreachable(err) => unreachable_detail(err),
            Self::Unreadable { reason, .. } => reason.clone(),
        }
    }

    /// The HTTP status, when the server answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } | Self::Unreadable { status, .. } => Some(*status),
            Self::Unreachable(_) => None,
        }
    }

    /// Nothing the client does can succeed until the user changes its settings: the server
    /// is not there, or it refuses the credentials. These end a run with exit code 2.
    pub(crate) fn is_setup_problem(&self) -> bool {
        matches!(self, Self::Unreachable(_)) || self.status() == Some(401)
    }
}

/// reqwest's own message names only the outermost layer ("error sending request"); the
/// cause (connection refused, DNS, timeout) is what a user can act on.
fn unreachable_detail(err: &reqwest::Error) -> String {
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    detail
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status() {
            Some(status) => write!(f, "{} (HTTP {status}): {}", self.code(), self.detail()),
            None => write!(f, "{}: {}", self.code(), self.detail()),
        }
    }
}

impl std::error::Error for ApiError {}
