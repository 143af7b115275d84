//! One try of creating a task: the task row (PENDING), its job in the outbox and, for a
//! request with an `Idempotency-Key`, the key recording the task, all in one statement.
//!
//! One statement runs in PostgreSQL's implicit transaction: it commits all three rows or none,
//! as the transaction block it replaces did (`BEGIN`, an `INSERT` per row, the key's `UPDATE`,
//! `COMMIT`), in one round trip instead of four or five. What PostgreSQL spends on an upload
//! goes mostly to statements and round trips, not to the rows (issue 16).
//!
//! Raw SQL through the pool SeaORM opened, not SeaORM's query builder, for two reasons: the
//! rows go into three tables through data-modifying `WITH` clauses, and the connection must be
//! taken from the pool before the statement is sent, so that a failure says which side of
//! the send it happened on. Before, nothing can have committed (the upload's original may be
//! taken back); after, the statement may have committed unless PostgreSQL answered with an
//! error. SeaORM's `execute` takes the connection and sends in one call. The columns are the
//! entities' (`imagepipe_entity::{task, outbox, idempotency_key}`); the e2e tests run this
//! statement against the migrated schema on every upload.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Utc};
use imagepipe_entity::task::TaskStatus;
use imagepipe_shared::db::{bounded, connection_error, postgres_pool};
use sea_orm::{
    DatabaseConnection, DbErr, RuntimeErr,
    sqlx::{
        self, Postgres,
        postgres::{PgArguments, PgDatabaseError, PgSeverity},
        query::Query,
    },
};
use uuid::Uuid;

/// What is known of a task at upload; everything else starts at the column's default
/// (no attempts, run 0, no outcome).
#[derive(Debug, Clone)]
pub(crate) struct NewTask {
    pub(crate) id: Uuid,
    pub(crate) original_key: String,
    pub(crate) original_filename: Option<String>,
    pub(crate) content_type: String,
    pub(crate) size_bytes: i64,
    pub(crate) width: i32,
    pub(crate) height: i32,
    pub(crate) owner: Option<String>,
    pub(crate) callback_url: Option<String>,
    /// The canonical chain; `None` for the default chain.
    pub(crate) steps: Option<serde_json::Value>,
    /// The preset the request named.
    pub(crate) preset: Option<String>,
}

/// The job as the relay will publish it.
pub(super) struct Job<'a> {
    pub(super) payload: &'a serde_json::Value,
    /// W3C trace context, published as the job's AMQP header.
    pub(super) traceparent: &'a str,
}

/// Where one try failed.
pub(super) enum Attempt {
    /// Nothing was committed: the statement was never sent, or PostgreSQL refused it.
    NotCommitted(DbErr),
    /// The statement was sent and no answer came (the connection broke, or the deadline ran
    /// out): it may have committed.
    Unknown(DbErr),
}

/// The task's row. Its job is selected from the row inserted (`FROM task`): no job without
/// its task.
macro_rules! task_sql {
    () => {
        "WITH task AS (
            INSERT INTO tasks (id, status, original_key, original_filename, content_type,
                               size_bytes, width, height, owner, callback_url, steps, preset,
                               created_at, updated_at, queued_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
            RETURNING id
        )"
    };
}

macro_rules! job_sql {
    () => {
        "
        INSERT INTO outbox (task_id, payload, created_at, traceparent)
        SELECT id, $14, $13, $15 FROM task"
    };
}

/// A new task and its job.
const TASK_AND_JOB: &str = concat!(task_sql!(), job_sql!());

/// A new task, its job, and the claimed key recording the task.
const TASK_JOB_AND_KEY: &str = concat!(
    task_sql!(),
    ",
        recorded_key AS (
            UPDATE idempotency_keys SET task_id = $1 WHERE scope = $16 AND key = $17
        )",
    job_sql!()
);

/// The status a new task starts in: [`Transition::Create`]'s target.
///
/// [`Transition::Create`]: imagepipe_shared::tasks::Transition::Create
const CREATED: TaskStatus = TaskStatus::Pending;

