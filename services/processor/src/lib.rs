//! The processor: consumes jobs, downloads the original, runs the job's chain of steps on it
//! off the async runtime ([`kernel::run`]; the default chain is grayscale), waits the chain's
//! simulated inference delay, uploads the result and reports status events. It never touches
//! PostgreSQL.

mod cancellations;
pub mod config;
mod fatal;
mod job_analysis;
mod job_chain;
mod job_error;
pub mod kernel_pool;
mod metrics;
pub mod test_hooks;
mod worker;

/// The pixel work and the models, a crate of their own (services/processor/kernel): the
/// one part of the processor the test builds optimize.
pub use imagepipe_kernel::{self as kernel, models};

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use anyhow::Context;
use imagepipe_shared::{
    amqp, health,
    messages::{self, CancelMessage},
    storage::Storage,
};
use tokio_util::sync::CancellationToken;

pub use config::ProcessorConfig;
use fatal::Fatal;
use models::oip::CallError;
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
    check_model_servers(&models).await?;
    let fatal = Arc::new(Fatal::new(shutdown.clone()));
    let watchers: Vec<_> = models
        .infer
        .served()
        .map(|served| {
            let (served, shutdown, fatal) = (served.clone(), shutdown.clone(), fatal.clone());
            tokio::spawn(async move {
                if let Err(reason) = served.watch(shutdown).await {
                    fatal.stop(reason);
                }
            })
        })
        .collect();
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
    let mut checks = vec![
        health::Check::flag("broker", consuming.clone()),
        health::Check::new("object_store", move || {
            let storage = probe_storage.clone();
            async move { storage.ping().await.is_ok() }
        }),
    ];
    // Only the jobs naming it need a model server: `degraded`, never unready, while it is away.
    checks.extend(models.infer.served().map(|served| {
        let served = served.clone();
        health::Check::optional(format!("model_server:{}", served.name()), move || {
            let served = served.clone();
            async move { served.probe().await }
        })
    }));
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
        fatal.clone(),
    )?);
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
    for watcher in watchers {
        let _ = watcher.await;
    }
    if let Some(reason) = fatal.reason() {
        anyhow::bail!("{reason}");
    }
    tracing::info!("processor stopped");
    Ok(())
}

/// How long the start waits for the model servers' first answers: one that is slower is
/// waited for in the background while the processor works.
const MODEL_SERVERS_AT_START: Duration = Duration::from_secs(10);

/// Each model server's metadata, read once before any job: a model that contradicts its
/// declaration stops the start, naming it. A server that does not answer yet does not: its
/// watcher waits for it, and the jobs naming it retry meanwhile.
async fn check_model_servers(models: &models::Models) -> anyhow::Result<()> {
    let checks = models.infer.served().map(|served| async move {
        let checked = tokio::time::timeout(MODEL_SERVERS_AT_START, served.verify()).await;
        match checked {
            Ok(Ok(())) => Ok(()),
            Ok(Err(CallError::Contradicts(reason))) => Err(anyhow::anyhow!(reason)),
            Ok(Err(err)) => {
                tracing::warn!(model = served.name(), %err, "model server not reachable yet, waiting for it in the background");
                Ok(())
            }
            Err(_) => {
                tracing::warn!(model = served.name(), "model server did not answer within {MODEL_SERVERS_AT_START:?}, waiting for it in the background");
                Ok(())
            }
        }
    });
    futures::future::try_join_all(checks).await.map(|_| ())
}
