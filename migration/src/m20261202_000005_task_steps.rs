//! Chains of steps: a task keeps the chain it runs (`steps`, the canonical JSON; NULL for the
//! default chain, so every task from before this migration reads as the default chain it ran)
//! and the preset it was named by, and a COMPLETED task describes its result (size and format),
//! as the processor reports it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const UP: &str = r#"
ALTER TABLE tasks
    ADD COLUMN steps jsonb,
    ADD COLUMN preset text,
    ADD COLUMN result_width integer,
    ADD COLUMN result_height integer,
    ADD COLUMN result_content_type text,
    ADD COLUMN result_size_bytes bigint;
"#;

const DOWN: &str = r#"
ALTER TABLE tasks
    DROP COLUMN result_size_bytes,
    DROP COLUMN result_content_type,
    DROP COLUMN result_height,
    DROP COLUMN result_width,
    DROP COLUMN preset,
    DROP COLUMN steps;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}
