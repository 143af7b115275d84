//! Every exchange and queue imagepipe uses, named and declared in one place.
//!
//! ```text
//!  ingest ──▶ {p}.jobs (direct) ──job──▶ {p}.jobs  [quorum] ◀── processors consume
//!                  ▲                         │ dead-letter (delivery limit, reject)
//!                  │ TTL expiry              ▼
//!  {p}.retry ──▶ {p}.jobs.retry.{N}ms     {p}.dead (fanout) ──▶ {p}.dead [quorum] ◀── result-writer
//!                                                                     │ after marking FAILED
//!  processors ──▶ {p}.events (direct) ──▶ {p}.events [quorum]         ▼
//!                                           ◀── result-writer    {p}.parking ──▶ {p}.parked.v2
//!                                                                (kept for inspection/re-drive)
//!                                                                     │ rejected by an operator
//!                                                                     ▼
//!                                                    {p}.discarded ──▶ {p}.discarded (expires)
//!
//!  ingest ──▶ {p}.cancellations (fanout) ──▶ one private queue per processor
//! ```
//!
//! Queue arguments cannot change on a live queue (RabbitMQ answers 406 on redeclare), so a
//! retry delay is part of its queue's name: changing the delays declares new queues. For the
//! same reason the parked queue is `{p}.parked.v2`: the first one (`{p}.parked`) dead-lettered
//! into the exchange that routes to itself, so a parked job rejected from the console came
//! straight back; [`crate::amqp::Link`] moves its messages over and deletes it
//! (`amqp::upgrade`).

use std::time::Duration;

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::retry::DELIVERY_LIMIT;

/// Routing key of jobs on the jobs exchange.
pub const JOB_ROUTING_KEY: &str = "job";
/// Routing key of status events on the events exchange.
pub const EVENT_ROUTING_KEY: &str = "event";

/// How long a discarded parked job is kept before it expires.
pub const DISCARDED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most discarded jobs kept; past it the oldest go first.
pub const DISCARDED_MAX_LENGTH: i64 = 100_000;

/// Names of everything on the broker, derived from one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    retry_delays: Vec<Duration>,
}

impl Topology {
    pub fn new(prefix: impl Into<String>, retry_delays: Vec<Duration>) -> Self {
        Self {
            prefix: prefix.into(),
            retry_delays,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }
    pub fn jobs_queue(&self) -> String {
        format!("{}.jobs", self.prefix)
    }
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }
    pub fn events_queue(&self) -> String {
        format!("{}.events", self.prefix)
    }
    pub fn retry_exchange(&self) -> String {
        format!("{}.retry", self.prefix)
    }
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn parking_exchange(&self) -> String {
        format!("{}.parking", self.prefix)
    }
    pub fn parked_queue(&self) -> String {
        format!("{}.parked.v2", self.prefix)
    }
    /// The parked queue of releases before `{p}.parked.v2`, retired on upgrade.
    pub fn legacy_parked_queue(&self) -> String {
        format!("{}.parked", self.prefix)
    }
    pub fn discarded_exchange(&self) -> String {
        format!("{}.discarded", self.prefix)
    }
    pub fn discarded_queue(&self) -> String {
        format!("{}.discarded", self.prefix)
    }
    /// Cancellations are broadcast: every processor hears of each one.
    pub fn cancellations_exchange(&self) -> String {
        format!("{}.cancellations", self.prefix)
    }

    /// The retry delays, shortest first.
    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// Routing key (on the retry exchange) of the retry queue with this delay.
    pub fn retry_routing_key(delay: Duration) -> String {
        format!("{}ms", delay.as_millis())
    }

    pub fn retry_queue(&self, delay: Duration) -> String {
        format!(
            "{}.jobs.retry.{}",
            self.prefix,
            Self::retry_routing_key(delay)
        )
    }

    /// The delay before retry number `retry` (1 for the first retry): the configured delays in
    /// order, the last one repeating.
    pub fn retry_delay(&self, retry: u32) -> Duration {
        let index = (retry.max(1) as usize - 1).min(self.retry_delays.len().saturating_sub(1));
        self.retry_delays
            .get(index)
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }

    /// Every queue, for tests and tools that inspect or delete them.
    pub fn all_queues(&self) -> Vec<String> {
        let mut queues = vec![
            self.jobs_queue(),
            self.events_queue(),
            self.dead_letter_queue(),
            self.parked_queue(),
            self.discarded_queue(),
        ];
        queues.extend(self.retry_delays.iter().map(|d| self.retry_queue(*d)));
        queues
    }

