//! Talking to RabbitMQ: connecting with backoff, publishing with confirms, consuming with
//! manual acks, and reconnecting after the broker or the connection goes away.
//!
//! Every network step has a timeout, so a broker that accepts TCP but never answers cannot
//! hang a service. Broken channels are dropped and rebuilt on next use.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties,
    message::Delivery,
    options::{
        BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        QueueBindOptions, QueueDeclareOptions,
    },
    types::FieldTable,
};
use serde::Serialize;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::topology::Topology;

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
    #[error("message could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}

async fn timed<T>(fut: impl Future<Output = lapin::Result<T>>) -> Result<T, AmqpError> {
    match tokio::time::timeout(BROKER_TIMEOUT, fut).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(AmqpError::Timeout(BROKER_TIMEOUT)),
    }
}

/// Backoff between reconnect attempts: from 100 ms up to 5 s, forever (the caller decides
/// when to give up, usually never: the broker will come back).
pub fn reconnect_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}

/// A connection with one confirm-mode channel on which the whole topology is declared.
pub struct Link {
    /// Kept so the connection lives as long as the channel.
    pub connection: Connection,
    pub channel: Channel,
}

impl Link {
    /// Connect once, declare the topology, and put the channel in confirm mode.
    pub async fn open(url: &str, name: &str, topology: &Topology) -> Result<Self, AmqpError> {
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let connection = timed(Connection::connect(url, props)).await?;
        let channel = timed(connection.create_channel()).await?;
        timed(topology.declare(&channel)).await?;
        timed(channel.confirm_select(ConfirmSelectOptions::default())).await?;
        Ok(Self {
            connection,
            channel,
        })
    }

    /// Connect, retrying with backoff until it works or `shutdown` fires.
    pub async fn open_with_retry(
        url: &str,
        name: &str,
        topology: &Topology,
        shutdown: &CancellationToken,
    ) -> Option<Self> {
        let attempt = || Self::open(url, name, topology);
        tokio::select! {
            link = attempt
                .retry(reconnect_backoff())
                .notify(|err, delay| tracing::warn!(%err, ?delay, "cannot reach RabbitMQ, retrying")) => link.ok(),
            () = shutdown.cancelled() => None,
        }
    }

    pub fn is_usable(&self) -> bool {
        self.channel.status().connected()
    }
}

/// Publishes JSON messages, persistent and confirmed. Reconnects lazily: a publish on a broken
/// link fails, the link is dropped, and the next publish opens a new one.
pub struct Publisher {
    url: String,
    name: String,
    topology: Topology,
    link: Mutex<Option<Arc<Link>>>,
}

impl Publisher {
    pub fn new(url: impl Into<String>, name: impl Into<String>, topology: Topology) -> Self {
        Self {
            url: url.into(),
            name: name.into(),
            topology,
            link: Mutex::new(None),
        }
    }

    /// A publisher that starts from an open link.
    pub fn with_link(
        url: impl Into<String>,
        name: impl Into<String>,
        topology: Topology,
        link: Link,
    ) -> Self {
        Self {
            link: Mutex::new(Some(Arc::new(link))),
            ..Self::new(url, name, topology)
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    async fn link(&self) -> Result<Arc<Link>, AmqpError> {
        let mut guard = self.link.lock().await;
        if let Some(link) = guard.as_ref().filter(|l| l.is_usable()) {
            return Ok(link.clone());
        }
        let link = Arc::new(Link::open(&self.url, &self.name, &self.topology).await?);
        *guard = Some(link.clone());
        Ok(link)
    }

    /// Whether the last known link is up (for readiness). Does not connect.
    pub async fn is_connected(&self) -> bool {
        self.link
            .lock()
            .await
            .as_ref()
            .is_some_and(|l| l.is_usable())
    }

    /// Publish one message and wait for the broker's confirm. `Ok` means the broker has taken
    /// responsibility for it (written it to its queues).
    pub async fn publish<T: Serialize>(
        &self,
        exchange: &str,
        routing_key: &str,
        message_id: Uuid,
        message: &T,
        headers: FieldTable,
    ) -> Result<(), AmqpError> {
        let body = serde_json::to_vec(message)?;
        self.publish_bytes(
            exchange,
            routing_key,
            &message_id.to_string(),
            &body,
            headers,
        )
        .await
    }

    /// Publish a body as it is (for moving a message on without re-encoding it).
    pub async fn publish_bytes(
        &self,
        exchange: &str,
        routing_key: &str,
        message_id: &str,
        body: &[u8],
        headers: FieldTable,
    ) -> Result<(), AmqpError> {
        let link = self.link().await?;
        let result = publish_confirmed(
            &link.channel,
            exchange,
            routing_key,
            message_id,
            body,
            headers,
        )
        .await;
        let broken = !link.is_usable() || matches!(result, Err(AmqpError::Timeout(_)));
        if result.is_err() && broken {
            // Drop the broken (or unresponsive) link so the next publish reconnects.
            let mut guard = self.link.lock().await;
            if guard.as_ref().is_some_and(|l| Arc::ptr_eq(l, &link)) {
                *guard = None;
            }
        }
        result
    }
}

/// Publish on a confirm-mode channel and wait for the confirm; a nack is an error.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    message_id: &str,
    body: &[u8],
    headers: FieldTable,
) -> Result<(), AmqpError> {
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message_id.into())
        .with_headers(headers);
    let confirm = timed(channel.basic_publish(
        exchange.into(),
        routing_key.into(),
        BasicPublishOptions::default(),
        body,
        properties,
    ))
    .await?;
    match timed(confirm).await? {
        Confirmation::Ack(_) | Confirmation::NotRequested => Ok(()),
        Confirmation::Nack(_) => Err(AmqpError::Nacked),
    }
}

