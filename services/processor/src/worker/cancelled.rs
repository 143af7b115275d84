//! A job whose task was cancelled, skipped or stopped here: its run's result object goes too.
//! An earlier delivery of the same job may have stored it and then died, or lost the broker,
//! before reporting it; this delivery reports nothing, so no COMPLETED event will come for the
//! result-writer to delete that result by.

use imagepipe_shared::{keys, messages::JobMessage, retry};
use lapin::message::Delivery;

use super::{
    Worker,
    acks::{ack, nack},
};

impl Worker {
    /// Settle the job of a cancelled task: delete every key its run could have stored its
    /// result at, then ack. The object store being away holds the delivery; shutdown hands it
    /// back, to be skipped and cleaned again on its next delivery.
    pub(super) async fn settle_cancelled(&self, delivery: &Delivery, job: &JobMessage) {
        if self.drop_cancelled_result(job).await {
            ack(delivery).await;
        } else {
            nack(delivery, true).await;
        }
    }

    /// Safe whatever else runs: a cancelled task stays CANCELLED, so no run of it can ever
    /// hold a result. `false` if shutdown came first.
    async fn drop_cancelled_result(&self, job: &JobMessage) -> bool {
        let orphans = keys::result_keys(job.task_id, job.run);
        let deleted = retry::wait_for(
            "the object store to delete a cancelled task's result",
            self.fatal.shutdown(),
            |_| false,
            || self.storage.processed.delete_keys(&orphans),
        )
        .await;
        deleted.is_ok_and(|done| done.is_some())
    }
}
