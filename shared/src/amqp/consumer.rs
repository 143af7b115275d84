//! Taking deliveries: [`consume`] for work queues (manual acks, bounded prefetch, graceful
//! hand-back on shutdown) and [`subscribe`] for broadcasts. Both sit on one reconnect loop,
//! [`Reconnect`].

use std::{
    future::Future,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use futures::StreamExt;
use lapin::{
    Consumer,
    message::Delivery,
    options::{BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{AmqpError, Link, timed};
use crate::topology::Topology;

/// Pause after a consumer could not be started on a fresh link (a queue being redeclared, a
/// channel refused), before the loop opens a new link.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

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

/// Where deliveries come from.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// A work queue, with manual acks and at most `prefetch` unacknowledged deliveries.
    Queue { queue: &'a str, prefetch: u16 },
    /// A fanout exchange, heard through a private queue, without acks.
    Broadcast { exchange: &'a str },
}

impl Source<'_> {
    fn name(&self) -> &str {
        match self {
            Self::Queue { queue, .. } => queue,
            Self::Broadcast { exchange } => exchange,
        }
    }

    /// Start a consumer on its own channel of `link` (so consuming does not share flow
    /// control with publishing).
    async fn start(&self, link: &Link, tag_prefix: &str) -> Result<Consumer, AmqpError> {
        let channel = timed(link.connection.create_channel()).await?;
        let tag = format!("{tag_prefix}-{}", Uuid::new_v4());
        match *self {
            Self::Queue { queue, prefetch } => {
                timed(channel.basic_qos(prefetch, BasicQosOptions { global: false })).await?;
                let options = BasicConsumeOptions::default();
                timed(channel.basic_consume(
                    queue.into(),
                    tag.into(),
                    options,
                    FieldTable::default(),
                ))
                .await
            }
            Self::Broadcast { exchange } => {
                let private = QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                };
                let queue =
                    timed(channel.queue_declare("".into(), private, FieldTable::default())).await?;
                timed(channel.queue_bind(
                    queue.name().clone(),
                    exchange.into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                ))
                .await?;
                let no_ack = BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                };
                timed(channel.basic_consume(
                    queue.name().clone(),
                    tag.into(),
                    no_ack,
                    FieldTable::default(),
                ))
                .await
            }
        }
    }
}

/// The one reconnect loop of every consumer: `while let Some((link, consumer)) =
/// reconnect.next().await { take deliveries until the consumer ends; link.close() }`.
struct Reconnect<'a> {
    url: &'a str,
    name: &'a str,
    topology: &'a Topology,
    source: Source<'a>,
    shutdown: &'a CancellationToken,
}

impl Reconnect<'_> {
    /// A link (waiting for the broker) with a consumer started on it; `None` on shutdown.
    async fn next(&self) -> Option<(Link, Consumer)> {
        while !self.shutdown.is_cancelled() {
            let link =
                Link::open_with_retry(self.url, self.name, self.topology, self.shutdown).await?;
            match self.source.start(&link, self.name).await {
                Ok(consumer) => {
                    tracing::info!(source = self.source.name(), "consuming");
                    return Some((link, consumer));
                }
                Err(err) => {
                    let source = self.source.name();
                    tracing::warn!(%err, source, "cannot start consuming, reconnecting");
                    link.close().await;
                    tokio::time::sleep(RESTART_PAUSE).await;
                }
            }
        }
        None
    }
}

/// The next delivery, or `None` (with the reason logged) when the consumer ended or failed.
fn delivered(next: Option<lapin::Result<Delivery>>, what: &str) -> Option<Delivery> {
    match next {
        Some(Ok(delivery)) => Some(delivery),
        Some(Err(err)) => {
            tracing::warn!(%err, source = what, "consumer failed, reconnecting");
            None
        }
        None => {
            tracing::warn!(source = what, "consumer ended, reconnecting");
            None
        }
    }
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
    let reconnect = Reconnect {
        url,
        name,
        topology,
        source: Source::Queue { queue, prefetch },
        shutdown: &shutdown,
    };
    let mut tasks = tokio::task::JoinSet::new();
    while let Some((link, mut consumer)) = reconnect.next().await {
        consuming.store(true, Ordering::Relaxed);
        loop {
            tokio::select! {
                next = consumer.next() => match delivered(next, queue) {
                    Some(delivery) => { tasks.spawn(handle(delivery)); }
                    None => break,
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
        link.close().await;
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
    let reconnect = Reconnect {
        url,
        name,
        topology,
        source: Source::Broadcast { exchange },
        shutdown: &shutdown,
    };
    while let Some((link, mut consumer)) = reconnect.next().await {
        loop {
            tokio::select! {
                next = consumer.next() => match delivered(next, exchange) {
                    Some(delivery) => handle(delivery),
                    None => break,
                },
                () = shutdown.cancelled() => break,
            }
        }
        link.close().await;
    }
}