/// What to consume, and how.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerSpec<'a> {
    pub url: &'a str,
    /// Connection name, shown in the RabbitMQ console.
    pub name: &'a str,
    pub topology: &'a Topology,
    pub queue: &'a str,
    /// Most unacknowledged deliveries at once.
    pub prefetch: u16,
    /// How long handlers in flight may finish after shutdown.
    pub grace: Duration,
    /// Kept true while consuming, for readiness.
    pub consuming: &'a AtomicBool,
}

/// Consume `queue` until `shutdown` fires, reconnecting whenever the connection drops.
/// `handle` gets each delivery and must ack or nack it; at most `prefetch` deliveries are
/// unacknowledged at once.
///
/// On shutdown it stops taking deliveries and gives the handlers in flight up to `grace` to
/// finish; what is still running then is abandoned, and closing the channel hands those
/// deliveries back to the broker, which delivers them again elsewhere.
pub async fn consume<H, F>(spec: ConsumerSpec<'_>, shutdown: CancellationToken, handle: H)
where
    H: Fn(Delivery) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let ConsumerSpec {
        url,
        name,
        topology,
        queue,
        prefetch,
        grace,
        consuming,
    } = spec;
    let mut tasks = tokio::task::JoinSet::new();
    while !shutdown.is_cancelled() {
        let Some(link) = Link::open_with_retry(url, name, topology, &shutdown).await else {
            break;
        };
        let consumer = async {
            // A separate channel, so consuming does not share flow control with publishing.
            let channel = timed(link.connection.create_channel()).await?;
            timed(channel.basic_qos(prefetch, BasicQosOptions { global: false })).await?;
            timed(channel.basic_consume(
                queue.into(),
                format!("{name}-{}", Uuid::new_v4()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ))
            .await
        };
        let mut consumer = match consumer.await {
            Ok(consumer) => consumer,
            Err(err) => {
                tracing::warn!(%err, queue, "cannot start consuming, reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::info!(queue, "consuming");
        consuming.store(true, Ordering::Relaxed);
        loop {
            tokio::select! {
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => { tasks.spawn(handle(delivery)); }
                    Some(Err(err)) => { tracing::warn!(%err, queue, "consumer failed, reconnecting"); break; }
                    None => { tracing::warn!(queue, "consumer ended, reconnecting"); break; }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = shutdown.cancelled() => break,
            }
        }
        consuming.store(false, Ordering::Relaxed);
        // Let the handlers in flight finish: on shutdown within the grace period; after a
        // lost connection they fail fast (their acks cannot be sent; the broker requeues).
        let drained = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!(
                queue,
                still_running = tasks.len(),
                "grace period over, handing work back"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        let _ = link.channel.close(200, "bye".into()).await;
        let _ = link.connection.close(200, "bye".into()).await;
    }
}

/// Hear every message broadcast on a fanout `exchange` until `shutdown` fires, through a
/// private queue (server-named, exclusive, deleted with the connection), reconnecting when the
/// connection drops. For notices that save work but lose nothing when missed (a message sent
/// while this subscriber was away is simply never heard): no acks, no redelivery.
pub async fn subscribe<H>(
    url: &str,
    name: &str,
    topology: &Topology,
    exchange: &str,
    shutdown: CancellationToken,
    handle: H,
) where
    H: Fn(Delivery),
{
    while !shutdown.is_cancelled() {
        let Some(link) = Link::open_with_retry(url, name, topology, &shutdown).await else {
            break;
        };
        let consumer = async {
            let channel = timed(link.connection.create_channel()).await?;
            let queue = timed(channel.queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .await?;
            timed(channel.queue_bind(
                queue.name().clone(),
                exchange.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            ))
            .await?;
            timed(channel.basic_consume(
                queue.name().clone(),
                format!("{name}-{}", Uuid::new_v4()).into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .await
        };
        let mut consumer = match consumer.await {
            Ok(consumer) => consumer,
            Err(err) => {
                tracing::warn!(%err, exchange, "cannot subscribe, reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::info!(exchange, "subscribed");
        loop {
            tokio::select! {
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => handle(delivery),
                    Some(Err(err)) => { tracing::warn!(%err, exchange, "subscription failed, reconnecting"); break; }
                    None => { tracing::warn!(exchange, "subscription ended, reconnecting"); break; }
                },
                () = shutdown.cancelled() => break,
            }
        }
        let _ = link.connection.close(200, "bye".into()).await;
    }
}
