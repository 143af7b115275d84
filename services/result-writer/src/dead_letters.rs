//! The end of every road: a job in the dead-letter queue fails its task with the reason, and
//! is then moved to the parked queue, kept for inspection and re-drive.
//!
//! A job gets here because the processor gave up after its last attempt (the reason is in our
//! headers), because the broker's delivery limit was hit (a job that crashes its consumer
//! every time), or because it could not be read at all.

use chrono::Utc;
use imagepipe_shared::messages::headers;
use imagepipe_wire::dead_letters::judge_message;
use lapin::{
    message::Delivery,
    types::{AMQPValue, FieldTable},
};

pub use imagepipe_wire::dead_letters::Verdict;

/// Decide from the body and headers alone.
pub fn judge(delivery: &Delivery) -> Verdict {
    let amqp_headers = delivery.properties.headers().clone().unwrap_or_default();
    judge_message(&amqp_headers, &delivery.data)
}

/// Headers for the parked copy: the original ones plus the verdict, so whoever inspects or
/// re-drives it sees why it is there.
pub fn parked_headers(delivery: &Delivery, reason: &str) -> FieldTable {
    let mut table = delivery.properties.headers().clone().unwrap_or_default();
    table.insert(
        headers::PARKED_REASON.into(),
        AMQPValue::LongString(reason.into()),
    );
    table.insert(
        headers::PARKED_AT.into(),
        AMQPValue::LongString(Utc::now().to_rfc3339().into()),
    );
    table
}
