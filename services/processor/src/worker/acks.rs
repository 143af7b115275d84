//! The last word on a delivery. Neither failing loses the job: the broker delivers an
//! unacknowledged job again when the channel closes.

use lapin::{
    message::Delivery,
    options::{BasicAckOptions, BasicNackOptions},
};

pub(super) async fn ack(delivery: &Delivery) {
    if let Err(err) = delivery.ack(BasicAckOptions::default()).await {
        tracing::warn!(%err, "ack failed; the broker will deliver the job again");
    }
}

pub(super) async fn nack(delivery: &Delivery, requeue: bool) {
    let options = BasicNackOptions {
        requeue,
        multiple: false,
    };
    if let Err(err) = delivery.nack(options).await {
        tracing::warn!(%err, "nack failed; the broker will deliver the job again");
    }
}
