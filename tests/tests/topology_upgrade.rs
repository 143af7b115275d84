//! The broker topology of an earlier release upgrades by deploying: the first parked queue
//! (`{p}.parked`, which dead-lettered into the exchange routing back to itself) is retired,
//! its jobs kept, and a parked job rejected by an operator now ends in the discarded queue
//! instead of coming straight back.

use std::time::Duration;

use imagepipe_shared::{amqp::Link, retry::DELIVERY_LIMIT, topology::Topology};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicGetOptions, BasicPublishOptions, BasicRejectOptions, ConfirmSelectOptions,
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString},
};

fn amqp_url() -> String {
    std::env::var("IMAGEPIPE_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The parking exchange and parked queue exactly as the releases before `.v2` declared them.
async fn declare_legacy_parking(channel: &Channel, topology: &Topology) {
    let parking = topology.parking_exchange();
    let legacy = topology.legacy_parked_queue();
    channel
        .exchange_declare(
            parking.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(DELIVERY_LIMIT),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from(parking.as_str())),
    );
    channel
        .queue_declare(legacy.as_str().into(), QueueDeclareOptions::durable(), args)
        .await
        .unwrap();
    channel
        .queue_bind(
            legacy.as_str().into(),
            parking.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

async fn depth(connection: &Connection, queue: &str) -> Option<u32> {
    // A passive declare of a missing queue closes its channel: one channel per question.
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await
        .ok()?;
    Some(declared.message_count())
}

async fn wait_for_depth(connection: &Connection, queue: &str, want: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = depth(connection, queue).await;
        if got == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{queue}: {got:?} messages, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_parked_queue_is_retired_without_losing_a_job_and_rejects_end_in_discarded() {
    let topology = Topology::new(
        format!("test-upgrade-{}", uuid::Uuid::new_v4().simple()),
        vec![Duration::from_secs(1)],
    );
    let url = amqp_url();
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare_legacy_parking(&channel, &topology).await;
    for n in 0..3 {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(format!("parked-{n}").into());
        channel
            .basic_publish(
                topology.parking_exchange().as_str().into(),
                "".into(),
                BasicPublishOptions::default(),
                format!("job {n}").as_bytes(),
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    wait_for_depth(&connection, &topology.legacy_parked_queue(), 3).await;

    // Deploying the new release: every service opens a link, which declares and upgrades.
    let first = Link::open(&url, "upgrade-test", &topology).await.unwrap();
    assert_eq!(
        depth(&connection, &topology.legacy_parked_queue()).await,
        None,
        "the legacy parked queue is gone"
    );
    wait_for_depth(&connection, &topology.parked_queue(), 3).await;
    // Opening again (another service, a restart) is a no-op: no 406, nothing moved twice.
    let second = Link::open(&url, "upgrade-test-2", &topology).await.unwrap();
    wait_for_depth(&connection, &topology.parked_queue(), 3).await;

    // The jobs kept their bodies and ids.
    let reader = connection.create_channel().await.unwrap();
    let message = reader
        .basic_get(
            topology.parked_queue().as_str().into(),
            BasicGetOptions { no_ack: false },
        )
        .await
        .unwrap()
        .expect("a parked job");
    let id = message.delivery.properties.message_id().clone().unwrap();
    assert!(id.as_str().starts_with("parked-"), "{id}");
    assert!(String::from_utf8_lossy(&message.delivery.data).starts_with("job "));
    // An operator rejects it from the console: it goes on to the discarded queue, not back.
    message
        .delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    wait_for_depth(&connection, &topology.discarded_queue(), 1).await;
    wait_for_depth(&connection, &topology.parked_queue(), 2).await;

    first.close().await;
    second.close().await;
    let cleanup = connection.create_channel().await.unwrap();
    for queue in topology.all_queues() {
        let _ = cleanup
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    for exchange in topology.all_exchanges() {
        let _ = cleanup
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
    connection.close(200, "bye".into()).await.ok();
}
