//! What is left of a task that retention deleted: enough to answer 410 Gone, rather than 404,
//! to whoever may see it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_tombstones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The deleted task's owner: other API keys still get 404.
    #[sea_orm(column_type = "Text", nullable)]
    pub owner: Option<String>,
    /// When the deleted task was created.
    pub created_at: DateTimeUtc,
    pub deleted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
