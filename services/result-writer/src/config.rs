use std::time::Duration;

use clap::Parser;
use imagepipe_shared::config::{
    AmqpConfig, DatabaseConfig, HealthConfig, ShutdownConfig, TelemetryConfig,
};

/// imagepipe result-writer: applies status events to the task table, fails dead-lettered
/// jobs with their reason, and reaps tasks stuck past their deadline.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct ResultWriterConfig {
    /// A task not finished this many seconds after it was created is marked FAILED
    /// (`timed_out`). Keep it above the longest retry schedule plus processing time.
    #[arg(long, env = "TASK_TIMEOUT_SECS", default_value_t = 3600)]
    pub task_timeout_secs: u64,

    /// How often the reaper looks for such tasks, in seconds.
    #[arg(long, env = "REAPER_INTERVAL_SECS", default_value_t = 30)]
    pub reaper_interval_secs: u64,

    /// Status events applied at once.
    #[arg(long, env = "RESULT_WRITER_PREFETCH", default_value_t = 32)]
    pub prefetch: u16,

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
}
