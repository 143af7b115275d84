//! What the complete task API needs: cancelling (CANCELLED), re-running failed tasks (`run`,
//! `queued_at`), per-key ownership, completion webhooks (a durable delivery queue filled by a
//! trigger, so every writer of a terminal status enqueues it in the same transaction),
//! idempotency keys, and tombstones of tasks removed by retention.
//!
//! Plain SQL: constraints, partial indexes and a trigger read best in the database's own words.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const UP: &str = r#"
ALTER TABLE tasks
    ADD COLUMN run integer NOT NULL DEFAULT 0,
    ADD COLUMN queued_at timestamptz,
    ADD COLUMN owner text,
    ADD COLUMN callback_url text;
UPDATE tasks SET queued_at = created_at;
ALTER TABLE tasks
    ALTER COLUMN queued_at SET NOT NULL,
    ALTER COLUMN queued_at SET DEFAULT now();

ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'));

-- Listing, newest first (ids are UUIDv7: time-ordered), per owner and per status.
CREATE INDEX idx_tasks_owner_id ON tasks (owner, id DESC);
CREATE INDEX idx_tasks_status_id ON tasks (status, id DESC);

CREATE TABLE idempotency_keys (
    -- The API key's owner id, or '' when authentication is off.
    scope text NOT NULL,
    key text NOT NULL,
    request_sha256 bytea NOT NULL,
    -- NULL while the first request with this key is still running.
    task_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    url text NOT NULL,
    run integer NOT NULL,
    status varchar(16) NOT NULL,
    error_code text,
    error_message text,
    result_key text,
    occurred_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    abandoned_at timestamptz,
    last_error text
);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;

-- Whoever moves a task with a callback into a terminal state (result-writer, reaper, ingest's
-- cancel) enqueues its webhook in the same transaction, without knowing about webhooks.
CREATE FUNCTION imagepipe_enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (task_id, url, run, status, error_code, error_message, result_key, occurred_at)
    VALUES
        (NEW.id, NEW.callback_url, NEW.run, NEW.status, NEW.error_code, NEW.error_message,
         NEW.result_key, COALESCE(NEW.completed_at, now()));
    RETURN NEW;
END
$$;
CREATE TRIGGER tasks_enqueue_webhook
    AFTER UPDATE OF status ON tasks
    FOR EACH ROW
    WHEN (NEW.callback_url IS NOT NULL
          AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
          AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION imagepipe_enqueue_webhook();

-- Ids removed by retention answer 410, not 404.
CREATE TABLE task_tombstones (
    id uuid PRIMARY KEY,
    owner text,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS task_tombstones;
DROP TRIGGER IF EXISTS tasks_enqueue_webhook ON tasks;
DROP FUNCTION IF EXISTS imagepipe_enqueue_webhook();
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS idempotency_keys;
DROP INDEX IF EXISTS idx_tasks_status_id;
DROP INDEX IF EXISTS idx_tasks_owner_id;
DELETE FROM tasks WHERE status = 'CANCELLED';
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED'));
ALTER TABLE tasks
    DROP COLUMN callback_url,
    DROP COLUMN owner,
    DROP COLUMN queued_at,
    DROP COLUMN run;
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
