//! What more than one imagepipe service needs, defined once: configuration, message schemas,
//! the RabbitMQ topology and the publish/consume helpers, the storage service over
//! `object_store`, image acceptance rules, object keys, and telemetry.

pub mod amqp;
pub mod analysis;
pub mod config;
pub mod db;
pub mod health;
pub mod image_rules;
pub mod keys;
pub mod messages;
pub mod metrics;
pub mod models;
pub mod periodic;
pub mod retry;
pub mod shutdown;
pub mod steps;
pub mod storage;
pub mod tasks;
pub mod telemetry;
pub mod topology;
pub mod trace;
pub mod webhooks;