    pub fn all_exchanges(&self) -> Vec<String> {
        vec![
            self.jobs_exchange(),
            self.events_exchange(),
            self.retry_exchange(),
            self.dead_letter_exchange(),
            self.parking_exchange(),
            self.discarded_exchange(),
            self.cancellations_exchange(),
        ]
    }

    /// Declare everything. Idempotent: every service calls it at startup.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for (name, kind) in [
            (self.jobs_exchange(), ExchangeKind::Direct),
            (self.events_exchange(), ExchangeKind::Direct),
            (self.retry_exchange(), ExchangeKind::Direct),
            (self.dead_letter_exchange(), ExchangeKind::Fanout),
            (self.parking_exchange(), ExchangeKind::Fanout),
            (self.discarded_exchange(), ExchangeKind::Fanout),
            (self.cancellations_exchange(), ExchangeKind::Fanout),
        ] {
            channel
                .exchange_declare(name.into(), kind, durable, FieldTable::default())
                .await?;
        }

        // Work queues: quorum (replicated, and they count deliveries), dead-lettering into the
        // dead-letter exchange. On RabbitMQ 4 a quorum queue drops a message past its delivery
        // limit unless a dead-letter target is set: it is always set here.
        self.queue(
            channel,
            self.jobs_queue(),
            quorum_args(&self.dead_letter_exchange()),
            &self.jobs_exchange(),
            JOB_ROUTING_KEY,
        )
        .await?;
        self.queue(
            channel,
            self.events_queue(),
            quorum_args(&self.dead_letter_exchange()),
            &self.events_exchange(),
            EVENT_ROUTING_KEY,
        )
        .await?;

        // Dead letters are read by the result-writer, which marks the task FAILED and moves
        // the message on to the parked queue. If even that keeps failing, the delivery limit
        // moves it to the parked queue directly.
        self.queue(
            channel,
            self.dead_letter_queue(),
            quorum_args(&self.parking_exchange()),
            &self.dead_letter_exchange(),
            "",
        )
        .await?;
        // Parked jobs wait here for an operator: nobody consumes it. An operator who rejects
        // one (or requeues it past the delivery limit) sends it on to the discarded queue.
        self.queue(
            channel,
            self.parked_queue(),
            quorum_args(&self.discarded_exchange()),
            &self.parking_exchange(),
            "",
        )
        .await?;
        // The end of the road, and the one queue without a dead-letter target: what reaches it
        // was parked and then deliberately thrown away, so it is kept a week for a second look
        // (and at most DISCARDED_MAX_LENGTH of it, oldest dropped first), then expires.
        let mut discarded = FieldTable::default();
        discarded.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(i64::try_from(DISCARDED_TTL.as_millis()).unwrap_or(i64::MAX)),
        );
        discarded.insert(
            "x-max-length".into(),
            AMQPValue::LongLongInt(DISCARDED_MAX_LENGTH),
        );
        self.queue(
            channel,
            self.discarded_queue(),
            discarded,
            &self.discarded_exchange(),
            "",
        )
        .await?;

        // Retry queues hold a job for their TTL, then dead-letter it back to the jobs exchange.
        // Classic queues: they are never consumed, only expired, which classic queues do in
        // order and cheaply on every RabbitMQ version.
        for delay in &self.retry_delays {
            let mut args = FieldTable::default();
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            );
            args.insert("x-dead-letter-exchange".into(), long(&self.jobs_exchange()));
            args.insert("x-dead-letter-routing-key".into(), long(JOB_ROUTING_KEY));
            self.queue(
                channel,
                self.retry_queue(*delay),
                args,
                &self.retry_exchange(),
                &Self::retry_routing_key(*delay),
            )
            .await?;
        }
        Ok(())
    }

    async fn queue(
        &self,
        channel: &Channel,
        name: String,
        args: FieldTable,
        exchange: &str,
        routing_key: &str,
    ) -> lapin::Result<()> {
        channel
            .queue_declare(
                ShortString::from(name.clone()),
                QueueDeclareOptions::durable(),
                args,
            )
            .await?;
        channel
            .queue_bind(
                name.into(),
                exchange.into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn quorum_args(dead_letter_exchange: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long("quorum"));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(DELIVERY_LIMIT),
    );
    args.insert("x-dead-letter-exchange".into(), long(dead_letter_exchange));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_then_repeat_the_last() {
        let t = Topology::new(
            "p",
            vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
        );
        assert_eq!(t.retry_delay(1), Duration::from_secs(1));
        assert_eq!(t.retry_delay(2), Duration::from_secs(5));
        assert_eq!(t.retry_delay(3), Duration::from_secs(30));
        assert_eq!(t.retry_delay(9), Duration::from_secs(30));
        assert_eq!(t.retry_queue(Duration::from_secs(5)), "p.jobs.retry.5000ms");
    }
}
