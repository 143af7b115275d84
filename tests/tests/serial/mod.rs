//! Tests that cut a dependency (through a test's `FaultProxy`) or kill and stop services run
//! as processes. They are heavy and timing-sensitive on a small machine, so they run apart
//! from the parallel suite and one at a time: `scripts/test.sh` runs them in a second pass
//! with `--test-threads=1`, and each also takes [`one_at_a_time`], so that a run of the whole
//! binary (`cargo test --test e2e`) still never runs two of them at once.

use tokio::sync::{Mutex, MutexGuard};

mod ambiguous_commit;
mod broker_black_hole;
mod chaos;
mod crashes;
mod database_black_hole;
mod database_timeouts;
mod faults;
mod ingest_shutdown;
mod limits;
mod model_server;
mod openapi;
mod orphan_results;
mod task_api;
mod webhooks;

/// Held for the whole of a serial test.
pub(crate) async fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::const_new(());
    SERIAL.lock().await
}
