//! Fails tasks left unfinished past their deadline, so no task stays PENDING or PROCESSING
//! forever whatever went wrong upstream.

use std::time::Duration;

use imagepipe_shared::{db, periodic::Ticks};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::{metrics::WriterMetrics, transitions};

pub async fn run(
    db: DatabaseConnection,
    metrics: WriterMetrics,
    timeout: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = Ticks::every(interval, &shutdown);
    while ticks.next().await {
        match db::bounded(transitions::reap(&db, timeout)).await {
            Ok(0) => {}
            Ok(n) => {
                metrics.reaped.inc_by(n);
                tracing::warn!(tasks = n, ?timeout, "failed tasks that ran out of time")
            }
            Err(err) => tracing::warn!(%err, "reaper cannot reach the database"),
        }
    }
}
