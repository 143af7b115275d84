//! What the result-writer counts: status events applied or ignored, dead letters by reason,
//! tasks reaped and expired, webhook deliveries by outcome, and its queues' depths.

use imagepipe_shared::metrics::{QueueLabels, queue_depth_family};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// PROCESSING, COMPLETED or FAILED.
    pub status: String,
    /// `changed`, or `ignored` (duplicate, stale, or the task already ended).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `delivered`, `retry` or `abandoned`.
    pub outcome: String,
}

#[derive(Clone)]
pub struct WriterMetrics {
    pub events: Family<EventLabels, Counter>,
    pub dead_letters: Family<ReasonLabels, Counter>,
    pub reaped: Counter,
    pub expired: Counter,
    pub webhooks: Family<OutcomeLabels, Counter>,
    pub queue_depth: Family<QueueLabels, Gauge>,
}

impl WriterMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            events: Family::default(),
            dead_letters: Family::default(),
            reaped: Counter::default(),
            expired: Counter::default(),
            webhooks: Family::default(),
            queue_depth: queue_depth_family(registry),
        };
        registry.register(
            "imagepipe_status_events",
            "Status events by reported status and whether they changed the task",
            metrics.events.clone(),
        );
        registry.register(
            "imagepipe_dead_letters",
            "Jobs that reached the dead-letter queue (their tasks FAILED, the jobs parked), by reason",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "imagepipe_tasks_reaped",
            "Tasks failed by the reaper for running out of time",
            metrics.reaped.clone(),
        );
        registry.register(
            "imagepipe_tasks_expired",
            "Tasks deleted after their retention period",
            metrics.expired.clone(),
        );
        registry.register(
            "imagepipe_webhook_deliveries",
            "Webhook delivery attempts by outcome",
            metrics.webhooks.clone(),
        );
        metrics
    }

    pub fn webhook(&self, outcome: &str) {
        self.webhooks
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}
