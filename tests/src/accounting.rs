//! How a test that disturbed the system checks that nothing was lost: every task ended once,
//! its result is stored, no job is left behind.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::TestSystem;

impl TestSystem {
    /// Wait for every task to end, then check: each COMPLETED task's result is in the bucket,
    /// each FAILED one names its reason, the work and retry queues are empty and the outbox
    /// is drained. Returns the tasks as they ended.
    pub async fn account(&self, tasks: &[Uuid], deadline: Duration) -> Vec<Value> {
        let mut finals = Vec::new();
        for id in tasks {
            let task = self.wait_terminal(*id, deadline).await;
            if task["status"] == "COMPLETED" {
                let key = task["result"]["key"].as_str().expect("a result key");
                assert!(
                    self.storage
                        .processed
                        .exists(key)
                        .await
                        .expect("S3 server reachable"),
                    "result of {id} stored"
                );
            } else {
                assert!(
                    task["error"]["code"].is_string(),
                    "FAILED with a reason: {task}"
                );
            }
            finals.push(task);
        }
        let mut queues = vec![self.topology.jobs_queue()];
        queues.extend(
            self.topology
                .retry_delays()
                .iter()
                .map(|d| self.topology.retry_queue(*d)),
        );
        for queue in queues {
            assert_eq!(self.queue_depth(&queue).await, 0, "{queue} is empty");
        }
        assert_eq!(self.outbox_len().await, 0, "outbox drained");
        finals
    }

    /// [`account`](Self::account), and every task COMPLETED.
    pub async fn all_completed(&self, tasks: &[Uuid], deadline: Duration) {
        for task in self.account(tasks, deadline).await {
            assert_eq!(task["status"], "COMPLETED", "{task}");
        }
    }
}
