//! Uploads being stored and recorded, carried to their end whatever happens to their request.
//!
//! Once an upload's body has arrived and passed its checks, storing the original and
//! committing its task (or taking the original back when nothing was committed) is one step
//! that must not stop halfway. A request's future dropped between the two (its client went
//! away, or shutdown's grace ran out and the server closed the connection) would leave an
//! original that no task names: an orphan in the bucket. So that step runs in a task of its
//! own, which a dropped request does not cancel, and shutdown waits for those tasks before
//! ingest exits. Each is bounded by the object store's and the database's timeouts.

use std::{future::Future, sync::Arc};

use tokio::{sync::watch, task::JoinError};

/// The steps running to their end, counted so that shutdown can wait for them.
#[derive(Clone, Default)]
pub(crate) struct Finishing {
    running: Arc<watch::Sender<usize>>,
}

impl Finishing {
    /// Run `work` to its end in a task of its own, even if the caller is dropped meanwhile;
    /// its output, or the task's panic.
    pub(crate) async fn run_to_end<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, JoinError> {
        // Counted before the task starts, so that `all_done` cannot miss it.
        let running = Running::new(self.running.clone());
        tokio::spawn(async move {
            let _running = running;
            work.await
        })
        .await
    }

    /// Wait until no step is running.
    pub(crate) async fn all_done(&self) {
        let mut running = self.running.subscribe();
        // The sender lives in `self`: waiting cannot fail.
        let _ = running.wait_for(|n| *n == 0).await;
    }
}

/// One step counted while it lives, whether it ends or its task is dropped.
struct Running(Arc<watch::Sender<usize>>);

impl Running {
    fn new(count: Arc<watch::Sender<usize>>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_step_whose_caller_is_dropped_still_ends_and_is_waited_for() {
        let finishing = Finishing::default();
        let (done, mut ended) = tokio::sync::mpsc::channel(1);
        let caller = tokio::spawn({
            let finishing = finishing.clone();
            async move {
                finishing
                    .run_to_end(async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        done.send(()).await.unwrap();
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        caller.abort();
        finishing.all_done().await;
        assert!(
            ended.try_recv().is_ok(),
            "the step ended before all_done returned"
        );
    }

    #[tokio::test]
    async fn all_done_returns_at_once_when_nothing_runs() {
        let finishing = Finishing::default();
        assert_eq!(finishing.run_to_end(async { 7 }).await.unwrap(), 7);
        tokio::time::timeout(Duration::from_secs(1), finishing.all_done())
            .await
            .expect("nothing is running");
    }
}
