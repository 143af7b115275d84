//! Models: a COMPLETED task keeps what its chain's model steps found (`analysis`, JSON, NULL
//! for a chain without a model step and for every task from before), and a completion
//! webhook carries it, so the delivery row, written by the trigger when the task ends, keeps
//! it beside the result's description (as migration 000006 did for those): a delivery sent
//! late, after a retry started a new run, still tells of the run that ended.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The trigger function of migration 000006, copying the analysis too.
const UP: &str = r#"
ALTER TABLE tasks ADD COLUMN analysis jsonb;
ALTER TABLE webhook_deliveries ADD COLUMN analysis jsonb;

CREATE OR REPLACE FUNCTION imagepipe_enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (task_id, url, run, status, error_code, error_message, result_key, occurred_at,
         result_width, result_height, result_content_type, result_size_bytes, analysis)
    VALUES
        (NEW.id, NEW.callback_url, NEW.run, NEW.status, NEW.error_code, NEW.error_message,
         NEW.result_key, COALESCE(NEW.completed_at, now()),
         NEW.result_width, NEW.result_height, NEW.result_content_type, NEW.result_size_bytes,
         NEW.analysis);
    RETURN NEW;
END
$$;
"#;

/// Back to migration 000006's trigger function.
const DOWN: &str = r#"
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

ALTER TABLE webhook_deliveries DROP COLUMN analysis;
ALTER TABLE tasks DROP COLUMN analysis;
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
