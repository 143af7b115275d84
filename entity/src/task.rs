//! One uploaded image and what became of it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a task is in its life. Moves only forward:
/// PENDING → PROCESSING → COMPLETED | FAILED (PENDING may fail directly, too).
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
}

impl TaskStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
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
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
