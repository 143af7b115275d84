//! Delivering completion webhooks.
//!
//! A task that ends with a callback URL gets a row in `webhook_deliveries`, written by a
//! trigger in the same transaction as its terminal status, so a delivery can be late but
//! never forgotten, whatever restarts. This loop claims due rows with a lease (so several
//! result-writers never send the same one at once), POSTs them signed, and records the
//! outcome: delivered, retried later with exponential backoff, or abandoned after the last
//! attempt. Delivery is at least once; receivers drop duplicates by `Imagepipe-Delivery`.
//!
//! The client connects only to addresses that pass the address rules, looked up again for
//! each connection by the policy's resolver ([`CallbackPolicy::dns`]); a host that now
//! resolves to a refused address makes a failed attempt, nothing sent.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use imagepipe_entity::webhook_delivery;
use imagepipe_shared::periodic::Ticks;
use imagepipe_shared::webhooks::{
    CallbackPolicy, DELIVERY_ID_HEADER, Resolver, SIGNATURE_HEADER, refusal_in, signature_header,
};
use imagepipe_shared::{
    db::{STATEMENT_TIMEOUT, bounded},
    retry,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, Statement};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{config::ResultWriterConfig, metrics::WriterMetrics};

/// Added to the longest a delivery takes to make its lease: time for the dispatcher to get to
/// it (a batch starts together) and for clocks to disagree.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// How long a claimed delivery is ours before another result-writer may take it over: the
/// longest an attempt can take (the request, bounded by `WEBHOOK_TIMEOUT_SECS`, then recording
/// its outcome, bounded by the statement timeout; the claim's own statement is done by then),
/// plus a margin. Shorter, and another result-writer could send it while this one still is;
/// longer, and a delivery whose result-writer died (or could not record the outcome) waits
/// for nothing: it was a fixed 120 s, which both a longer timeout and a crash ran into.
fn lease(request_timeout: Duration) -> Duration {
    request_timeout + 2 * STATEMENT_TIMEOUT + LEASE_MARGIN
}
/// Deliveries sent at once.
const BATCH: i64 = 16;

/// The JSON body of a delivery.
#[derive(Debug, Serialize)]
pub struct WebhookBody {
    /// `task.completed`, `task.failed` or `task.cancelled`.
    pub event: String,
    pub delivery_id: Uuid,
    pub task_id: Uuid,
    pub status: String,
    pub run: i32,
    pub occurred_at: DateTime<Utc>,
    pub result_key: Option<String>,
    /// The result, when COMPLETED: as the task's `result` describes it.
    pub result: Option<WebhookResult>,
    /// What the chain's model steps found, when COMPLETED: the task's `analysis`, the JSON
    /// stored from its COMPLETED event (`imagepipe_shared::analysis`); null without a model
    /// step, like `result` and `error` when they do not apply.
    pub analysis: Option<serde_json::Value>,
    pub error: Option<WebhookError>,
}

