use std::time::Duration;

use clap::Parser;
use imagepipe_shared::{
    config::{AmqpConfig, HealthConfig, ShutdownConfig, StorageConfig, TelemetryConfig},
    image_rules::DecodeLimits,
};

/// imagepipe processor: consumes jobs, converts images to grayscale, reports status events.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct ProcessorConfig {
    /// Simulated inference time added to every job, in milliseconds (stands in for a model).
    #[arg(long, env = "PROCESSING_DELAY_MS", default_value_t = 5000)]
    pub processing_delay_ms: u64,

    /// Jobs one processor works on at once (its prefetch). Pixel work runs on tokio's
    /// blocking pool (`spawn_blocking`), off the async runtime; the rest of a job's time is
    /// waiting.
    #[arg(long, env = "PROCESSOR_CONCURRENCY", default_value_t = 8)]
    pub processor_concurrency: u16,

    /// Images decoded and encoded at once (the kernel pool). 0: one per core. Set it below
    /// the core count when the processor shares a machine with ingest, so the API always
    /// finds a free core (docs/performance.md, latency isolation).
    #[arg(long, env = "PROCESSOR_KERNEL_THREADS", default_value_t = 0)]
    pub processor_kernel_threads: u16,

    /// Attempts a job gets when the failure is transient (object store down...), including
    /// the first. After the last, the job is parked and the task FAILED.
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: u32,

    /// Largest image accepted, in pixels (width × height).
    #[arg(long, env = "MAX_IMAGE_PIXELS", default_value_t = 40_000_000)]
    pub max_image_pixels: u64,

    /// Largest image side accepted, in pixels.
    #[arg(long, env = "MAX_IMAGE_SIDE", default_value_t = 16_384)]
    pub max_image_side: u32,

    /// Test-only fault hook: abort the process whenever a job for this task arrives, as a job
    /// that crashes its processor every time would. Never set it in production.
    #[arg(long, env = "IMAGEPIPE_TEST_CRASH_ON_TASK", hide = true)]
    pub crash_on_task: Option<uuid::Uuid>,

    #[command(flatten)]
    pub amqp: AmqpConfig,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub shutdown: ShutdownConfig,

    #[command(flatten)]
    pub health: HealthConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl ProcessorConfig {
    /// Size of the kernel pool: the setting, or one per core.
    pub fn kernel_threads(&self) -> usize {
        match self.processor_kernel_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => usize::from(n),
        }
    }

    pub fn processing_delay(&self) -> Duration {
        Duration::from_millis(self.processing_delay_ms)
    }

    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_image_pixels,
            max_side: self.max_image_side,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ProcessorConfig {
        ProcessorConfig::try_parse_from(std::iter::once("processor").chain(args.iter().copied()))
            .expect("valid flags")
    }

    #[test]
    fn the_kernel_pool_is_one_per_core_unless_set() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(parse(&[]).kernel_threads(), cores);
        assert_eq!(
            parse(&["--processor-kernel-threads", "0"]).kernel_threads(),
            cores
        );
        assert_eq!(
            parse(&["--processor-kernel-threads", "1"]).kernel_threads(),
            1
        );
    }
}
