//! A reason to stop the whole processor, found while it runs (a model server whose model is
//! no longer the declared one): every job would be wrong, so it stops consuming, gracefully,
//! and exits with the reason instead of failing tasks one by one.

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

pub(crate) struct Fatal {
    reason: OnceLock<String>,
    /// The processor's own shutdown: firing it stops consuming and every background task.
    shutdown: CancellationToken,
}

impl Fatal {
    pub(crate) fn new(shutdown: CancellationToken) -> Self {
        Self {
            reason: OnceLock::new(),
            shutdown,
        }
    }

    /// Stop the processor with `reason` (the first one is kept).
    pub(crate) fn stop(&self, reason: String) {
        tracing::error!(reason, "stopping the processor");
        let _ = self.reason.set(reason);
        self.shutdown.cancel();
    }

    /// The processor's shutdown, for a wait that must end with it.
    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    pub(crate) fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }
}
