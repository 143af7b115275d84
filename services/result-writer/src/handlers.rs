//! What happens to one delivery from the events queue or the dead-letter queue.
//!
//! A database write that fails is retried here, holding the delivery, until the database is
//! back: requeueing would count against the queue's delivery limit and could park a perfectly
//! good event. Only on shutdown is an unwritten delivery handed back to the broker. A result object the
//! delivery shows nothing will reference is deleted in the background ([`orphans`]), never
//! holding the delivery: the object store is not a dependency of this service's work.

use std::future::Future;

use backon::Retryable;
use chrono::Utc;
use imagepipe_shared::{
    amqp::Publisher, db, messages, retry, storage::Storage, topology::Topology, trace::TraceContext,
};
use lapin::{
    message::Delivery,
    options::{BasicAckOptions, BasicNackOptions},
};
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    config::ResultWriterConfig,
    dead_letters::{self, Verdict},
    metrics::{EventLabels, ReasonLabels, WriterMetrics},
    transitions::{self, Applied},
};

mod orphans;

pub(crate) struct Handlers {
    db: DatabaseConnection,
    storage: Storage,
    metrics: WriterMetrics,
    publisher: Publisher,
    topology: Topology,
    shutdown: CancellationToken,
}

impl Handlers {
    pub(crate) fn new(
        db: DatabaseConnection,
        storage: Storage,
        metrics: WriterMetrics,
        config: &ResultWriterConfig,
        topology: Topology,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            db,
            storage,
            metrics,
            publisher: Publisher::new(
                config.amqp.amqp_url.clone(),
                "imagepipe-result-writer-publisher",
                topology.clone(),
            ),
            topology,
            shutdown,
        }
    }

    /// Retry a database write until it succeeds, each try within `db::STATEMENT_TIMEOUT` (a
    /// database that never answers fails the try rather than hold it); `None` if shutdown
    /// came first.
    async fn persist<F, Fut, T>(&self, mut write: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        let bounded_write = || db::bounded(write());
        tokio::select! {
            result = bounded_write
                .retry(retry::dependency())
                .notify(|err, delay| tracing::warn!(%err, ?delay, "database write failed, retrying")) => result.ok(),
            () = self.shutdown.cancelled() => None,
        }
    }

    pub(crate) async fn status_event(&self, delivery: Delivery) {
        let trace = TraceContext::from_amqp(delivery.properties.headers().as_ref());
        let span = tracing::info_span!(
            "event",
            trace_id = trace.map(|t| t.trace_id_hex()).unwrap_or_default()
        );
        self.apply_status_event(delivery).instrument(span).await;
    }

    async fn apply_status_event(&self, delivery: Delivery) {
        let event: messages::StatusEvent = match messages::decode(&delivery.data) {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(%err, "unusable status event, dead-lettering it");
                settle(&delivery, Settle::DeadLetter).await;
                return;
            }
        };
        let applied = self
            .persist(|| transitions::apply_event(&self.db, &event))
            .await;
        match applied {
            Some(applied) => {
                tracing::info!(task_id = %event.task_id, status = ?event.status, ?applied, "status event");
                self.metrics
                    .events
                    .get_or_create(&EventLabels {
                        status: transitions::reported_status(event.status).to_string(),
                        outcome: if applied == Applied::Changed {
                            "changed"
                        } else {
                            "ignored"
                        }
                        .to_owned(),
                    })
                    .inc();
                // Before the ack: a delivery handed back on shutdown is applied again (a
                // no-op) and its orphan deleted then.
                let swept = self.drop_orphaned_result(&event, applied).await;
                settle(&delivery, if swept { Settle::Ack } else { Settle::Requeue }).await;
            }
            None => settle(&delivery, Settle::Requeue).await,
        }
    }

    pub(crate) async fn dead_letter(&self, delivery: Delivery) {
        let verdict = dead_letters::judge(&delivery);
        let reason = match &verdict {
            Verdict::Event(event) => {
                let Some(applied) = self
                    .persist(|| transitions::apply_event(&self.db, event))
                    .await
                else {
                    return settle(&delivery, Settle::Requeue).await;
                };
                if !self.drop_orphaned_result(event, applied).await {
                    return settle(&delivery, Settle::Requeue).await;
                }
                format!(
                    "status event applied from the dead-letter queue ({:?})",
                    event.status
                )
            }
            Verdict::Fail {
                task_id,
                run,
                failure,
            } => {
                let now = Utc::now();
                let Some(applied) = self
                    .persist(|| transitions::fail(&self.db, *task_id, *run, failure, now, None))
                    .await
                else {
                    return settle(&delivery, Settle::Requeue).await;
                };
                self.metrics
                    .dead_letters
                    .get_or_create(&ReasonLabels {
                        reason: failure.code.as_str().to_owned(),
                    })
                    .inc();
                if applied == Applied::Changed {
                    tracing::warn!(%task_id, code = failure.code.as_str(), message = failure.message, "task failed from the dead-letter queue");
                }
                // The job may have stored its result before it was given up (a processor
                // killed after the store every time, a store whose answer was lost).
                if !self.drop_orphaned_result_of_run(*task_id, *run).await {
                    return settle(&delivery, Settle::Requeue).await;
                }
                format!("{}: {}", failure.code.as_str(), failure.message)
            }
            Verdict::ParkOnly { reason } => {
                tracing::warn!(reason, "dead letter without a task id, parking it");
                reason.clone()
            }
        };
        // Keep the message for inspection and re-drive.
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let parked = self
            .publisher
            .publish_bytes(
                &self.topology.parking_exchange(),
                "",
                &message_id,
                &delivery.data,
                dead_letters::parked_headers(&delivery, &reason),
            )
            .await;
        match parked {
            Ok(()) => settle(&delivery, Settle::Ack).await,
            Err(err) => {
                tracing::warn!(%err, "cannot park the dead letter, handing it back");
                settle(&delivery, Settle::Requeue).await;
            }
        }
    }
}

enum Settle {
    Ack,
    Requeue,
    DeadLetter,
}

async fn settle(delivery: &Delivery, how: Settle) {
    let result = match how {
        Settle::Ack => delivery.ack(BasicAckOptions::default()).await,
        Settle::Requeue | Settle::DeadLetter => {
            delivery
                .nack(BasicNackOptions {
                    requeue: matches!(how, Settle::Requeue),
                    multiple: false,
                })
                .await
        }
    };
    if let Err(err) = result {
        tracing::warn!(%err, "cannot settle a delivery; the broker will deliver it again");
    }
}
