//! What the API answers, read leniently: every field a client can live without is optional,
//! and absent reads the same as `null`, so a server that leaves absent fields out (or adds
//! new ones) never breaks the client.

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The answer to an accepted upload or retry (202).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Accepted {
    pub task_id: Uuid,
}

/// A task as `GET /api/v1/tasks/{id}` shows it: only what the client uses. The whole
/// document is kept beside it ([`Task::raw`]) for `--json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TaskView {
    pub task_id: Uuid,
    pub status: String,
    #[serde(default)]
    pub original_filename: Option<String>,
    #[serde(default)]
    pub width: Option<i64>,
    #[serde(default)]
    pub height: Option<i64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub error: Option<TaskError>,
    #[serde(default)]
    pub result: Option<ResultInfo>,
}

/// A task's view and the document it was read from.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub view: TaskView,
    pub raw: Value,
}

impl TaskView {
    /// COMPLETED, FAILED and CANCELLED never change again (a retry starts a new run, by hand).
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "FAILED" | "CANCELLED")
    }
}

/// Why a task failed.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub(crate) struct TaskError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// The processed image of a COMPLETED task.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResultInfo {
    #[serde(default)]
    pub width: Option<i64>,
    #[serde(default)]
    pub height: Option<i64>,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// One page of `GET /api/v1/tasks`.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub tasks: Vec<Task>,
    pub next_cursor: Option<String>,
    pub raw: Value,
}

/// An RFC 9457 problem document, as every error of the API is.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Problem {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub errors: Option<Vec<ProblemLocation>>,
}

/// One thing wrong with a request, and where (a refused chain of steps).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProblemLocation {
    #[serde(default)]
    pub pointer: String,
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_null_fields_both_read_as_none() {
        let id = "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
        let absent: TaskView =
            serde_json::from_value(serde_json::json!({"task_id": id, "status": "PENDING"}))
                .unwrap();
        let null: TaskView = serde_json::from_value(serde_json::json!({
            "task_id": id, "status": "PENDING", "error": null, "result": null,
            "width": null, "original_filename": null, "something_new": [1, 2]
        }))
        .unwrap();
        for view in [absent, null] {
            assert!(view.error.is_none() && view.result.is_none() && view.width.is_none());
            assert!(!view.is_terminal());
        }
        let problem: Problem = serde_json::from_str(r#"{"status": 404}"#).unwrap();
        assert!(problem.code.is_none() && problem.errors.is_none());
    }
}
