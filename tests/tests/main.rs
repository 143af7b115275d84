//! The end-to-end suite, one test binary: a module per subject, each test starting its own
//! isolated system (`imagepipe_tests::TestSystem`), so they run in parallel.
//!
//! The tests under [`serial`] cut dependencies or kill services: they run apart, one at a
//! time, in a second pass. They run the services' binaries too (`cargo build --bins` first),
//! the processor's with its test hooks. As `scripts/test.sh` does:
//!
//! ```text
//! cargo build --workspace --features imagepipe-processor/test-hooks --bins
//! cargo test --workspace --features imagepipe-processor/test-hooks -- --skip serial::
//! cargo test --workspace --features imagepipe-processor/test-hooks --test e2e \
//!     -- serial:: --test-threads=1
//! ```

// A test that cannot go on should stop right there.
#![allow(clippy::unwrap_used)]

mod access;
mod analysis;
mod api;
mod api_keys;
mod browser;
mod cancellation;
mod cli;
mod clients;
mod concurrency;
mod contract;
mod kernel_priority;
mod models;
mod observability;
mod openapi;
mod pipeline;
mod rate_limits;
mod readiness;
mod serial;
mod settings;
mod state_machine;
mod steps;
mod task_api;
mod topology_upgrade;
mod transitions;
mod upload_statements;
mod webhook_addresses;
mod webhooks;
