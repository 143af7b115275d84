//! The outbox relay: publishes the jobs committed with their tasks, and deletes each outbox
//! row only after the broker confirmed its message.
//!
//! A job is therefore never lost between PostgreSQL and RabbitMQ: if the broker is down, rows
//! wait; if ingest dies after the commit, the next relay (of any ingest instance) publishes
//! them. If ingest dies after the confirm but before the delete, the job is published twice;
//! the pipeline is idempotent per task (same result key, monotonic status), so that is safe.

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use imagepipe_shared::{
    amqp::Publisher, db::bounded, retry, topology::JOB_ROUTING_KEY, trace::TraceContext,
};
use lapin::types::FieldTable;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Rows published per transaction.
const BATCH: i64 = 100;

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
    let mut failures = 0u32;
    loop {
        match pass(&db, &publisher).await {
            Ok(_) => failures = 0,
            Err(err) => {
                failures += 1;
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
            () = wakeup.notified(), if failures == 0 => {}
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
async fn pass(db: &DatabaseConnection, publisher: &Publisher) -> Result<u64, RelayError> {
    publisher.connect().await?;
    drain(db, publisher).await
}

/// Publish batches until the outbox is empty; returns how many jobs were published.
pub(crate) async fn drain(
    db: &DatabaseConnection,
    publisher: &Publisher,
) -> Result<u64, RelayError> {
    let mut total = 0;
    loop {
        let published = relay_batch(db, publisher).await?;
        total += published;
        if published < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// One batch in one transaction. Every database call is [`bounded`]: a database that never
/// answers fails the pass (and the relay backs off) instead of stalling the relay for ever.
async fn relay_batch(db: &DatabaseConnection, publisher: &Publisher) -> Result<u64, RelayError> {
    let txn = bounded(db.begin()).await?;
    // SKIP LOCKED: several ingest instances can relay at once without publishing the same
    // rows twice or waiting on each other.
    let rows = bounded(txn.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, payload, traceparent FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        [BATCH.into()],
    )))
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut bodies = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let payload: serde_json::Value = row.try_get("", "payload")?;
        let message_id = payload
            .get("message_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let mut headers = FieldTable::default();
        let traceparent: Option<String> = row.try_get("", "traceparent")?;
        if let Some(trace) = traceparent.as_deref().and_then(TraceContext::parse) {
            trace.insert_into(&mut headers);
        }
        ids.push(id);
        bodies.push((message_id, payload.to_string(), headers));
    }
    // Publish the whole batch at once and wait for all confirms: the channel pipelines them.
    let exchange = publisher.topology().jobs_exchange();
    let confirms = join_all(bodies.iter().map(|(message_id, body, headers)| {
        publisher.publish_bytes(
            &exchange,
            JOB_ROUTING_KEY,
            message_id,
            body.as_bytes(),
            headers.clone(),
        )
    }))
    .await;
    // Delete only what the broker confirmed; the rest is retried on the next pass.
    let confirmed: Vec<i64> = ids
        .iter()
        .zip(&confirms)
        .filter(|(_, result)| result.is_ok())
        .map(|(id, _)| *id)
        .collect();
    if !confirmed.is_empty() {
        bounded(txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM outbox WHERE id = ANY($1)",
            [Value::from(confirmed.clone())],
        )))
        .await?;
    }
    bounded(txn.commit()).await?;
    if let Some(Err(err)) = confirms.into_iter().find(|r| r.is_err()) {
        return Err(err.into());
    }
    Ok(confirmed.len() as u64)
}
