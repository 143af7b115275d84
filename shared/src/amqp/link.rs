//! A connection with one confirm-mode channel on which the whole topology is declared (and
//! earlier releases' topology upgraded).

use std::time::Duration;

use lapin::{
    Channel, Connection, ConnectionProperties, options::ConfirmSelectOptions, uri::AMQPUri,
};
use tokio_util::sync::CancellationToken;

use super::{AmqpError, timed};
use crate::{retry, topology::Topology};

/// The AMQP heartbeat asked for when the URL names none (`?heartbeat=N` names one), in
/// seconds. A connection that goes silent without closing (a partition, a hung broker; a
/// consumer on it just sees no deliveries) is noticed after two intervals without a frame, so
/// 20 s, and the service reconnects; with the broker's default of 60 s it took two minutes,
/// during which no job moved.
pub const DEFAULT_HEARTBEAT_SECS: u16 = 10;

/// How long closing a link may take: a courtesy to the broker (closing hands unacked
/// deliveries back, as dropping the connection does), never worth hanging a shutdown on a
/// connection that went silent.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Link {
    /// Kept so the connection lives as long as the channel.
    pub connection: Connection,
    pub channel: Channel,
}

impl Link {
    /// Connect once, declare the topology, and put the channel in confirm mode.
    pub async fn open(url: &str, name: &str, topology: &Topology) -> Result<Self, AmqpError> {
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let connection = timed(Connection::connect_uri(with_heartbeat(url)?, props)).await?;
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

    /// Close the channel and the connection, ignoring errors and giving up after
    /// [`CLOSE_TIMEOUT`] each: the link is being dropped.
    pub async fn close(&self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.channel.close(200, "bye".into())).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.connection.close(200, "bye".into())).await;
    }
}

/// `url` parsed, with [`DEFAULT_HEARTBEAT_SECS`] unless it names a heartbeat.
fn with_heartbeat(url: &str) -> Result<AMQPUri, AmqpError> {
    let mut uri: AMQPUri = url.parse().map_err(AmqpError::InvalidUrl)?;
    uri.query.heartbeat.get_or_insert(DEFAULT_HEARTBEAT_SECS);
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_heartbeat_gets_the_default_and_one_with_keeps_its_own() {
        let plain = with_heartbeat("amqp://guest:guest@localhost:5672/%2f").unwrap();
        assert_eq!(plain.query.heartbeat, Some(DEFAULT_HEARTBEAT_SECS));
        assert_eq!(plain.vhost, "/");
        let own = with_heartbeat("amqp://localhost:5672/%2f?heartbeat=30").unwrap();
        assert_eq!(own.query.heartbeat, Some(30));
        assert!(with_heartbeat("not a url").is_err());
    }
}
