//! What happens to one job delivery, from PROCESSING to the ack.
//!
//! The ack comes last, after the result is stored and its COMPLETED event confirmed by the
//! broker: a processor that dies anywhere before that leaves the job unacked, and the broker
//! delivers it again. Keys are deterministic per task and run, so processing the job again
//! overwrites the same object.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use bytes::Bytes;
use imagepipe_shared::{
    amqp::{AmqpError, Publisher},
    image_rules::DecodeLimits,
    keys,
    messages::{self, ErrorCode, JobMessage, ResultInfo, StatusEvent, TaskFailure},
    steps::{ChainRules, Step},
    storage::Storage,
    topology::{EVENT_ROUTING_KEY, Topology},
    trace::TraceContext,
};
use lapin::{message::Delivery, types::FieldTable};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod acks;
mod cancelled;
mod retry;

use acks::{ack, nack};

use crate::{
    cancellations::Cancellations,
    config::ProcessorConfig,
    fatal::Fatal,
    job_analysis, job_chain,
    job_error::JobError,
    kernel,
    kernel_pool::{KernelPool, KernelPoolError},
    metrics::ProcessorMetrics,
    models::{
        Models,
        declared::{InferModel, RemoteInput},
    },
    test_hooks::TestHooks,
};

pub(crate) struct Worker {
    /// Loaded once at start, shared by every job.
    models: Arc<Models>,
    storage: Storage,
    publisher: Publisher,
    topology: Topology,
    /// The default chain's delay (`PROCESSING_DELAY_MS`).
    default_delay_ms: u64,
    max_attempts: u32,
    /// `MAX_ANALYSIS_BYTES`.
    max_analysis_bytes: usize,
    limits: DecodeLimits,
    /// What a job's chain may ask for here, checked again before anything is decoded.
    rules: ChainRules,
    test_hooks: TestHooks,
    cancellations: Arc<Cancellations>,
    metrics: ProcessorMetrics,
    /// The kernel threads (`PROCESSOR_KERNEL_THREADS`, default one per core), one slot each.
    kernel_pool: KernelPool,
    fatal: Arc<Fatal>,
}

impl Worker {
    pub(crate) fn new(
        config: &ProcessorConfig,
        storage: Storage,
        topology: Topology,
        cancellations: Arc<Cancellations>,
        metrics: ProcessorMetrics,
        models: Arc<Models>,
        fatal: Arc<Fatal>,
    ) -> anyhow::Result<Self> {
        let (threads, cpus) = config.kernel_pool().context("PROCESSOR_KERNEL_CPUS")?;
        let kernel_pool = KernelPool::new(threads, config.processor_kernel_priority, cpus)
            .context("cannot start the kernel threads")?;
        Ok(Self {
            models,
            storage,
            publisher: Publisher::new(
                config.amqp.amqp_url.clone(),
                "imagepipe-processor-publisher",
                topology.clone(),
            ),
            topology,
            default_delay_ms: config.processing_delay_ms,
            max_attempts: config.max_attempts,
            max_analysis_bytes: config.max_analysis_bytes,
            limits: config.image_limits.decode_limits(),
            rules: config.chain.rules(config.image_limits.decode_limits()),
            test_hooks: config.test_hooks.clone(),
            cancellations,
            metrics,
            kernel_pool,
            fatal,
        })
    }

    pub(crate) async fn handle(&self, delivery: Delivery) {
        let job: JobMessage = match messages::decode(&delivery.data) {
            Ok(job) => job,
            Err(err) => {
                // Unreadable or from a newer producer: dead-letter it, where the result-writer
                // records why and keeps it.
                tracing::warn!(%err, "unusable job message, dead-lettering it");
                nack(&delivery, false).await;
                return;
            }
        };
        // The job's trace continues; a job published without one starts a new trace.
        let trace = TraceContext::from_amqp(delivery.properties.headers().as_ref())
            .unwrap_or_else(TraceContext::new_root)
            .child();
        let span = tracing::info_span!("job", task_id = %job.task_id, attempt = job.attempt, run = job.run, trace_id = %trace.trace_id_hex());
        self.handle_job(&delivery, job, trace)
            .instrument(span)
            .await;
    }

