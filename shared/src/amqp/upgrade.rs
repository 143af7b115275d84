//! Topology upgrades from earlier releases, run on every link after the topology is declared,
//! so an operator upgrades by deploying, with no step by hand.
//!
//! Today there is one: the parked queue of releases before `{p}.parked.v2` dead-lettered into
//! the exchange that routed back to itself, and its arguments cannot be changed in place (406).
//! It is unbound (so nothing new reaches it), its messages are moved to the parked queue that
//! replaced it, and it is deleted once empty. Several services may do this at once: each
//! message is taken by one of them, published with a confirm, and only then acked, so none is
//! lost (a crash between the two leaves a second copy in the parked queue, never none).

use lapin::{
    Confirmation, Connection,
    options::{
        BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};

use super::{AmqpError, timed};
use crate::topology::Topology;

/// Retire the legacy parked queue, if this broker still has it.
pub(super) async fn retire_legacy_parked(
    connection: &Connection,
    topology: &Topology,
) -> Result<(), AmqpError> {
    let legacy = topology.legacy_parked_queue();
    let channel = timed(connection.create_channel()).await?;
    // A passive declare of a queue that is not there fails with 404 and closes this channel
    // only: the common case, nothing to do.
    let exists = timed(channel.queue_declare(
        legacy.as_str().into(),
        QueueDeclareOptions::default().passive(),
        FieldTable::default(),
    ))
    .await;
    if exists.is_err() {
        return Ok(());
    }
    tracing::info!(queue = legacy, "retiring the legacy parked queue");
    timed(channel.queue_unbind(
        legacy.as_str().into(),
        topology.parking_exchange().as_str().into(),
        "".into(),
        FieldTable::default(),
    ))
    .await?;
    timed(channel.confirm_select(ConfirmSelectOptions::default())).await?;
    let mut moved = 0u64;
    while let Some(message) =
        timed(channel.basic_get(legacy.as_str().into(), BasicGetOptions { no_ack: false })).await?
    {
        let delivery = message.delivery;
        let confirm = timed(channel.basic_publish(
            topology.parking_exchange().as_str().into(),
            delivery.routing_key.clone(),
            BasicPublishOptions::default(),
            &delivery.data,
            delivery.properties.clone(),
        ))
        .await?;
        match timed(confirm).await? {
            Confirmation::Ack(_) | Confirmation::NotRequested => {}
            Confirmation::Nack(_) => return Err(AmqpError::Nacked),
        }
        timed(delivery.ack(BasicAckOptions::default())).await?;
        moved += 1;
    }
    // Quorum queues do not take `if-empty` on delete (a connection error): look, then delete.
    // Nothing can arrive meanwhile, since the queue is unbound; a message another service
    // holds unacked is already confirmed in the new queue before its ack.
    let left = timed(channel.queue_declare(
        legacy.as_str().into(),
        QueueDeclareOptions::default().passive(),
        FieldTable::default(),
    ))
    .await?
    .message_count();
    if left == 0 {
        timed(channel.queue_delete(legacy.as_str().into(), QueueDeleteOptions::default())).await?;
    }
    tracing::info!(queue = legacy, moved, "legacy parked queue retired");
    let _ = channel.close(200, "upgraded".into()).await;
    Ok(())
}
