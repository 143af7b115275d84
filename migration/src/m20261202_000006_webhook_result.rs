//! A completion webhook describes the result as the task does (size and format), so the
//! delivery row, written by the trigger when the task ends, keeps them beside `result_key`:
//! a delivery sent late, after a retry started a new run, still tells of the run that ended.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The trigger function of migration 000003, copying the result's description too.
const UP: &str = r#"
ALTER TABLE webhook_deliveries
    ADD COLUMN result_width integer,
    ADD COLUMN result_height integer,
    ADD COLUMN result_content_type text,
    ADD COLUMN result_size_bytes bigint;

CREATE OR REPLACE FUNCTION imagepipe_enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (task_id, url, run, status, error_code, error_message, result_key, occurred_at,
         result_width, result_height, result_content_type, result_size_bytes)
    VALUES
        (NEW.id, NEW.callback_url, NEW.run, NEW.status, NEW.error_code, NEW.error_message,
         NEW.result_key, COALESCE(NEW.completed_at, now()),
         NEW.result_width, NEW.result_height, NEW.result_content_type, NEW.result_size_bytes);
    RETURN NEW;
END
$$;
"#;

const DOWN: &str = r#"
CREATE OR REPLACE FUNCTION imagepipe_enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (task_id, url, run, status, error_code, error_message, result_key, occurred_at)
    VALUES
        (NEW.id, NEW.callback_url, NEW.run, NEW.status, NEW.error_code, NEW.error_message,
         NEW.result_key, COALESCE(NEW.completed_at, now()));
    RETURN NEW;
END
$$;

ALTER TABLE webhook_deliveries
    DROP COLUMN result_size_bytes,
    DROP COLUMN result_content_type,
    DROP COLUMN result_height,
    DROP COLUMN result_width;
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
