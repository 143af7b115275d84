//! The messages that travel over RabbitMQ, defined once for every producer and consumer.
//!
//! Both carry `schema_version`: a consumer that meets a version it does not know parks the
//! message with that reason instead of guessing at its meaning.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::analysis::Analysis;

mod error_code;

pub use error_code::ErrorCode;

/// AMQP headers imagepipe sets on a job it parks, so the result-writer can state the reason.
pub mod headers {
    pub const FAILURE_CODE: &str = "x-imagepipe-error-code";
    pub const FAILURE_MESSAGE: &str = "x-imagepipe-error-message";
    pub const PARKED_REASON: &str = "x-imagepipe-parked-reason";
    pub const PARKED_AT: &str = "x-imagepipe-parked-at";
}

/// The version this build writes. Version 2 added a job's `steps` and a COMPLETED event's
/// `result`; both are optional, so a version-1 message reads as the default chain without
/// result details.
///
/// A field is added without a new version when a reader that ignores it still does the right
/// work, as with a job's `run` and a result's `analysis`: serde skips fields it does not know,
/// and this build reads a message without them as before. A new version is for a field an
/// older reader must not ignore (a job's `steps`: run without them, the job would make the
/// wrong image). It is one number for every message, so a bump makes an older consumer park
/// all of this build's messages, jobs of the default chain included: too high a price for an
/// analysis, which only chains with a model step have. The cost, for the length of a rolling
/// upgrade: a result-writer older than the analysis stores such a task COMPLETED without it,
/// so result-writers are upgraded before processors.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest version this build still reads.
pub const MIN_SCHEMA_VERSION: u32 = 1;

/// Ask a processor to work on one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub schema_version: u32,
    /// Unique per published message; a redelivery keeps it.
    pub message_id: Uuid,
    pub task_id: Uuid,
    /// Key of the original in the uploads bucket.
    pub original_key: String,
    /// Media type decided from the upload's bytes at ingest.
    pub content_type: String,
    /// The task's run this job belongs to: 0 from the upload, one more for every retry asked
    /// through the API. (Absent in messages from before retries existed: 0.)
    #[serde(default)]
    pub run: u32,
    /// 1 for the first try; grows by one on every retry. It travels in the body because newer
    /// RabbitMQ versions ignore a client-set `x-death` header.
    pub attempt: u32,
    pub enqueued_at: DateTime<Utc>,
    /// The chain to run, as JSON (a `steps` array); absent for the default chain. Kept as
    /// JSON rather than typed so a job with a chain this build cannot read still arrives,
    /// and fails as `invalid_steps` instead of being unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<serde_json::Value>,
}

impl JobMessage {
    /// The same job, running `steps` (`None`: the default chain).
    pub fn with_steps(self, steps: Option<serde_json::Value>) -> Self {
        Self { steps, ..self }
    }

    /// The job of a task's `run`.
    pub fn for_run(self, run: u32) -> Self {
        Self { run, ..self }
    }

    pub fn new(task_id: Uuid, original_key: String, content_type: String) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            message_id: Uuid::now_v7(),
            task_id,
            original_key,
            content_type,
            run: 0,
            attempt: 1,
            enqueued_at: Utc::now(),
            steps: None,
        }
    }
}

/// A task status as processors report it. PENDING is never reported: ingest creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportedStatus {
    Processing,
    Completed,
    Failed,
}

/// Why a task failed, in words a client can match on (`code`) and read (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    pub code: ErrorCode,
    pub message: String,
}

/// A change of a task's status, reported by a processor and applied by the result-writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEvent {
    pub schema_version: u32,
    pub message_id: Uuid,
    pub task_id: Uuid,
    pub status: ReportedStatus,
    /// The task run of the job this event is about (see [`JobMessage::run`]).
    #[serde(default)]
    pub run: u32,
    /// The job attempt this event is about.
    pub attempt: u32,
    /// Key of the result in the processed bucket, when COMPLETED.
    pub result_key: Option<String>,
    /// Why, when FAILED.
    pub failure: Option<TaskFailure>,
    /// What the result is, when COMPLETED (absent from version-1 events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultInfo>,
    pub occurred_at: DateTime<Utc>,
}

/// A stored result, described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultInfo {
    pub width: u32,
    pub height: u32,
    pub content_type: String,
    pub size_bytes: u64,
    /// What the chain's model steps found, one entry per model step; absent when the chain
    /// has none (and in events from before analyses: see [`SCHEMA_VERSION`]). Never an empty
    /// array: no model step, no analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
}

impl StatusEvent {
    fn new(task_id: Uuid, attempt: u32, status: ReportedStatus) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            message_id: Uuid::now_v7(),
            task_id,
            status,
            run: 0,
            attempt,
            result_key: None,
            failure: None,
            result: None,
            occurred_at: Utc::now(),
        }
    }

    /// The same event, about the task's `run`.
    pub fn in_run(self, run: u32) -> Self {
        Self { run, ..self }
    }

    pub fn processing(task_id: Uuid, attempt: u32) -> Self {
        Self::new(task_id, attempt, ReportedStatus::Processing)
    }

    pub fn completed(task_id: Uuid, attempt: u32, result_key: String, result: ResultInfo) -> Self {
        Self {
            result_key: Some(result_key),
            result: Some(result),
            ..Self::new(task_id, attempt, ReportedStatus::Completed)
        }
    }

    pub fn failed(task_id: Uuid, attempt: u32, failure: TaskFailure) -> Self {
        Self {
            failure: Some(failure),
            ..Self::new(task_id, attempt, ReportedStatus::Failed)
        }
    }
}

