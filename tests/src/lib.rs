//! The end-to-end test harness: starts the real services, in-process, against the machine's
//! real PostgreSQL, RabbitMQ and S3 server, isolated per test.
//!
//! Each [`TestSystem`] gets its own database (created and migrated, dropped afterwards), its
//! own exchange/queue prefix (deleted afterwards) and its own buckets, and ingest listens on
//! port 0, so tests run in parallel without seeing each other.
//!
//! Endpoints come from the environment, with the local defaults:
//! `IMAGEPIPE_TEST_DATABASE_URL` (a server URL; the database name is replaced),
//! `IMAGEPIPE_TEST_AMQP_URL`, `IMAGEPIPE_TEST_S3_ENDPOINT`. Set `TEST_LOG=1` to see the
//! services' logs.

mod cleanup;
mod options;
mod probes;
mod process;
mod proxy;
mod reference;
mod system;
mod webhook_receiver;

pub use options::Options;
pub use process::ServiceProcess;
pub use proxy::FaultProxy;
pub use reference::{bt601_reference, mean_abs_diff, upright};
pub use system::{TestSystem, free_port};
pub use webhook_receiver::{Received, WebhookReceiver};

use std::path::PathBuf;

/// A file from `../shared/testdata` (beside the project root).
pub fn testdata(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(relative)
}

/// All files in a `../shared/testdata` folder, sorted.
pub fn testdata_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata(folder))
        .unwrap_or_else(|e| panic!("../shared/testdata/{folder}: {e}"))
        .map(|entry| entry.expect("readable directory entry").path())
        .collect();
    files.sort();
    files
}
