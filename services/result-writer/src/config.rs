use std::time::Duration;

use clap::Parser;
use imagepipe_shared::config::{
    AmqpConfig, DatabaseConfig, HealthConfig, ShutdownConfig, StorageConfig, TelemetryConfig,
    WebhookPolicyConfig,
};

/// imagepipe result-writer: applies status events to the task table, fails dead-lettered
/// jobs with their reason, reaps tasks stuck past their deadline, delivers completion
/// webhooks, and deletes tasks past their retention age.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct ResultWriterConfig {
    /// A task not finished this many seconds after it was queued (its upload, or the retry
    /// that started its current run) is marked FAILED (`timed_out`). Keep it above the longest
    /// retry schedule plus processing time.
    #[arg(long, env = "TASK_TIMEOUT_SECS", default_value_t = 3600)]
    pub task_timeout_secs: u64,

    /// How often the reaper looks for such tasks, in seconds.
    #[arg(long, env = "REAPER_INTERVAL_SECS", default_value_t = 30)]
    pub reaper_interval_secs: u64,

    /// Status events applied at once.
    #[arg(long, env = "RESULT_WRITER_PREFETCH", default_value_t = 32)]
    pub prefetch: u16,

    /// Secret that signs webhook deliveries (HMAC-SHA256). Unset: webhooks are not sent
    /// (they wait in the database until it is set).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Delivery attempts per webhook before it is given up (recorded as abandoned).
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 10)]
    pub webhook_max_attempts: u32,

    /// Wait before the first redelivery of a failed webhook, in milliseconds; it doubles on
    /// every attempt, up to an hour.
    #[arg(long, env = "WEBHOOK_RETRY_MIN_MS", default_value_t = 5000)]
    pub webhook_retry_min_ms: u64,

    /// Longest one webhook request may take, in seconds.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,

    /// How often waiting webhooks are looked for, in milliseconds.
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 1000)]
    pub webhook_poll_ms: u64,

    /// Tasks that ended more than this many seconds ago are deleted with their objects
    /// (their ids then answer 410 Gone). 0 keeps tasks forever.
    #[arg(long, env = "RETENTION_SECS", default_value_t = 30 * 24 * 3600)]
    pub retention_secs: u64,

    /// How often the retention job runs, in seconds.
    #[arg(long, env = "RETENTION_INTERVAL_SECS", default_value_t = 300)]
    pub retention_interval_secs: u64,

    #[command(flatten)]
    pub webhooks: WebhookPolicyConfig,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub amqp: AmqpConfig,

    #[command(flatten)]
    pub shutdown: ShutdownConfig,

    #[command(flatten)]
    pub health: HealthConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl ResultWriterConfig {
    pub fn task_timeout(&self) -> Duration {
        Duration::from_secs(self.task_timeout_secs)
    }

    pub fn reaper_interval(&self) -> Duration {
        Duration::from_secs(self.reaper_interval_secs)
    }

    /// `None`: tasks are kept forever.
    pub fn retention(&self) -> Option<Duration> {
        (self.retention_secs > 0).then(|| Duration::from_secs(self.retention_secs))
    }
}
