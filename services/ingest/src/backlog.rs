//! Load shedding: how much accepted work is waiting (jobs in the work queue plus jobs still
//! in the outbox), measured in the background so an upload only reads a number.
//!
//! Above `MAX_BACKLOG`, ingest answers 503 with `Retry-After` instead of accepting work it
//! cannot finish soon. While the broker is unreachable only the outbox is counted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use imagepipe_shared::{amqp::QueueProbe, db, metrics::QueueLabels, periodic};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio_util::sync::CancellationToken;

use crate::metrics::IngestMetrics;

/// The last measured backlog and its ceiling (0: no ceiling).
#[derive(Debug, Default)]
pub struct Backlog {
    waiting: AtomicU64,
    limit: u64,
}

impl Backlog {
    pub fn new(limit: u64) -> Self {
        Self {
            waiting: AtomicU64::new(0),
            limit,
        }
    }

    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Whether new work should be refused now.
    pub fn is_full(&self) -> bool {
        self.limit > 0 && self.waiting() >= self.limit
    }
}

/// Measure every `interval` until shutdown.
pub(crate) async fn measure(
    backlog: Arc<Backlog>,
    metrics: IngestMetrics,
    db: DatabaseConnection,
    mut probe: QueueProbe,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let jobs_queue = probe.topology().jobs_queue();
    let jobs_labels = QueueLabels {
        queue: jobs_queue.clone(),
    };
    let mut ticks = periodic::Ticks::every(interval, &shutdown);
    while ticks.next().await {
        let outbox = outbox_len(&db).await.unwrap_or(0);
        // A broker gone silent makes the read wait out its timeout: not a shutdown.
        let queued = tokio::select! {
            depth = probe.depth(&jobs_queue) => depth.unwrap_or(0),
            () = shutdown.cancelled() => return,
        };
        backlog.waiting.store(outbox + queued, Ordering::Relaxed);
        metrics
            .outbox_depth
            .set(i64::try_from(outbox).unwrap_or(i64::MAX));
        metrics
            .queue_depth
            .get_or_create(&jobs_labels)
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }
}

async fn outbox_len(db: &DatabaseConnection) -> Option<u64> {
    // Bounded: a database that never answers must not stop the measuring.
    let row = db::bounded(db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM outbox",
    )))
    .await
    .ok()??;
    row.try_get::<i64>("", "n").ok().map(|n| n.max(0) as u64)
}