    async fn handle_job(&self, delivery: &Delivery, job: JobMessage, trace: TraceContext) {
        self.test_hooks.on_job(job.task_id);
        let Some(running) = self.cancellations.start(job.task_id) else {
            tracing::info!("task was cancelled, skipping its job");
            self.metrics.cancelled.inc();
            return self.settle_cancelled(delivery, &job).await;
        };
        self.metrics.started.inc();
        self.metrics.in_flight.inc();
        let processed = self.process(&job, &running.token, trace).await;
        self.metrics.in_flight.dec();
        let outcome = match processed {
            Ok(Some((result_key, result))) => {
                tracing::info!(result_key, "completed");
                self.metrics.completed.inc();
                let step = Instant::now();
                let reported = self
                    .report(
                        StatusEvent::completed(job.task_id, job.attempt, result_key, result)
                            .in_run(job.run),
                        trace,
                    )
                    .await;
                self.metrics.stage("report_completed", step);
                reported
            }
            Ok(None) => {
                tracing::info!("task was cancelled, stopped working on it");
                self.metrics.cancelled.inc();
                return self.settle_cancelled(delivery, &job).await;
            }
            Err(JobError::Permanent(failure)) => {
                self.metrics.failed(failure.code.as_str());
                tracing::warn!(
                    code = failure.code.as_str(),
                    message = failure.message,
                    "failed"
                );
                self.report(
                    StatusEvent::failed(job.task_id, job.attempt, failure).in_run(job.run),
                    trace,
                )
                .await
            }
            Err(JobError::Transient { code, message }) => {
                self.retry_or_park(&job, code, message, trace).await
            }
            Err(JobError::Broker(err)) => Err(err),
            Err(JobError::Stop(reason)) => {
                self.fatal.stop(reason);
                return nack(delivery, true).await;
            }
        };
        match outcome {
            Ok(()) => ack(delivery).await,
            Err(err) => {
                // The report did not reach the broker: hand the job back so it runs again.
                tracing::warn!(%err, "cannot report to the broker, requeueing the job");
                nack(delivery, true).await;
            }
        }
    }

    /// One attempt: the result's key and description (with the analysis, within
    /// `MAX_ANALYSIS_BYTES`) when it is stored, `None` if the task was cancelled before the
    /// result was ready (then nothing is stored).
    async fn process(
        &self,
        job: &JobMessage,
        cancelled: &CancellationToken,
        trace: TraceContext,
    ) -> Result<Option<(String, ResultInfo)>, JobError> {
        let work = async {
            // The PROCESSING event and the download go together: waiting for the broker's
            // confirm before starting the download would add its latency to every job.
            let reported = async {
                let step = Instant::now();
                self.report(
                    StatusEvent::processing(job.task_id, job.attempt).in_run(job.run),
                    trace,
                )
                .await?;
                self.metrics.stage("report_processing", step);
                Ok::<_, JobError>(())
            };
            let fetched = async {
                let step = Instant::now();
                let original = self.storage.uploads.get_file(&job.original_key).await?;
                self.metrics.stage("fetch", step);
                Ok::<_, JobError>(original)
            };
            let ((), original) = tokio::try_join!(reported, fetched)?;

            let steps = job_chain::checked_steps(
                job.steps.as_ref(),
                &original,
                &self.rules,
                &self.models.declared,
                self.default_delay_ms,
            )?;
            let delay = total_delay(&steps);
            let mut processed = self.pixels(original, steps).await?;
            let mut analysis = std::mem::take(&mut processed.analysis);
            for remote in std::mem::take(&mut processed.remote) {
                analysis.push(self.served(remote).await?);
            }
            analysis.sort_by_key(|entry| entry.step);
            // Bounded before anything is stored (and before the delay: the task fails now).
            let analysis = job_analysis::bounded(analysis, self.max_analysis_bytes)
                .map_err(JobError::Permanent)?;
            // Stands in for model inference: a timer, holding no thread (nor kernel slot).
            tokio::time::sleep(delay).await;
            self.metrics.delay_seconds.observe(delay.as_secs_f64());
            Ok::<_, JobError>((processed, analysis))
        };
        // A cancellation stops the work up to here. (Pixel work already on the blocking pool
        // finishes there, but its result is dropped.) From the upload on, the result is kept
        // and reported: the result-writer drops it if the task was cancelled meanwhile.
        let (processed, analysis) = tokio::select! {
            processed = work => processed?,
            () = cancelled.cancelled() => return Ok(None),
        };

        let key = keys::result_key(job.task_id, job.run, processed.extension);
        let result = ResultInfo {
            width: processed.width,
            height: processed.height,
            content_type: processed.content_type.to_owned(),
            size_bytes: processed.bytes.len() as u64,
            analysis,
        };
        let step = Instant::now();
        self.storage
            .processed
            .upload_file(&key, Bytes::from(processed.bytes), processed.content_type)
            .await?;
        self.metrics.stage("store", step);
        self.test_hooks.after_store(job.task_id).await;
        Ok(Some((key, result)))
    }

