//! An `Idempotency-Key` an upload presented: claimed by the first request with it, then
//! recording the task that request created, until it expires.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The API key's owner id, or `""` when authentication is off.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub key: String,
    /// SHA-256 of the first request's file: a later request with another file is refused.
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub request_sha256: Vec<u8>,
    /// `None` while the first request with this key is still running.
    pub task_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