/// Insert the task, its job and (with `idempotency`, the claimed (scope, key)) the key's task,
/// within one [`bounded`] deadline.
pub(super) async fn insert(
    db: &DatabaseConnection,
    new: &NewTask,
    job: &Job<'_>,
    idempotency: Option<&(String, String)>,
    now: DateTime<Utc>,
) -> Result<(), Attempt> {
    let pool = postgres_pool(db).map_err(Attempt::NotCommitted)?;
    let statement = statement(new, job, idempotency, now);
    let sent = AtomicBool::new(false);
    let result = bounded(async {
        let mut connection = pool.acquire().await.map_err(connection_error)?;
        sent.store(true, Ordering::SeqCst);
        statement
            .execute(&mut *connection)
            .await
            .map(drop)
            .map_err(|err| DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err))))
    })
    .await;
    result.map_err(|err| {
        if sent.load(Ordering::SeqCst) && !refused(&err) {
            Attempt::Unknown(err)
        } else {
            Attempt::NotCommitted(err)
        }
    })
}

fn statement<'a>(
    new: &'a NewTask,
    job: &'a Job<'a>,
    idempotency: Option<&'a (String, String)>,
    now: DateTime<Utc>,
) -> Query<'a, Postgres, PgArguments> {
    let sql = match idempotency {
        Some(_) => TASK_JOB_AND_KEY,
        None => TASK_AND_JOB,
    };
    let statement = sqlx::query(sql)
        .bind(new.id)
        .bind(CREATED.to_string())
        .bind(&new.original_key)
        .bind(&new.original_filename)
        .bind(&new.content_type)
        .bind(new.size_bytes)
        .bind(new.width)
        .bind(new.height)
        .bind(&new.owner)
        .bind(&new.callback_url)
        .bind(&new.steps)
        .bind(&new.preset)
        .bind(now)
        .bind(job.payload)
        .bind(job.traceparent);
    match idempotency {
        Some((scope, key)) => statement.bind(scope).bind(key),
        None => statement,
    }
}

/// PostgreSQL answered the statement with an `ERROR` (a constraint, a cancelled statement, a
/// failed commit): in an implicit transaction that means nothing of it was committed. A `FATAL`
/// ends the session and, in principle, could come after the commit: not counted as refused.
fn refused(err: &DbErr) -> bool {
    let DbErr::Exec(RuntimeErr::SqlxError(err)) = err else {
        return false;
    };
    err.as_database_error()
        .and_then(|err| err.try_downcast_ref::<PgDatabaseError>())
        .is_some_and(|err| matches!(err.severity(), PgSeverity::Error))
}

#[cfg(test)]
mod tests {
    use imagepipe_shared::tasks::Transition;

    use super::*;

    #[test]
    fn a_new_task_starts_where_the_rules_say() {
        assert_eq!(Transition::Create.target(), Some(CREATED));
    }

    /// No status is spelled inside the statement: it is a bound value, as in every other
    /// transition.
    #[test]
    fn the_status_is_bound_not_spelled() {
        for sql in [TASK_AND_JOB, TASK_JOB_AND_KEY] {
            for status in ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"] {
                assert!(!sql.contains(status), "{status} in {sql}");
            }
        }
    }

    /// The two statements differ only by the key's clause, and bind 15 and 17 values.
    #[test]
    fn the_keyed_statement_is_the_other_plus_the_key() {
        assert!(TASK_JOB_AND_KEY.starts_with(task_sql!()));
        assert!(TASK_JOB_AND_KEY.ends_with(job_sql!()));
        assert!(TASK_JOB_AND_KEY.contains("UPDATE idempotency_keys"));
        assert!(!TASK_AND_JOB.contains("idempotency_keys"));
        let highest = |sql: &str| {
            (1..=20)
                .filter(|n| sql.contains(&format!("${n}")))
                .max()
                .unwrap_or(0)
        };
        assert_eq!(highest(TASK_AND_JOB), 15);
        assert_eq!(highest(TASK_JOB_AND_KEY), 17);
    }

    #[test]
    fn an_error_answer_is_refused_anything_else_unknown() {
        let timeout = DbErr::Custom("the database did not answer".to_owned());
        assert!(!refused(&timeout));
        let broken = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        ))));
        assert!(!refused(&broken));
    }
}
