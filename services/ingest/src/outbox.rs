//! The outbox relay: publishes the jobs committed with their tasks, and deletes each outbox
//! row only after the broker confirmed its message.
//!
//! A job is therefore never lost between PostgreSQL and RabbitMQ: if the broker is down, rows
//! wait; if ingest dies after the commit, the next relay (of any ingest instance) publishes
//! them. If ingest dies after the confirm but before the delete, the job is published twice;
//! the pipeline is idempotent per task (same result key, monotonic status), so that is safe.
//! The same reasoning gives the relay a pool of its own for work that is done again
//! ([`Work::Repeatable`](imagepipe_shared::db::Work::Repeatable)): a deletion lost in a crash
//! of PostgreSQL only publishes its jobs again, so the relay's commits do not each wait for a
//! WAL flush of their own. And since a dead connection only fails a pass, which is tried
//! again, the relay keeps one connection from pass to pass ([`held`]) instead of a checkout,
//! and its pings, per pass.
//!
//! Under a stream of uploads a pass would carry only the jobs committed while the last one
//! ran, one or two. So a pass that carried jobs is followed by the next one no sooner than
//! [`GATHER`] after it: under a stream each pass takes several jobs, for at most a few
//! milliseconds on a job's publication, while a job after a quiet spell is published at once.

mod held;

use std::{sync::Arc, time::Duration};

use futures::{TryFutureExt, future::join_all};
use imagepipe_shared::{
    amqp::Publisher, db::bounded, retry, topology::JOB_ROUTING_KEY, trace::TraceContext,
};
use lapin::types::FieldTable;
use sea_orm::{
    DatabaseConnection, DbErr, RuntimeErr,
    sqlx::{self, Connection, PgConnection, Row},
};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

/// Rows published per transaction.
const BATCH: i64 = 100;

/// The least time from a pass that carried jobs to the next pass: long enough for a stream of
/// uploads to commit several more (at 400 uploads/s, one every 2.5 ms), short against a job's
/// time to its result (the per-task overhead is 14–18 ms).
const GATHER: Duration = Duration::from_millis(5);

/// The relay's pool: one pass at a time holds one connection; the second is slack for a
/// connection still being checked on its way back after a deadline.
pub(crate) const CONNECTIONS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("broker: {0}")]
    Broker(#[from] imagepipe_shared::amqp::AmqpError),
}

/// Publish whatever is in the outbox whenever woken, and at least every `poll`.
pub(crate) async fn run(
    db: DatabaseConnection,
    publisher: Arc<Publisher>,
    wakeup: Arc<Notify>,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let mut connection = held::HeldConnection::new(db);
    let mut failures = 0u32;
    loop {
        let mut not_before = None;
        match pass(&mut connection, &publisher).await {
            Ok(published) => {
                failures = 0;
                not_before = (published > 0).then(|| Instant::now() + GATHER);
            }
            Err(err) => {
                failures += 1;
                if matches!(err, RelayError::Database(_)) {
                    // It may be dead or still busy with an unanswered statement.
                    connection.forget();
                }
                tracing::warn!(%err, "outbox relay cannot publish yet; jobs stay in the outbox");
            }
        }
        // After failures, back off instead of hammering a broker that is down.
        let wait = if failures == 0 {
            poll
        } else {
            retry::relay_pause(failures)
        };
        tokio::select! {
            () = wakeup.notified(), if failures == 0 => {
                if let Some(at) = not_before {
                    tokio::time::sleep_until(at).await;
                }
            }
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// One pass of the relay: open the link to the broker if it is down, then drain the outbox.
///
/// Connecting here, on every pass and not only when a job waits, is what keeps readiness's
/// `broker` check true: the publisher reports a link it has, so without this it would say
/// `degraded` from start until the first upload, and again after every drop until the next
/// job. The relay already runs from start, every `poll` and backing off while the broker is
/// down, so this costs one check of the channel's state per pass when the link is up.
async fn pass(
    connection: &mut held::HeldConnection,
    publisher: &Publisher,
) -> Result<u64, RelayError> {
    publisher.connect().await?;
    drain(connection.get().await?, publisher).await
}

/// Publish batches until the outbox is empty; returns how many jobs were published.
async fn drain(connection: &mut PgConnection, publisher: &Publisher) -> Result<u64, RelayError> {
    let mut total = 0;
    loop {
        let published = relay_batch(connection, publisher).await?;
        total += published;
        if published < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Take and delete a batch of jobs; the deletion commits with the pass's transaction.
/// SKIP LOCKED: several ingest instances can relay at once without publishing the same rows
/// twice or waiting on each other. The rows stay locked, and their deletion uncommitted,
/// until the transaction ends.
const TAKE_BATCH: &str = "DELETE FROM outbox WHERE id IN \
    (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
    RETURNING id, payload, traceparent";

/// A database call within [`bounded`]'s deadline: a database that never answers fails the
/// pass (and the relay backs off) instead of stalling the relay for ever.
async fn sql<T>(call: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, DbErr> {
    bounded(call.map_err(|err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))).await
}

/// One batch in one transaction: take and delete the batch in one statement, publish it, and
/// commit the deletion only once the broker confirmed every job of it.
async fn relay_batch(
    connection: &mut PgConnection,
    publisher: &Publisher,
) -> Result<u64, RelayError> {
    let mut txn = sql(connection.begin()).await?;
    let rows = sql(sqlx::query(TAKE_BATCH).bind(BATCH).fetch_all(&mut *txn)).await?;
    if rows.is_empty() {
        // Dropped: rolled back with the connection's next statement.
        return Ok(0);
    }
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("id").map_err(column)?;
        let payload: serde_json::Value = row.try_get("payload").map_err(column)?;
        let message_id = payload
            .get("message_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let mut headers = FieldTable::default();
        let traceparent: Option<String> = row.try_get("traceparent").map_err(column)?;
        if let Some(trace) = traceparent.as_deref().and_then(TraceContext::parse) {
            trace.insert_into(&mut headers);
        }
        jobs.push((id, message_id, payload.to_string(), headers));
    }
    // RETURNING has no order; publish in the order the jobs were committed.
    jobs.sort_unstable_by_key(|(id, ..)| *id);
    // Publish the whole batch at once and wait for all confirms: the channel pipelines them.
    let exchange = publisher.topology().jobs_exchange();
    let confirms = join_all(jobs.iter().map(|(_, message_id, body, headers)| {
        publisher.publish_bytes(
            &exchange,
            JOB_ROUTING_KEY,
            message_id,
            body.as_bytes(),
            headers.clone(),
        )
    }))
    .await;
    let mut confirmed = Vec::with_capacity(jobs.len());
    let mut refusal = None;
    for ((id, ..), result) in jobs.iter().zip(confirms) {
        match result {
            Ok(_) => confirmed.push(*id),
            Err(err) => {
                refusal.get_or_insert(err);
            }
        }
    }
    let Some(refusal) = refusal else {
        sql(txn.commit()).await?;
        return Ok(confirmed.len() as u64);
    };
    // Not every job was confirmed: put the batch back, then delete only what the broker
    // confirmed; the rest waits for the next pass. (A relay that takes the rows between the
    // two publishes those again: a duplicate, which the pipeline absorbs.)
    sql(txn.rollback()).await?;
    if !confirmed.is_empty() {
        sql(sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&confirmed)
            .execute(&mut *connection))
        .await?;
    }
    Err(refusal.into())
}

/// A column the relay's statement returns that cannot be read as what the relay expects.
fn column(err: sqlx::Error) -> DbErr {
    DbErr::Type(err.to_string())
}
