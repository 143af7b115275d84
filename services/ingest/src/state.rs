//! What every request handler can reach.

use std::sync::Arc;

use imagepipe_shared::{amqp::Publisher, storage::Storage};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use imagepipe_shared::webhooks::CallbackPolicy;

use crate::{auth::ApiKeys, config::IngestConfig, metrics::IngestMetrics};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<IngestConfig>,
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub publisher: Arc<Publisher>,
    /// Work waiting, for load shedding.
    pub backlog: Arc<crate::backlog::Backlog>,
    /// Wakes the outbox relay after an upload commits.
    pub relay_wakeup: Arc<Notify>,
    /// Who may call the API (empty: anyone).
    pub api_keys: Arc<ApiKeys>,
    /// Where completion webhooks may go.
    pub callbacks: Arc<CallbackPolicy>,
    pub metrics: IngestMetrics,
    /// The memory upload bodies in flight may hold together.
    pub upload_memory: Arc<crate::upload_memory::UploadMemory>,
    /// The operator's rules, presets and allowed ops for chains of steps.
    pub(crate) chains: Arc<crate::chains::ChainSettings>,
    /// Uploads being stored and recorded, which shutdown waits for.
    pub(crate) finishing: crate::finishing::Finishing,
    /// Requests per client (off unless `RATE_LIMIT_PER_MINUTE` is set).
    pub(crate) rate_limit: crate::rate_limit::RateLimit,
}

#[cfg(test)]
impl AppState {
    /// A state that touches no network: a disconnected database, in-memory buckets, a
    /// publisher that never connected. For unit tests of what needs no backend (the OpenAPI
    /// document, response mapping).
    pub(crate) fn offline() -> Self {
        use clap::Parser;
        let config = IngestConfig::parse_from(["ingest"]);
        let mut registry = prometheus_client::registry::Registry::default();
        let api_keys = Arc::new(ApiKeys::new(&config.api_keys));
        Self {
            metrics: IngestMetrics::register(&mut registry),
            rate_limit: crate::rate_limit::RateLimit::from_config(&config, api_keys.clone())
                .expect("the default rate limit settings are valid"),
            api_keys,
            callbacks: Arc::new(config.webhooks.policy()),
            backlog: Arc::new(crate::backlog::Backlog::new(config.max_backlog)),
            upload_memory: Arc::new(crate::upload_memory::UploadMemory::new(
                config.upload_memory_bytes,
            )),
            publisher: Arc::new(Publisher::new(
                config.amqp.amqp_url.clone(),
                "imagepipe-ingest",
                config.amqp.topology(),
            )),
            db: DatabaseConnection::default(),
            storage: Storage::in_memory(),
            relay_wakeup: Arc::new(Notify::new()),
            finishing: crate::finishing::Finishing::default(),
            chains: Arc::new(
                crate::chains::ChainSettings::from_config(&config)
                    .expect("the default chain settings are valid"),
            ),
            config: Arc::new(config),
        }
    }
}