    /// The pixel work, on the kernel pool, holding one of its slots only while it runs: at
    /// most `PROCESSOR_KERNEL_THREADS` kernels at once (default one per core), since more
    /// would only share the cores and hold more decoded images in memory at once. The other
    /// jobs wait for a slot, not on a CPU, and the simulated delay that follows holds no slot,
    /// so `PROCESSOR_CONCURRENCY` jobs can be in their delay at once.
    async fn pixels(
        &self,
        original: Bytes,
        steps: Vec<Step>,
    ) -> Result<kernel::Processed, JobError> {
        let pool_failure = |err: KernelPoolError| {
            JobError::Permanent(TaskFailure {
                code: ErrorCode::ProcessingFailed,
                message: err.to_string(),
            })
        };
        let waiting = Instant::now();
        let slot = self.kernel_pool.slot().await.map_err(pool_failure)?;
        self.metrics.stage("slot_wait", waiting);
        let limits = self.limits;
        let models = self.models.clone();
        let pixel_work = Instant::now();
        let processed = slot
            .run(move || {
                kernel::run_models(
                    &original,
                    &steps,
                    limits,
                    kernel::Settings::default(),
                    Some(&models.faces),
                    Some(&models.infer),
                )
            })
            .await
            .map_err(pool_failure)??;
        self.metrics
            .processing_seconds
            .observe(pixel_work.elapsed().as_secs_f64());
        Ok(processed)
    }

    /// An `infer` step on a model server: the request awaited here, holding no kernel slot.
    async fn served(
        &self,
        remote: RemoteInput,
    ) -> Result<imagepipe_shared::analysis::AnalysisEntry, JobError> {
        let Some(InferModel::Served(model)) = self.models.infer.get(&remote.model) else {
            return Err(JobError::Permanent(TaskFailure {
                code: ErrorCode::ProcessingFailed,
                message: format!("model `{}` is not on a model server here", remote.model),
            }));
        };
        let step = Instant::now();
        let entry = model.infer(&remote.input, remote.step).await?;
        self.metrics.stage("model_server", step);
        Ok(entry)
    }

    async fn report(&self, event: StatusEvent, trace: TraceContext) -> Result<(), AmqpError> {
        let mut headers = FieldTable::default();
        trace.child().insert_into(&mut headers);
        self.publisher
            .publish(
                &self.topology.events_exchange(),
                EVENT_ROUTING_KEY,
                event.message_id,
                &event,
                headers,
            )
            .await
    }
}

/// The chain's `delay` steps, waited together after its pixel work.
fn total_delay(steps: &[Step]) -> Duration {
    let ms = steps
        .iter()
        .map(|step| match step {
            Step::Delay(delay) => delay.ms,
            _ => 0,
        })
        .fold(0u64, u64::saturating_add);
    Duration::from_millis(ms)
}
