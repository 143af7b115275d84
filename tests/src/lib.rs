//! The end-to-end test harness: starts the real services, in-process, against the machine's
//! real PostgreSQL, RabbitMQ and S3 server, isolated per test.
//!
//! Each [`TestSystem`] gets its own database (created and migrated, dropped afterwards), its
//! own exchange/queue prefix (deleted afterwards) and its own buckets (deleted afterwards);
//! ingest listens on port 0 and the workers' health endpoints on ports from [`claim_port`],
//! so tests run in parallel without seeing each other.
//!
//! The services' settings are their typed configs, built from the defaults without reading
//! the environment (a `DATABASE_URL` where the tests run does not leak in). Endpoints come
//! from the environment, with the local defaults: `IMAGEPIPE_TEST_DATABASE_SERVER` (a server
//! URL, e.g. `postgres://postgres@127.0.0.1:5432`, to which each system adds its own
//! database name), `IMAGEPIPE_TEST_AMQP_URL`, `IMAGEPIPE_TEST_S3_ENDPOINT`. The test files
//! are read from `IMAGEPIPE_SHARED_DIR` ([`testdata`]). Set `TEST_LOG=1` to see the
//! services' logs (filtered by `RUST_LOG`).

mod accounting;
pub mod chaos;
mod cleanup;
mod configs;
mod logs;
pub mod made_models;
pub mod mlserver;
mod models;
mod options;
mod pg_wire;
mod ports;
mod probes;
mod process;
mod proxy;
mod reference;
mod system;
mod testdata;
mod webhook_receiver;

pub use logs::CapturedLogs;
pub use mlserver::{MlServer, ServedModel, TensorMeta};
pub use models::models_config;
pub use options::Options;
pub use pg_wire::{Exchange, PgWireLog};
pub use ports::claim_port;
pub use probes::task_id_of;
pub use process::ServiceProcess;
pub use proxy::FaultProxy;
pub use reference::{bt601_reference, mean_abs_diff, upright};
pub use system::TestSystem;
pub use testdata::{bad_file, good_image, shared_dir, testdata, testdata_files};
pub use webhook_receiver::{Received, WebhookReceiver};

/// What a COMPLETED event says of a small PNG result, for tests that publish events by hand.
pub fn a_png_result() -> imagepipe_shared::messages::ResultInfo {
    imagepipe_shared::messages::ResultInfo {
        width: 4,
        height: 4,
        content_type: "image/png".into(),
        size_bytes: 100,
        analysis: None,
    }
}
