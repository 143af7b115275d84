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
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The statuses a task may still leave.
    pub const NON_TERMINAL: [TaskStatus; 2] = [Self::Pending, Self::Processing];
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
    pub original_filename: Option<String>,
    /// Media type decided from the bytes.
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
    /// Processing attempts started so far.
    pub attempts: i32,
    pub error_code: Option<String>,
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
    pub owner: Option<String>,
    /// Where to POST the outcome when the task ends.
    pub callback_url: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
