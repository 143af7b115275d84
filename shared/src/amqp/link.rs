//! A connection with one confirm-mode channel on which the whole topology is declared (and
//! earlier releases' topology upgraded).

use lapin::{Channel, Connection, ConnectionProperties, options::ConfirmSelectOptions};
use tokio_util::sync::CancellationToken;

use super::{AmqpError, timed};
use crate::{retry, topology::Topology};

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
        super::upgrade::retire_legacy_parked(&connection, topology).await?;
        timed(channel.confirm_select(ConfirmSelectOptions::default())).await?;
        Ok(Self {
            connection,
            channel,
        })
    }

    /// Connect, waiting for the broker until it answers; `None` if `shutdown` fires first.
    pub async fn open_with_retry(
        url: &str,
        name: &str,
        topology: &Topology,
        shutdown: &CancellationToken,
    ) -> Option<Self> {
        // No broker error is permanent here: a wrong URL or credentials are logged on every
        // try, and the operator fixes the setting and restarts.
        retry::wait_for(
            "RabbitMQ",
            shutdown,
            |_| false,
            || Self::open(url, name, topology),
        )
        .await
        .ok()
        .flatten()
    }

    pub fn is_usable(&self) -> bool {
        self.channel.status().connected()
    }

    /// Close the channel and the connection, ignoring errors: the link is being dropped.
    pub async fn close(&self) {
        let _ = self.channel.close(200, "bye".into()).await;
        let _ = self.connection.close(200, "bye".into()).await;
    }
}
