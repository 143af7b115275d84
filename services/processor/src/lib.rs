//! The processor: consumes jobs, downloads the original, runs the job's chain of steps on it
//! off the async runtime ([`kernel::run`]; the default chain is grayscale), waits the chain's
//! simulated inference delay, uploads the result and reports status events. It never touches
//! PostgreSQL.

mod cancellations;
pub mod config;
mod job_analysis;
mod job_chain;
mod job_error;
pub mod kernel;
mod metrics;
pub mod models;
pub mod test_hooks;
mod worker;

use std::sync::{Arc, atomic::AtomicBool};

use anyhow::Context;
use imagepipe_shared::{
    amqp, health,
    messages::{self, CancelMessage},
    storage::Storage,
};
use tokio_util::sync::CancellationToken;

pub use config::ProcessorConfig;
use worker::Worker;

/// Run until `shutdown` fires: connect to the object store (retrying until it answers), then
/// consume jobs, reconnecting to the broker whenever needed.
pub async fn run(config: ProcessorConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    // Before anything connects: a model that is missing or not the pinned one stops the start
    // with a message naming the file, never a job halfway.
    let models_config = config.models.clone();
    let declared = config.declared.load()?;
    let models =
        tokio::task::spawn_blocking(move || models::Models::load_with(&models_config, declared))
            .await
            .context("loading the models crashed")?
            .context("cannot load the models")?;
    tracing::info!(
        face_model = %config.models.face_model_path.display(),
        declared = models.declared.iter().count(),
        "models loaded"
    );
    let Some(storage) = Storage::connect_with_retry(&config.storage, &shutdown)
        .await
        .context("cannot use the object store")?
    else {
        return Ok(());
    };
    let topology = config.amqp.topology();
    // Ready while consuming and while the object store answers.
    let consuming = Arc::new(AtomicBool::new(false));
    let probe_storage = storage.clone();
    let checks = vec![
        health::Check::flag("broker", consuming.clone()),
        health::Check::new("object_store", move || {
            let storage = probe_storage.clone();
            async move { storage.ping().await.is_ok() }
        }),
    ];
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = metrics::ProcessorMetrics::register(&mut registry);
    let health = tokio::spawn(health::serve(
        config.health.health_bind.clone(),
        checks,
        Arc::new(registry),
        shutdown.clone(),
    ));
    let depths = tokio::spawn(imagepipe_shared::metrics::watch_queue_depths(
        amqp::QueueProbe::new(
            config.amqp.amqp_url.clone(),
            "imagepipe-processor-metrics",
            topology.clone(),
        ),
        vec![topology.jobs_queue()],
        metrics.queue_depth.clone(),
        std::time::Duration::from_secs(5),
        shutdown.clone(),
    ));
    let cancellations = Arc::new(cancellations::Cancellations::default());
    let listener = {
        let (url, topology, cancellations) = (
            config.amqp.amqp_url.clone(),
            topology.clone(),
            cancellations.clone(),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let exchange = topology.cancellations_exchange();
            amqp::subscribe(
                &url,
                "imagepipe-processor-cancellations",
                &topology,
                &exchange,
                shutdown,
                |delivery| match messages::decode::<CancelMessage>(&delivery.data) {
                    Ok(notice) => {
                        tracing::info!(task_id = %notice.task_id, "cancellation heard");
                        cancellations.cancel(notice.task_id);
                    }
                    Err(err) => tracing::warn!(%err, "unusable cancellation notice, ignored"),
                },
            )
            .await;
        })
    };
    let worker = Arc::new(Worker::new(
        &config,
        storage,
        topology.clone(),
        cancellations,
        metrics,
        Arc::new(models),
    ));
    let spec = amqp::ConsumerSpec {
        url: &config.amqp.amqp_url,
        name: "imagepipe-processor",
        topology: &topology,
        queue: &topology.jobs_queue(),
        prefetch: config.processor_concurrency,
        grace: config.shutdown.grace(),
        consuming: &consuming,
    };
    amqp::consume(spec, shutdown, move |delivery| {
        let worker = worker.clone();
        async move { worker.handle(delivery).await }
    })
    .await;
    let _ = listener.await;
    let _ = depths.await;
    let _ = health.await;
    tracing::info!("processor stopped");
    Ok(())
}
