//! What the checker reads from the broker, directly (never through the chaos proxy): how many
//! messages wait in each of the system's queues, and which tasks the parked jobs belong to.

use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeclareOptions},
    types::FieldTable,
};
use uuid::Uuid;

use crate::TestSystem;

/// The queues that must be empty once the system has settled: work, retries, status events,
/// dead letters.
pub(crate) fn drained_queues(system: &TestSystem) -> Vec<String> {
    let topology = &system.topology;
    let mut queues = vec![topology.jobs_queue()];
    queues.extend(
        topology
            .retry_delays()
            .iter()
            .map(|d| topology.retry_queue(*d)),
    );
    queues.extend([topology.events_queue(), topology.dead_letter_queue()]);
    queues
}

/// Messages ready in each of `queues`, over one connection.
pub(crate) async fn depths(system: &TestSystem, queues: &[String]) -> Vec<(String, u32)> {
    let connection = connect(system).await;
    let channel = connection.create_channel().await.expect("channel");
    let mut depths = Vec::new();
    for queue in queues {
        let depth = channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default().passive(),
                FieldTable::default(),
            )
            .await
            .expect("the queue exists")
            .message_count();
        depths.push((queue.clone(), depth));
    }
    connection.close(200, "bye".into()).await.ok();
    depths
}

/// The task and run of every parked job (a body that names none counts as `None`). The jobs
/// are read without an ack and go back to the queue when the connection closes.
pub(crate) async fn parked_jobs(system: &TestSystem) -> Vec<Option<(Uuid, i64)>> {
    let connection = connect(system).await;
    let channel = connection.create_channel().await.expect("channel");
    let queue = system.topology.parked_queue();
    let mut jobs = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
        .await
        .expect("basic.get on the parked queue")
    {
        let body: serde_json::Value =
            serde_json::from_slice(&message.delivery.data).unwrap_or_default();
        let task = body["task_id"].as_str().and_then(|s| s.parse().ok());
        let run = body["run"].as_i64().unwrap_or(0);
        jobs.push(task.map(|task| (task, run)));
    }
    connection.close(200, "bye".into()).await.ok();
    jobs
}

async fn connect(system: &TestSystem) -> Connection {
    Connection::connect(&system.amqp_url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ reachable")
}
