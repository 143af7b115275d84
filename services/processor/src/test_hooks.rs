//! Fault hooks for the end-to-end tests, compiled in only with the `test-hooks` feature. A
//! build without it has neither the setting nor the code, so no configuration can make a
//! production processor crash on purpose; `scripts/check-test-hooks.sh` proves the production
//! builds lack the feature.

use clap::Args;

/// The processor's `--version`, which names the hooks when they are compiled in, so a test
/// (or a person) can tell which build a binary is.
#[cfg(feature = "test-hooks")]
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (test hooks: IMAGEPIPE_TEST_CRASH_ON_TASK, IMAGEPIPE_TEST_HANG_AFTER_STORE, \
     IMAGEPIPE_TEST_CRASH_AFTER_STORE)"
);
#[cfg(not(feature = "test-hooks"))]
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The hooks' settings.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Args)]
pub struct TestHooks {
    /// Test-only fault hook: abort the process whenever a job for this task arrives, as a job
    /// that crashes its processor every time would.
    #[arg(long, env = "IMAGEPIPE_TEST_CRASH_ON_TASK", hide = true)]
    pub crash_on_task: Option<uuid::Uuid>,
    /// Test-only fault hook: once this task's result is stored, never report it. The job
    /// stays unacknowledged, its result in the bucket, until the process is killed: the
    /// moment a processor that dies or loses the broker between storing and reporting leaves.
    #[arg(long, env = "IMAGEPIPE_TEST_HANG_AFTER_STORE", hide = true)]
    pub hang_after_store: Option<uuid::Uuid>,
    /// Test-only fault hook: abort the process whenever this task's result has just been
    /// stored, before it is reported, as a processor killed at that moment every time would.
    #[arg(long, env = "IMAGEPIPE_TEST_CRASH_AFTER_STORE", hide = true)]
    pub crash_after_store: Option<uuid::Uuid>,
}

/// Without the feature: no settings, and [`TestHooks::on_job`] does nothing.
#[cfg(not(feature = "test-hooks"))]
#[derive(Debug, Clone, Args)]
pub struct TestHooks {}

impl TestHooks {
    /// Called first thing for every job.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn on_job(&self, task_id: uuid::Uuid) {
        if self.crash_on_task == Some(task_id) {
            tracing::error!("IMAGEPIPE_TEST_CRASH_ON_TASK matches: aborting the process");
            std::process::abort();
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    pub(crate) fn on_job(&self, _task_id: uuid::Uuid) {}

    /// Called after a job's result is stored, before it is reported.
    #[cfg(feature = "test-hooks")]
    pub(crate) async fn after_store(&self, task_id: uuid::Uuid) {
        if self.crash_after_store == Some(task_id) {
            tracing::error!("IMAGEPIPE_TEST_CRASH_AFTER_STORE matches: aborting the process");
            std::process::abort();
        }
        if self.hang_after_store == Some(task_id) {
            tracing::error!("IMAGEPIPE_TEST_HANG_AFTER_STORE matches: never reporting");
            std::future::pending::<()>().await;
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    pub(crate) async fn after_store(&self, _task_id: uuid::Uuid) {}
}