/// A client cancelled a task: processors skip its job or stop working on it. Broadcast to
/// every processor; the database is the truth, this only saves the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelMessage {
    pub schema_version: u32,
    pub message_id: Uuid,
    pub task_id: Uuid,
    pub cancelled_at: DateTime<Utc>,
}

impl CancelMessage {
    pub fn new(task_id: Uuid) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            message_id: Uuid::now_v7(),
            task_id,
            cancelled_at: Utc::now(),
        }
    }
}

/// Why a message body could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not valid JSON for this type: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(
        "message has schema_version {found}, this build understands {MIN_SCHEMA_VERSION} to {SCHEMA_VERSION}"
    )]
    UnknownSchemaVersion { found: u32 },
}

/// Decode a message body, checking its schema version before its shape, so a message from a
/// newer producer is reported as such rather than as garbage.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    #[derive(Deserialize)]
    struct Versioned {
        schema_version: u32,
    }
    let Versioned { schema_version } = serde_json::from_slice(body)?;
    if !(MIN_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&schema_version) {
        return Err(DecodeError::UnknownSchemaVersion {
            found: schema_version,
        });
    }
    Ok(serde_json::from_slice(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_round_trips_through_json() {
        let job = JobMessage::new(Uuid::new_v4(), "k".into(), "image/png".into());
        let body = serde_json::to_vec(&job).unwrap();
        assert_eq!(decode::<JobMessage>(&body).unwrap(), job);
    }

    #[test]
    fn messages_from_before_runs_existed_read_as_run_zero() {
        let mut body = serde_json::to_value(
            JobMessage::new(Uuid::new_v4(), "k".into(), "image/png".into()).for_run(3),
        )
        .unwrap();
        assert_eq!(body["run"], 3);
        body.as_object_mut().unwrap().remove("run");
        let job: JobMessage = decode(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(job.run, 0);
    }

    #[test]
    fn a_version_1_job_reads_as_the_default_chain() {
        let mut body = serde_json::to_value(JobMessage::new(
            Uuid::new_v4(),
            "k".into(),
            "image/png".into(),
        ))
        .unwrap();
        assert!(body.get("steps").is_none(), "no steps: the default chain");
        body["schema_version"] = 1.into();
        let job: JobMessage = decode(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(job.steps, None);
    }

    fn a_result() -> ResultInfo {
        ResultInfo {
            width: 4,
            height: 4,
            content_type: "image/png".into(),
            size_bytes: 100,
            analysis: None,
        }
    }

    #[test]
    fn a_completed_event_carries_its_analysis_and_omits_none() {
        use crate::analysis::{AnalysisEntry, Face, FaceBox, Point};
        let analysis = vec![AnalysisEntry {
            step: 0,
            op: "detect_faces".into(),
            model: "blazeface-front-128".into(),
            faces: Some(vec![Face {
                bounds: FaceBox {
                    x: 178.5,
                    y: 81.25,
                    width: 94.0,
                    height: 94.0,
                },
                score: 0.921875,
                keypoints: vec![Point { x: 200.0, y: 110.5 }],
            }]),
            outputs: None,
            classes: None,
        }];
        let with = StatusEvent::completed(
            Uuid::new_v4(),
            1,
            "results/x.png".into(),
            ResultInfo {
                analysis: Some(analysis.clone()),
                ..a_result()
            },
        );
        let body = serde_json::to_value(&with).unwrap();
        assert_eq!(body["result"]["analysis"][0]["faces"][0]["box"]["x"], 178.5);
        let read: StatusEvent = decode(&serde_json::to_vec(&with).unwrap()).unwrap();
        assert_eq!(read.result.and_then(|r| r.analysis), Some(analysis));

        let without = StatusEvent::completed(Uuid::new_v4(), 1, "results/x.png".into(), a_result());
        let body = serde_json::to_value(&without).unwrap();
        assert!(body["result"].get("analysis").is_none(), "{body}");
    }

    /// An event of this schema version from before analyses existed still reads.
    #[test]
    fn a_result_without_analysis_reads_as_none() {
        let body = serde_json::json!({
            "schema_version": 2, "message_id": Uuid::new_v4(), "task_id": Uuid::new_v4(),
            "status": "COMPLETED", "run": 0, "attempt": 1, "result_key": "results/x.png",
            "failure": null, "occurred_at": Utc::now(),
            "result": {"width": 4, "height": 4, "content_type": "image/png", "size_bytes": 100},
        });
        let event: StatusEvent = decode(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(event.result, Some(a_result()));
    }

    #[test]
    fn unknown_schema_version_is_named_not_called_garbage() {
        let body = br#"{"schema_version": 99, "whatever": true}"#;
        match decode::<JobMessage>(body) {
            Err(DecodeError::UnknownSchemaVersion { found: 99 }) => {}
            other => panic!("expected UnknownSchemaVersion, got {other:?}"),
        }
    }
}