/// A completed task's result, as `GET /api/v1/tasks/{id}` shows it (its size and format are
/// absent for a task completed by a report that did not describe its result).
#[derive(Debug, Serialize)]
pub struct WebhookResult {
    pub key: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct WebhookError {
    pub code: String,
    pub message: String,
}

struct Due {
    id: Uuid,
    url: String,
    attempts: i32,
    body: WebhookBody,
}

impl From<webhook_delivery::Model> for Due {
    fn from(row: webhook_delivery::Model) -> Self {
        let status = row.status.to_string();
        Self {
            id: row.id,
            url: row.url,
            attempts: row.attempts,
            body: WebhookBody {
                event: format!("task.{}", status.to_ascii_lowercase()),
                delivery_id: row.id,
                task_id: row.task_id,
                run: row.run,
                occurred_at: row.occurred_at,
                result: row.result_key.clone().map(|key| WebhookResult {
                    key,
                    width: row.result_width,
                    height: row.result_height,
                    content_type: row.result_content_type,
                    size_bytes: row.result_size_bytes,
                }),
                result_key: row.result_key,
                analysis: row.analysis,
                error: row.error_code.map(|code| WebhookError {
                    code,
                    message: row.error_message.unwrap_or_default(),
                }),
                status,
            },
        }
    }
}

pub struct Dispatcher {
    db: DatabaseConnection,
    client: reqwest::Client,
    secret: Vec<u8>,
    policy: CallbackPolicy,
    max_attempts: i32,
    retry_min: Duration,
    poll: Duration,
    lease: Duration,
    metrics: WriterMetrics,
}

impl Dispatcher {
    /// `None` when no secret is configured: nothing unsigned is ever sent. Callback hosts
    /// are looked up by `resolver` (the system's in service).
    pub fn new(
        db: DatabaseConnection,
        config: &ResultWriterConfig,
        resolver: Arc<dyn Resolver>,
        metrics: WriterMetrics,
    ) -> anyhow::Result<Option<Self>> {
        let Some(secret) = config.webhook_secret.clone().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let policy = config.webhooks.policy().with_resolver(resolver);
        let request_timeout = Duration::from_secs(config.webhook_timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(Duration::from_secs(5))
            // Connect only where the address rules allow: the addresses this resolver checked.
            .dns_resolver(policy.dns())
            // A proxy would resolve the host itself, past the address rules.
            .no_proxy()
            // A redirect could lead anywhere, past the allow-list.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("imagepipe-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            db,
            client,
            secret: secret.into_bytes(),
            policy,
            max_attempts: i32::try_from(config.webhook_max_attempts.max(1)).unwrap_or(i32::MAX),
            retry_min: Duration::from_millis(config.webhook_retry_min_ms),
            poll: Duration::from_millis(config.webhook_poll_ms),
            lease: lease(request_timeout),
            metrics,
        }))
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let mut ticks = Ticks::every(self.poll, &shutdown);
        while ticks.next().await {
            let due = match self.claim().await {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(%err, "cannot read webhook deliveries");
                    continue;
                }
            };
            futures::future::join_all(due.into_iter().map(|d| {
                let span = tracing::info_span!("webhook", task_id = %d.body.task_id, delivery_id = %d.id, attempt = d.attempts);
                self.deliver(d).instrument(span)
            }))
            .await;
        }
    }

    /// Take the due deliveries, counting the attempt and leasing them.
    async fn claim(&self) -> Result<Vec<Due>, DbErr> {
        let claimed = webhook_delivery::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE webhook_deliveries
                    SET attempts = attempts + 1,
                        next_attempt_at = now() + make_interval(secs => $1)
                  WHERE id IN (SELECT id FROM webhook_deliveries
                                WHERE delivered_at IS NULL AND abandoned_at IS NULL
                                  AND next_attempt_at <= now()
                                ORDER BY next_attempt_at
                                LIMIT $2
                                FOR UPDATE SKIP LOCKED)
              RETURNING *",
                vec![self.lease.as_secs_f64().into(), BATCH.into()],
            ))
            .all(&self.db);
        let rows = bounded(claimed).await?;
        Ok(rows.into_iter().map(Due::from).collect())
    }

    async fn deliver(&self, due: Due) {
        let outcome = self.send(&due).await;
        let result = match outcome {
            Ok(()) => {
                tracing::info!(url = due.url, "webhook delivered");
                self.metrics.webhook("delivered");
                self.record(
                    "UPDATE webhook_deliveries SET delivered_at = now(), last_error = NULL WHERE id = $1",
                    vec![due.id.into()],
                )
                .await
            }
            Err(Failure::Permanent(reason)) => {
                tracing::warn!(reason, "webhook abandoned");
                self.metrics.webhook("abandoned");
                self.abandon(&due, &reason).await
            }
            Err(Failure::Retry(reason)) if due.attempts >= self.max_attempts => {
                tracing::warn!(reason, "webhook abandoned after its last attempt");
                self.metrics.webhook("abandoned");
                self.abandon(&due, &reason).await
            }
            Err(Failure::Retry(reason)) => {
                let delay = self.retry_delay(due.attempts);
                tracing::info!(reason, ?delay, "webhook failed, will retry");
                self.metrics.webhook("retry");
                self.record(
                    "UPDATE webhook_deliveries
                        SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
                      WHERE id = $1",
                    vec![due.id.into(), reason.into(), delay.as_secs_f64().into()],
                )
                .await
            }
        };
        if let Err(err) = result {
            // The lease runs out and the delivery is tried again: at least once.
            tracing::warn!(%err, "cannot record a webhook outcome");
        }
    }

    async fn send(&self, due: &Due) -> Result<(), Failure> {
        // Checked again at send time: the allow-list may have shrunk since the upload. (A name's
        // addresses are checked as the client connects.)
        let url = self
            .policy
            .check(&due.url)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let body = serde_json::to_vec(&due.body).map_err(|e| Failure::Permanent(e.to_string()))?;
        let signature = signature_header(&self.secret, Utc::now().timestamp(), &body);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_ID_HEADER, due.id.to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                // DNS answers change (and may change back): a refused address is a failed
                // attempt, retried on the usual schedule, its reason recorded as such.
                Failure::Retry(match refusal_in(&e) {
                    Some(refused) => format!("not sent: {refused}"),
                    None => format!("request failed: {}", error_chain(&e)),
                })
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Failure::retry(format!("receiver answered {status}"))
        }
    }

    async fn abandon(&self, due: &Due, reason: &str) -> Result<(), DbErr> {
        self.record(
            "UPDATE webhook_deliveries SET abandoned_at = now(), last_error = $2 WHERE id = $1",
            vec![due.id.into(), reason.into()],
        )
        .await
    }

    async fn record(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<(), DbErr> {
        bounded(self.db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        )))
        .await
        .map(drop)
    }

    /// Wait after failed attempt number `attempts` (1 for the first).
    fn retry_delay(&self, attempts: i32) -> Duration {
        retry::webhook_delay(self.retry_min, u32::try_from(attempts).unwrap_or(1))
    }
}

/// An error and its causes, `: `-separated: reqwest's own message ("error sending request")
/// names no cause.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

enum Failure {
    /// Worth another attempt.
    Retry(String),
    /// No attempt can succeed (URL no longer allowed, by host or by its written address).
    Permanent(String),
}

impl Failure {
    fn retry(reason: String) -> Result<(), Self> {
        Err(Self::Retry(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease outlasts the longest attempt (its request, then recording the outcome), for a
    /// short timeout and for one longer than the fixed 120 s it used to be, and a crashed
    /// result-writer's delivery waits well under that with the default timeout (10 s).
    #[test]
    fn a_lease_outlasts_the_longest_attempt_and_no_more() {
        for secs in [1, 10, 300] {
            let timeout = Duration::from_secs(secs);
            assert!(lease(timeout) > timeout + STATEMENT_TIMEOUT, "{secs} s");
        }
        assert!(lease(Duration::from_secs(10)) <= Duration::from_secs(30));
    }
}
