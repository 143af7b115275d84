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
}
