//! Publishing JSON messages, persistent and confirmed by the broker.

use std::sync::{Arc, Mutex, PoisonError};

use lapin::{
    BasicProperties, Channel, Confirmation, options::BasicPublishOptions, types::FieldTable,
};
use serde::Serialize;
use uuid::Uuid;

use super::{AmqpError, Link, timed};
use crate::topology::Topology;

/// Publishes on one link: a publish on a broken link fails, the link is dropped, and the next
/// publish (or [`Publisher::connect`]) opens a new one.
pub struct Publisher {
    url: String,
    name: String,
    topology: Topology,
    /// The current link. Held only to read or swap it, never while opening one, so that
    /// readiness reads it at once even while a connect waits on an unreachable broker.
    link: Mutex<Option<Arc<Link>>>,
    /// Held while opening a link, so that concurrent publishes open one, not one each.
    opening: tokio::sync::Mutex<()>,
}

impl Publisher {
    pub fn new(url: impl Into<String>, name: impl Into<String>, topology: Topology) -> Self {
        Self {
            url: url.into(),
            name: name.into(),
            topology,
            link: Mutex::new(None),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Arc<Link>>> {
        // The guarded value is a plain swap, never left half-written: a panic elsewhere while
        // holding it does not make it wrong.
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn usable_link(&self) -> Option<Arc<Link>> {
        self.current().as_ref().filter(|l| l.is_usable()).cloned()
    }

    async fn link(&self) -> Result<Arc<Link>, AmqpError> {
        if let Some(link) = self.usable_link() {
            return Ok(link);
        }
        let _opening = self.opening.lock().await;
        // Another caller may have opened one while this one waited.
        if let Some(link) = self.usable_link() {
            return Ok(link);
        }
        let link = Arc::new(Link::open(&self.url, &self.name, &self.topology).await?);
        *self.current() = Some(link.clone());
        Ok(link)
    }

    /// Open a link unless a usable one is already open: one try, bounded by the broker
    /// timeout. Lets a service connect before it has anything to publish.
    pub async fn connect(&self) -> Result<(), AmqpError> {
        self.link().await.map(drop)
    }

    /// Whether the current link is up (for readiness). Does not connect, and never waits for
    /// a connect in progress.
    pub fn is_connected(&self) -> bool {
        self.usable_link().is_some()
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
            let mut guard = self.current();
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
