//! The end of every road: a job in the dead-letter queue fails its task with the reason, and
//! is then moved to the parked queue, kept for inspection and re-drive.
//!
//! A job gets here because the processor gave up after its last attempt (the reason is in our
//! headers), because the broker's delivery limit was hit (a job that crashes its consumer
//! every time), or because it could not be read at all.

use chrono::Utc;
use imagepipe_shared::messages::{self, ErrorCode, JobMessage, StatusEvent, TaskFailure, headers};
use lapin::{
    message::Delivery,
    types::{AMQPValue, FieldTable},
};
use uuid::Uuid;

/// What to do with one dead letter.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// A status event that could not be applied in time: apply it after all.
    Event(StatusEvent),
    /// Fail this task with this reason: in its run `run`, or whatever run it is in when the
    /// message is too broken to say.
    Fail {
        task_id: Uuid,
        run: Option<u32>,
        failure: TaskFailure,
    },
    /// Nothing to fail (no task id can be read): only park it.
    ParkOnly { reason: String },
}

/// Decide from the body and headers alone.
pub fn judge(delivery: &Delivery) -> Verdict {
    let amqp_headers = delivery.properties.headers().clone().unwrap_or_default();
    judge_message(&amqp_headers, &delivery.data)
}

/// [`judge`] on a message's parts: what any bytes and headers come to (a fuzz target).
pub fn judge_message(amqp_headers: &FieldTable, body: &[u8]) -> Verdict {
    if let Ok(event) = messages::decode::<StatusEvent>(body) {
        return Verdict::Event(event);
    }
    let failure = reason(amqp_headers, body);
    match messages::decode::<JobMessage>(body) {
        Ok(job) => Verdict::Fail {
            task_id: job.task_id,
            run: Some(job.run),
            failure,
        },
        // Unreadable as a job, but maybe it still names its task.
        Err(_) => match loose_task_id(body) {
            Some(task_id) => Verdict::Fail {
                task_id,
                run: None,
                failure,
            },
            None => Verdict::ParkOnly {
                reason: failure.message,
            },
        },
    }
}

fn reason(amqp_headers: &FieldTable, body: &[u8]) -> TaskFailure {
    let text = |name: &str| match amqp_headers.inner().get(name) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
        _ => None,
    };
    if let Some(code) = text(headers::FAILURE_CODE).and_then(|c| ErrorCode::parse(&c)) {
        return TaskFailure {
            code,
            message: text(headers::FAILURE_MESSAGE).unwrap_or_else(|| "no reason given".into()),
        };
    }
    if let Err(err) = messages::decode::<JobMessage>(body) {
        return TaskFailure {
            code: ErrorCode::UnreadableMessage,
            message: format!("the job message could not be read: {err}"),
        };
    }
    match text("x-first-death-reason").as_deref() {
        Some("delivery_limit") => TaskFailure {
            code: ErrorCode::DeliveryLimitExceeded,
            message: "the job was delivered the maximum number of times without finishing \
                      (its processor crashed or stalled each time)"
                .into(),
        },
        Some("expired") => TaskFailure {
            code: ErrorCode::TimedOut,
            message: "the job expired in its queue".into(),
        },
        other => TaskFailure {
            code: ErrorCode::ProcessingFailed,
            message: format!(
                "the job was dead-lettered (reason: {})",
                other.unwrap_or("rejected")
            ),
        },
    }
}

fn loose_task_id(body: &[u8]) -> Option<Uuid> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("task_id")?.as_str()?.parse().ok()
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
