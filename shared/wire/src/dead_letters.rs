//! What a dead letter comes to, from its body and headers alone: apply it after all (a
//! status event), fail its task with the reason (a job), or only park it (nothing names a
//! task). The result-writer acts on the verdict (services/result-writer/src/dead_letters.rs);
//! this is the part that reads untrusted bytes, fuzzed by `fuzz/fuzz_targets/messages.rs`.

use amq_protocol_types::{AMQPValue, FieldTable};
use uuid::Uuid;

use crate::messages::{self, ErrorCode, JobMessage, StatusEvent, TaskFailure, headers};

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

/// What a dead letter with these headers and this body comes to, whatever the bytes.
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
