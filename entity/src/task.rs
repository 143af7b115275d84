//! One uploaded image and what became of it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a task is in its life. Moves only forward:
/// PENDING → PROCESSING → COMPLETED | FAILED | CANCELLED (PENDING may end directly, too).
/// The one way back is an explicit retry of a FAILED task, which starts a new `run`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "PROCESSING")]
    Processing,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "FAILED")]
    Failed,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

impl TaskStatus {
    /// Whether the task has ended: only a retry (of a FAILED task) or retention's deletion
    /// moves it on.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// The name as stored in the database (`PENDING`, …), the only spelling of it.
impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_value())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub status: TaskStatus,
    /// Key of the original in the uploads bucket.
    pub original_key: String,
    /// The client's file name, as metadata only: never part of a key.
    #[sea_orm(column_type = "Text", nullable)]
    pub original_filename: Option<String>,
    /// Media type decided from the bytes.
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
    /// Processing attempts started so far.
    pub attempts: i32,
    pub error_code: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    /// Key of the result in the processed bucket, when COMPLETED.
    pub result_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    /// When the task ended (COMPLETED, FAILED or CANCELLED).
    pub completed_at: Option<DateTimeUtc>,
    /// Which run of the task this row describes: 0 at upload, +1 on every retry. Jobs and
    /// events carry it, so a straggler from an earlier run cannot touch a newer one.
    pub run: i32,
    /// When the current run was queued (upload, or retry); the reaper's deadline counts from it.
    pub queued_at: DateTimeUtc,
    /// Owner id of the API key that created the task; `None` when authentication is off.
    #[sea_orm(column_type = "Text", nullable)]
    pub owner: Option<String>,
    /// Where to POST the outcome when the task ends.
    #[sea_orm(column_type = "Text", nullable)]
    pub callback_url: Option<String>,
    /// The chain the task runs, canonical (every default spelled out); `None` for the default
    /// chain (grayscale, then the simulated delay), which every task before chains ran.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub steps: Option<Json>,
    /// The preset the request named, if any.
    #[sea_orm(column_type = "Text", nullable)]
    pub preset: Option<String>,
    /// The result's size and format, when COMPLETED (`None` for a task completed by a report
    /// that did not describe its result).
    pub result_width: Option<i32>,
    pub result_height: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result_content_type: Option<String>,
    pub result_size_bytes: Option<i64>,
    /// What the chain's model steps found, when COMPLETED (`imagepipe_shared::analysis`'s
    /// JSON, one entry per model step); `None` for a chain without any, and for every task
    /// from before analyses.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub analysis: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    /// The database, the API's JSON and the logs spell each status the same way.
    #[test]
    fn every_status_has_one_spelling() {
        for status in TaskStatus::iter() {
            let name = status.to_string();
            assert_eq!(name, status.to_value());
            assert_eq!(serde_json::to_value(status).unwrap(), name.as_str());
            assert_eq!(TaskStatus::try_from_value(&name).unwrap(), status);
        }
    }

    #[test]
    fn exactly_the_ended_statuses_are_terminal() {
        let terminal: Vec<_> = TaskStatus::iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [
                TaskStatus::Completed,
                TaskStatus::Failed,
                TaskStatus::Cancelled
            ]
        );
    }
}
