//! Talking to RabbitMQ: a connection with the topology declared on it ([`Link`]), publishing
//! with confirms ([`Publisher`]), consuming with manual acks and hearing broadcasts
//! ([`consume`], [`subscribe`]), and reading queue depths ([`QueueProbe`]). Every path
//! reconnects after the broker or the connection goes away, with [`crate::retry::dependency`].
//!
//! Every network step has a timeout, so a broker that accepts TCP but never answers cannot
//! hang a service. Broken channels are dropped and rebuilt on next use.

mod consumer;
mod link;
mod publisher;
mod queue_probe;
mod upgrade;

use std::{future::Future, time::Duration};

pub use consumer::{ConsumerSpec, consume, subscribe};
pub use link::{DEFAULT_HEARTBEAT_SECS, Link};
pub use publisher::{Publisher, publish_confirmed};
pub use queue_probe::QueueProbe;

/// How long one broker operation (connect, declare, publish, confirm) may take.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker did not answer within {0:?}")]
    Timeout(Duration),
    #[error("broker refused the message (publisher confirm was a nack)")]
    Nacked,
    #[error("invalid AMQP_URL: {0}")]
    InvalidUrl(String),
    #[error("message could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// One broker operation, bounded by [`BROKER_TIMEOUT`].
async fn timed<T>(fut: impl Future<Output = lapin::Result<T>>) -> Result<T, AmqpError> {
    match tokio::time::timeout(BROKER_TIMEOUT, fut).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(AmqpError::Timeout(BROKER_TIMEOUT)),
    }
}
