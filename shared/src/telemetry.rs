//! Tracing setup, once per process.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::TelemetryConfig;

/// Install the global subscriber: JSON lines for machines or human-readable text.
/// A second call (tests start several services in one process) is a no-op.
pub fn init(config: &TelemetryConfig) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if config.log_format == "json" {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init()
    } else {
        registry.with(fmt::layer()).try_init()
    };
}
