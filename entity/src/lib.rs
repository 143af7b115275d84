//! SeaORM entities of the imagepipe database. The schema itself is owned by `migration/`.

pub mod outbox;
pub mod task;
