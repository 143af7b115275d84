//! Every retry policy of imagepipe, named once. Whoever waits for something to come back uses
//! one of these; nothing else spells a backoff curve.
//!
//! # Waiting for a dependency
//! [`dependency`]: from 100 ms, doubling with jitter, to at most 5 s between tries, for ever.
//! Used for
//! - start-up: every service waits this way for what it needs (ingest: database and object
//!   store; processor: object store; result-writer: database) until it answers or the service
//!   is told to stop ([`wait_for`]). Errors that waiting cannot fix — invalid settings, a
//!   missing bucket the service may not create — stop the service at once with their message.
//!   The broker is never waited for at start: each service connects to it in the background
//!   and reconnects whenever the connection drops, with the same curve.
//! - a database write of the result-writer that failed: it holds the delivery and tries again
//!   (requeueing would count against the queue's delivery limit and could park a good event).
//! - deleting a result object nothing will reference (the result-writer's orphaned results,
//!   the processor's cancelled job's result): the delivery is held the same way, since a
//!   delete given up on would leave the object for good.
//! - the outbox relay after a failed pass ([`relay_pause`]): the jobs wait in PostgreSQL.
//! - a model server (`runtime = "oip"`): the processor waits for its metadata in the
//!   background, at start and after any request failed to reach it, while readiness shows it
//!   `degraded`; its jobs take the path below meanwhile.
//!
//! # The path of a job that fails
//! 1. The object store's client retries a failed request itself, quickly, twice
//!    ([`object_store_client`]): it smooths over a dropped keep-alive connection.
//! 2. A job whose attempt fails transiently (object store unreachable or timing out; a model
//!    server unreachable, timing out, busy with 408 or 429, or failing with 5xx) is
//!    published again, with `attempt + 1` in its body, to the retry exchange with the routing
//!    key of its delay (`RETRY_DELAYS_MS`: the first retry waits the first delay, and so on;
//!    the last repeats; `Topology::retry_delay`). Each delay is a classic queue whose messages
//!    expire after it and dead-letter back to the jobs exchange. The attempt count travels in
//!    the body because newer RabbitMQ versions ignore a client-set `x-death`.
//! 3. After `MAX_ATTEMPTS` attempts (the first included) the processor publishes the job to
//!    the dead-letter exchange with the failure code and message in its headers; the
//!    result-writer marks the task FAILED with that reason and parks the job.
//! 4. A job that never gets that far — it crashes or stalls its consumer every time — is
//!    counted by the quorum queue: past [`DELIVERY_LIMIT`] deliveries the broker dead-letters
//!    it itself, and the task ends FAILED with `delivery_limit_exceeded`.
//! 5. Permanent failures (an undecodable image, a missing original) skip all of this: the
//!    task is FAILED at once.
//!
//! # Other retries
//! - Completion webhooks: [`webhook_delay`] after each failed delivery, up to
//!   `WEBHOOK_MAX_ATTEMPTS`; the delivery rows are durable, so the schedule survives restarts.

use std::{future::Future, time::Duration};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

/// How often a quorum queue delivers one message before dead-lettering it (step 4 above).
pub const DELIVERY_LIMIT: i32 = 5;

/// Waiting for a dependency to come back: 100 ms, doubling with jitter, at most 5 s, for ever.
pub fn dependency() -> ExponentialBuilder {
    dependency_curve().with_jitter()
}

fn dependency_curve() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
}

/// How long the outbox relay pauses after `failures` failed passes in a row (1 for the
/// first): the [`dependency`] curve without jitter, so one relay per ingest instance never
/// hammers a broker that is down.
pub fn relay_pause(failures: u32) -> Duration {
    nth_delay(dependency_curve(), failures, Duration::from_secs(5))
}

/// The wait after failed webhook delivery number `attempts` (1 for the first): doubling from
/// `first` (`WEBHOOK_RETRY_MIN_MS`), with jitter, at most an hour.
pub fn webhook_delay(first: Duration, attempts: u32) -> Duration {
    let curve = ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(Duration::from_secs(3600))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    nth_delay(curve, attempts, first)
}

/// The object store client's own retries (step 1 above): two quick ones within the request
/// timeout. Anything longer is the pipeline's job (the retry queues), which survives a restart
/// of the service.
pub fn object_store_client(request_timeout: Duration) -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: request_timeout,
        ..Default::default()
    }
}

/// The delay a curve gives before try number `n + 1` (`n` = 1 for the first retry).
fn nth_delay(curve: ExponentialBuilder, n: u32, fallback: Duration) -> Duration {
    let index = usize::try_from(n.max(1) - 1).unwrap_or(usize::MAX);
    curve.build().nth(index).unwrap_or(fallback)
}

/// Call `attempt` until it succeeds, with the [`dependency`] curve, logging each failure as
/// `cannot reach {what}`. `Ok(None)` if `shutdown` fires first; `Err` at once for an error
/// that waiting cannot fix (`is_permanent`).
pub async fn wait_for<T, E, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    is_permanent: impl Fn(&E) -> bool,
    attempt: F,
) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let retried = attempt
        .retry(dependency())
        .when(|err| !is_permanent(err))
        .notify(|err, delay| tracing::warn!(%err, ?delay, "cannot reach {what}, retrying"));
    tokio::select! {
        result = retried => result.map(Some),
        () = shutdown.cancelled() => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_pause_grows_to_five_seconds() {
        // backon multiplies in f32: compare whole milliseconds.
        assert_eq!(relay_pause(1).as_millis(), 100);
        assert_eq!(relay_pause(2).as_millis(), 200);
        assert_eq!(relay_pause(3).as_millis(), 400);
        assert_eq!(relay_pause(30).as_millis(), 5000);
    }

    #[test]
    fn webhook_delays_double_from_the_first_within_jitter() {
        let first = Duration::from_secs(5);
        for attempts in 1..6 {
            let base = first * 2u32.pow(attempts - 1);
            let delay = webhook_delay(first, attempts);
            // backon's jitter adds up to one more base delay.
            assert!(delay >= base && delay <= base * 2, "{attempts}: {delay:?}");
        }
        assert!(webhook_delay(first, 40) <= Duration::from_secs(7200));
    }

    #[tokio::test]
    async fn waiting_stops_at_success_at_a_permanent_error_and_at_shutdown() {
        let shutdown = CancellationToken::new();
        let mut tries = 0;
        let ok: Result<Option<u32>, String> = wait_for(
            "a flaky thing",
            &shutdown,
            |_| false,
            || {
                tries += 1;
                let now = tries;
                async move { if now < 3 { Err("down".into()) } else { Ok(now) } }
            },
        )
        .await;
        assert_eq!(ok, Ok(Some(3)));

        let permanent: Result<Option<()>, String> = wait_for(
            "a thing",
            &shutdown,
            |e: &String| e == "fatal",
            || async { Err("fatal".to_owned()) },
        )
        .await;
        assert_eq!(permanent, Err("fatal".to_owned()));

        shutdown.cancel();
        let stopped: Result<Option<()>, String> = wait_for(
            "a dead thing",
            &shutdown,
            |_| false,
            || async { Err("down".to_owned()) },
        )
        .await;
        assert_eq!(stopped, Ok(None));
    }
}
