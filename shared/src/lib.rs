//! What more than one imagepipe service needs, defined once: configuration, message schemas,
//! the RabbitMQ topology and the publish/consume helpers, the storage service over
//! `object_store`, image acceptance rules, object keys, and telemetry.

pub mod amqp;
pub mod config;
pub mod db;
pub mod health;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod periodic;
pub mod retry;
pub mod shutdown;
pub mod storage;
pub mod tasks;
pub mod telemetry;
pub mod topology;
pub mod trace;
pub mod webhooks;

// Defined in imagepipe-wire (pure code, fuzzed on its own), used everywhere by these names.
pub use imagepipe_wire::{analysis, image_rules, messages, steps};
