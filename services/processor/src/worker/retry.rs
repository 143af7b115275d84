//! A job that failed for a reason that may pass: its next attempt through the retry queue of
//! its delay, or, after the last, the dead-letter exchange with the reason in its headers.

use imagepipe_shared::{
    amqp::AmqpError,
    messages::{ErrorCode, JobMessage, headers},
    topology::Topology,
    trace::TraceContext,
};
use lapin::types::{AMQPValue, FieldTable, LongString};

use super::Worker;

impl Worker {
    /// A transient failure: send the job through the retry queue of its delay, or park it
    /// (dead-letter exchange, with the reason in its headers) after the last attempt.
    pub(super) async fn retry_or_park(
        &self,
        job: &JobMessage,
        code: ErrorCode,
        message: String,
        trace: TraceContext,
    ) -> Result<(), AmqpError> {
        // The next attempt, or the parked job, stays in the same trace.
        let mut table = FieldTable::default();
        trace.insert_into(&mut table);
        if job.attempt < self.max_attempts {
            let delay = self.topology.retry_delay(job.attempt);
            tracing::warn!(
                code = code.as_str(),
                message,
                ?delay,
                "transient failure, retrying"
            );
            self.metrics.retried.inc();
            let next = JobMessage {
                attempt: job.attempt + 1,
                ..job.clone()
            };
            return self
                .publisher
                .publish(
                    &self.topology.retry_exchange(),
                    &Topology::retry_routing_key(delay),
                    next.message_id,
                    &next,
                    table,
                )
                .await;
        }
        let reason = format!(
            "gave up after {} attempts; last error: {message}",
            job.attempt
        );
        tracing::error!(
            code = code.as_str(),
            reason,
            "retries exhausted, parking the job"
        );
        self.metrics.parked.inc();
        self.metrics.failed(code.as_str());
        table.insert(
            headers::FAILURE_CODE.into(),
            AMQPValue::LongString(LongString::from(code.as_str())),
        );
        table.insert(
            headers::FAILURE_MESSAGE.into(),
            AMQPValue::LongString(LongString::from(reason)),
        );
        self.publisher
            .publish(
                &self.topology.dead_letter_exchange(),
                "",
                job.message_id,
                job,
                table,
            )
            .await
    }
}
