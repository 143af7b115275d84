//! The end-to-end suite, one test binary: a module per subject, each test starting its own
//! isolated system (`imagepipe_tests::TestSystem`), so they run in parallel.
//!
//! The tests under [`serial`] cut dependencies or kill services: they run apart, one at a
//! time, in a second pass (`scripts/test.sh`):
//!
//! ```text
//! cargo test --workspace -- --skip serial::
//! cargo test -p imagepipe-tests --test e2e -- serial:: --test-threads=1
//! ```

// A test that cannot go on should stop right there.
#![allow(clippy::unwrap_used)]

mod access;
mod api;
mod browser;
mod concurrency;
mod observability;
mod openapi;
mod pipeline;
mod serial;
mod settings;
mod state_machine;
mod task_api;
mod transitions;
mod webhooks;
