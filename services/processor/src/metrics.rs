//! What the processor counts: jobs started, completed, failed (by code), retried, parked and
//! cancelled; how long pixel work and the simulated delay take; jobs in flight; the work
//! queue's depth as this processor sees it.

use imagepipe_shared::metrics::{QueueLabels, duration_histogram, queue_depth_family};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabels {
    pub code: String,
}

/// A step of a job outside the pixel work and the delay, timed so the per-task overhead can
/// be taken apart (docs/performance.md).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StageLabels {
    pub stage: String,
}

#[derive(Clone)]
pub(crate) struct ProcessorMetrics {
    pub started: Counter,
    pub completed: Counter,
    pub failed: Family<CodeLabels, Counter>,
    pub retried: Counter,
    pub parked: Counter,
    pub cancelled: Counter,
    pub processing_seconds: Histogram,
    pub delay_seconds: Histogram,
    pub stage_seconds: Family<StageLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    pub queue_depth: Family<QueueLabels, Gauge>,
}

impl ProcessorMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            started: Counter::default(),
            completed: Counter::default(),
            failed: Family::default(),
            retried: Counter::default(),
            parked: Counter::default(),
            cancelled: Counter::default(),
            processing_seconds: duration_histogram(),
            delay_seconds: duration_histogram(),
            stage_seconds: Family::new_with_constructor(duration_histogram),
            in_flight: Gauge::default(),
            queue_depth: queue_depth_family(registry),
        };
        registry.register(
            "imagepipe_jobs_started",
            "Job attempts started",
            metrics.started.clone(),
        );
        registry.register(
            "imagepipe_jobs_completed",
            "Jobs completed with a stored result",
            metrics.completed.clone(),
        );
        registry.register(
            "imagepipe_jobs_failed",
            "Jobs failed for good, by error code",
            metrics.failed.clone(),
        );
        registry.register(
            "imagepipe_jobs_retried",
            "Transient failures sent to a retry queue",
            metrics.retried.clone(),
        );
        registry.register(
            "imagepipe_jobs_parked",
            "Jobs given up after their last attempt",
            metrics.parked.clone(),
        );
        registry.register(
            "imagepipe_jobs_cancelled",
            "Jobs skipped or stopped because their task was cancelled",
            metrics.cancelled.clone(),
        );
        registry.register(
            "imagepipe_processing_seconds",
            "Pixel work per job: decode, the chain of steps, encode",
            metrics.processing_seconds.clone(),
        );
        registry.register(
            "imagepipe_simulated_delay_seconds",
            "Simulated inference time per job",
            metrics.delay_seconds.clone(),
        );
        registry.register(
            "imagepipe_job_stage_seconds",
            "Steps of a job besides pixel work and delay: report_processing (PROCESSING event \
             confirmed), fetch (original downloaded), slot_wait (waiting for a core), store \
             (result uploaded), report_completed (COMPLETED event confirmed)",
            metrics.stage_seconds.clone(),
        );
        registry.register(
            "imagepipe_jobs_in_flight",
            "Jobs this processor holds now",
            metrics.in_flight.clone(),
        );
        metrics
    }

    /// Time one step, from `since` to now.
    pub(crate) fn stage(&self, stage: &str, since: std::time::Instant) {
        self.stage_seconds
            .get_or_create(&StageLabels {
                stage: stage.to_owned(),
            })
            .observe(since.elapsed().as_secs_f64());
    }

    pub(crate) fn failed(&self, code: &str) {
        self.failed
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }
}
