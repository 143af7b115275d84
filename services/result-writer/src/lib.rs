//! The result-writer: the writer of task status after creation (besides ingest's cancel and
//! retry). It applies status events, fails the tasks of dead-lettered jobs (then parks the
//! jobs), reaps tasks left unfinished past their deadline, delivers completion webhooks, and
//! deletes tasks past their retention age.

pub mod config;
pub mod dead_letters;
mod handlers;
pub mod metrics;
pub mod reaper;
pub mod retention;
pub mod transitions;
pub mod webhooks;

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use anyhow::Context;
use imagepipe_shared::webhooks::{Resolver, SystemResolver};
use imagepipe_shared::{amqp, db, health, storage::Storage};
use sea_orm::ConnectionTrait;
use tokio_util::sync::CancellationToken;

pub use config::ResultWriterConfig;
use handlers::Handlers;

/// Run until `shutdown` fires.
pub async fn run(config: ResultWriterConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with_resolver(config, Arc::new(SystemResolver), shutdown).await
}

/// [`run`], webhook hosts looked up by `resolver` (tests give names the addresses they need;
/// the machine's hosts file is never edited).
pub async fn run_with_resolver(
    config: ResultWriterConfig,
    resolver: Arc<dyn Resolver>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(db) = db::connect_with_retry(&config.database, &shutdown)
        .await
        .context("cannot connect to the database")?
    else {
        return Ok(());
    };
    // Only to delete objects (late results of cancelled tasks, expired tasks): opened without
    // touching the network, so an absent object store delays deletions, never status updates.
    let storage = Storage::open(&config.storage).context("invalid object store settings")?;
    let topology = config.amqp.topology();
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = metrics::WriterMetrics::register(&mut registry);
    let handlers = Arc::new(Handlers::new(
        db.clone(),
        storage.clone(),
        metrics.clone(),
        &config,
        topology.clone(),
        shutdown.clone(),
    ));

    // Ready while both consumers run and the database answers.
    let events_consuming = Arc::new(AtomicBool::new(false));
    let dead_consuming = Arc::new(AtomicBool::new(false));
    let probe_db = db.clone();
    let checks = vec![
        health::Check::flag("broker_events", events_consuming.clone()),
        health::Check::flag("broker_dead_letters", dead_consuming.clone()),
        health::Check::new("database", move || {
            let db = probe_db.clone();
            async move { db.execute_unprepared("SELECT 1").await.is_ok() }
        }),
    ];
    let health = tokio::spawn(health::serve(
        config.health.health_bind.clone(),
        checks,
        Arc::new(registry),
        shutdown.clone(),
    ));
    let depths = tokio::spawn(imagepipe_shared::metrics::watch_queue_depths(
        amqp::QueueProbe::new(
            config.amqp.amqp_url.clone(),
            "imagepipe-result-writer-metrics",
            topology.clone(),
        ),
        vec![
            topology.events_queue(),
            topology.dead_letter_queue(),
            topology.parked_queue(),
        ],
        metrics.queue_depth.clone(),
        Duration::from_secs(5),
        shutdown.clone(),
    ));
    let reaper = tokio::spawn(reaper::run(
        db.clone(),
        metrics.clone(),
        config.task_timeout(),
        config.reaper_interval(),
        shutdown.clone(),
    ));
    let dispatcher = match webhooks::Dispatcher::new(
        db.clone(),
        &config,
        resolver,
        metrics.clone(),
    )? {
        Some(dispatcher) => Some(tokio::spawn(dispatcher.run(shutdown.clone()))),
        None => {
            if config.webhooks.policy().is_enabled() {
                tracing::warn!(
                    "WEBHOOK_ALLOWED_HOSTS is set but WEBHOOK_SECRET is not: webhooks wait unsent until it is"
                );
            }
            None
        }
    };
    let retention = config.retention().map(|age| {
        tokio::spawn(retention::run(
            db,
            storage,
            metrics.clone(),
            age,
            Duration::from_secs(config.retention_interval_secs.max(1)),
            shutdown.clone(),
        ))
    });
    let (events_queue, dead_letter_queue) = (topology.events_queue(), topology.dead_letter_queue());
    let events = {
        let handlers = handlers.clone();
        let spec = amqp::ConsumerSpec {
            url: &config.amqp.amqp_url,
            name: "imagepipe-result-writer-events",
            topology: &topology,
            queue: &events_queue,
            prefetch: config.prefetch,
            grace: config.shutdown.grace(),
            consuming: &events_consuming,
        };
        amqp::consume(spec, shutdown.clone(), move |delivery| {
            let handlers = handlers.clone();
            async move { handlers.status_event(delivery).await }
        })
    };
    let dead_spec = amqp::ConsumerSpec {
        url: &config.amqp.amqp_url,
        name: "imagepipe-result-writer-dead-letters",
        topology: &topology,
        queue: &dead_letter_queue,
        prefetch: config.prefetch,
        grace: config.shutdown.grace(),
        consuming: &dead_consuming,
    };
    let dead = amqp::consume(dead_spec, shutdown.clone(), move |delivery| {
        let handlers = handlers.clone();
        async move { handlers.dead_letter(delivery).await }
    });
    tokio::join!(events, dead);
    let _ = reaper.await;
    let _ = depths.await;
    for job in [dispatcher, retention].into_iter().flatten() {
        let _ = job.await;
    }
    let _ = health.await;
    tracing::info!("result-writer stopped");
    Ok(())
}
