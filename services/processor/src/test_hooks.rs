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
    " (test hooks: IMAGEPIPE_TEST_CRASH_ON_TASK)"
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
}
