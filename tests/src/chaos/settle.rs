//! The quiet period: after the last fault healed, wait until the system has nothing left to
//! do — every task terminal, the outbox and the queues empty, no webhook waiting — reporting
//! every 5 s what it is still busy with (where D goes).

use std::time::Duration;

use tokio::time::Instant;

use super::{
    broker,
    cluster::Cluster,
    tables::{count, rows},
};

/// Wait until every task is terminal, the outbox and the queues are empty and no webhook
/// waits, polling; whether that happened within `quiet`.
pub(crate) async fn settle(cluster: &mut Cluster, quiet: Duration) -> bool {
    let started = Instant::now();
    let queues = broker::drained_queues(&cluster.system);
    let mut reported = Duration::ZERO;
    loop {
        cluster.revive_crashed();
        let system = &cluster.system;
        let unfinished = count(
            system,
            "SELECT count(*) AS n FROM tasks WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')",
        )
        .await;
        let outbox = count(system, "SELECT count(*) AS n FROM outbox").await;
        let webhooks = count(
            system,
            "SELECT count(*) AS n FROM webhook_deliveries
              WHERE delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .await;
        let depths = broker::depths(system, &queues).await;
        let queued: u32 = depths.iter().map(|(_, n)| n).sum();
        if unfinished + outbox + webhooks + queued == 0 {
            return true;
        }
        // What the system is still busy with, every 5 s: where D goes.
        if started.elapsed() >= reported {
            let depths: Vec<_> = depths.iter().filter(|(_, n)| *n > 0).collect();
            let examples: Vec<String> = rows(
                system,
                "SELECT id::text || ' ' || status || ' attempts ' || attempts AS t FROM tasks
                  WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') LIMIT 3",
            )
            .await
            .iter()
            .filter_map(|row| row.try_get::<String>("", "t").ok())
            .collect();
            eprintln!(
                "chaos: settling, {:.0} s: {unfinished} tasks unfinished {examples:?}, {outbox} in \
                 the outbox, {webhooks} webhooks waiting, queued {depths:?}",
                started.elapsed().as_secs_f64()
            );
            reported += Duration::from_secs(5);
        }
        if started.elapsed() >= quiet {
            return false;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
