//! The outbox keeps each job's W3C `traceparent`, so the relay can publish it as an AMQP
//! header and the trace of an upload continues through the processor and the result-writer.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE outbox ADD COLUMN traceparent text")
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE outbox DROP COLUMN traceparent")
            .await
            .map(drop)
    }
}
