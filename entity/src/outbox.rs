//! Jobs committed together with their task and not yet confirmed by the broker
//! (the transactional outbox). A relay publishes them and deletes what the broker confirmed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Deleted with its task.
    pub task_id: Uuid,
    /// The job message, exactly as it will be published.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub created_at: DateTimeUtc,
    /// W3C trace context of the request that queued the job, published as its AMQP header.
    #[sea_orm(column_type = "Text", nullable)]
    pub traceparent: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
