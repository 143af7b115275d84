//! A completion webhook to send: written by a database trigger in the same transaction that
//! moves a task with a callback URL into a terminal status, then claimed, sent and settled by
//! the result-writer's dispatcher.

use sea_orm::entity::prelude::*;

use crate::task::TaskStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Deleted with its task.
    pub task_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The task's run that ended.
    pub run: i32,
    /// The terminal status the task reached.
    pub status: TaskStatus,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_code: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result_key: Option<String>,
    /// The result's size and format, as the task had them when it ended.
    pub result_width: Option<i32>,
    pub result_height: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result_content_type: Option<String>,
    pub result_size_bytes: Option<i64>,
    /// The task's analysis, as it had it when it ended.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub analysis: Option<Json>,
    /// When the task ended.
    pub occurred_at: DateTimeUtc,
    /// Delivery attempts started so far.
    pub attempts: i32,
    /// When the next attempt is due; while an attempt runs, when its lease runs out.
    pub next_attempt_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    /// When the dispatcher gave up on it (last attempt failed, or the URL is no longer allowed).
    pub abandoned_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
