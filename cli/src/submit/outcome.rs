//! What became of each file of a `submit`, as a line for people or for scripts, and the
//! summary at the end.

use std::path::PathBuf;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::ApiError;

/// Why a file did not get where it was asked to go.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The server's code (`unsupported_media_type`, `undecodable_image`...) or the client's
    /// own (`connection_error`, `result_would_overwrite_input`...).
    pub code: String,
    pub message: String,
    /// The status of the HTTP answer that refused it, if one did.
    pub http_status: Option<u16>,
    /// Nothing will work until the user changes a setting (server unreachable, key refused).
    pub setup: bool,
}

impl Failure {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            http_status: None,
            setup: false,
        }
    }
}

impl Failure {
    /// Worth another try: no answer, or a server busy for a moment.
    pub(crate) fn is_transient(&self) -> bool {
        self.code == "connection_error" || matches!(self.http_status, Some(429 | 502..=504))
    }
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        Self {
            code: err.code(),
            message: err.detail(),
            http_status: err.status(),
            setup: err.is_setup_problem(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub file: PathBuf,
    pub task_id: Option<Uuid>,
    /// The task's status when last seen; none when the upload was refused.
    pub status: Option<String>,
    /// The result written, with --wait.
    pub result: Option<PathBuf>,
    pub size: Option<(i64, i64)>,
    pub failure: Option<Failure>,
}

impl Outcome {
    pub(crate) fn new(file: PathBuf) -> Self {
        Self {
            file,
            task_id: None,
            status: None,
            result: None,
            size: None,
            failure: None,
        }
    }

    pub(crate) fn failed(mut self, failure: impl Into<Failure>) -> Self {
        self.failure = Some(failure.into());
        self
    }

    pub(crate) fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// The line `--json` prints for this file.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "file": self.file.display().to_string(),
            "task_id": self.task_id,
            "status": self.status,
            "ok": self.ok(),
            "result": self.result.as_ref().map(|p| p.display().to_string()),
            "width": self.size.map(|s| s.0),
            "height": self.size.map(|s| s.1),
            "error": self.failure.as_ref().map(|f| json!({
                "code": f.code,
                "message": f.message,
                "http_status": f.http_status,
            })),
        })
    }

    /// The line a person sees for this file.
    pub(crate) fn to_line(&self) -> String {
        let file = self.file.display();
        match (&self.failure, &self.result, self.task_id) {
            (Some(failure), _, _) => format!("failed    {file}: {}", describe(failure)),
            (None, Some(result), _) => {
                let size = self
                    .size
                    .map(|(w, h)| format!(" ({w}x{h})"))
                    .unwrap_or_default();
                format!("completed {file} -> {}{size}", result.display())
            }
            (None, None, Some(id)) => format!("accepted  {file}: task {id}"),
            (None, None, None) => format!("accepted  {file}"),
        }
    }
}

fn describe(failure: &Failure) -> String {
    match failure.http_status {
        Some(status) => format!("{} (HTTP {status}): {}", failure.code, failure.message),
        None => format!("{}: {}", failure.code, failure.message),
    }
}

/// The summary at the end of a run, for stderr: how many succeeded and, for every file that
/// did not, why.
pub(crate) fn summary(outcomes: &[Outcome], wait: bool) -> String {
    let ok = outcomes.iter().filter(|o| o.ok()).count();
    let verb = if wait { "completed" } else { "accepted" };
    let mut text = format!("{ok} of {} files {verb}", outcomes.len());
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    if failed.is_empty() {
        return text;
    }
    text.push_str(&format!("; {} failed:", failed.len()));
    for outcome in failed {
        if let Some(failure) = &outcome.failure {
            let task = outcome
                .task_id
                .map(|id| format!(" [task {id}]"))
                .unwrap_or_default();
            text.push_str(&format!(
                "\n  {}{task}: {}",
                outcome.file.display(),
                describe(failure)
            ));
        }
    }
    text
}
