//! ingest: the HTTP API of imagepipe. Validates uploads, stores originals, records tasks with
//! their jobs (transactional outbox), relays jobs to RabbitMQ, and serves task status, the
//! OpenAPI document and Swagger UI.

mod allow;
mod api;
pub mod app;
mod auth;
mod backlog;
mod chains;
mod client_address;
pub mod config;
mod db_deadline;
mod error;
mod finishing;
mod idempotency;
mod metrics;
mod outbox;
mod parse_error;
mod rate_limit;
mod state;
mod tasks_repo;
mod upload;
mod upload_memory;
mod web;

pub use app::Application;
pub use config::IngestConfig;
pub use upload_memory::MEMORY_SPOOL_MAX;
