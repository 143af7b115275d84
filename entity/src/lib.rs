//! SeaORM entities of the imagepipe database, one per table. The schema itself is owned by
//! `migration/`.

pub mod idempotency_key;
pub mod outbox;
pub mod task;
pub mod task_tombstone;
pub mod webhook_delivery;
