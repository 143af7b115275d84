//! The checker, in the spirit of Jepsen's RabbitMQ checker: once the last fault healed, wait
//! (at most D) for the system to settle — every task terminal, the outbox and the queues
//! drained, every webhook delivered — then account for every upload answered `202` from the
//! database, the object store, the broker and what the clients and the webhook receiver saw.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    time::Duration,
};

use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    broker,
    cluster::Cluster,
    history::History,
    settle::settle,
    tables::{Delivery, count, deliveries, queued_tasks, tasks},
};

/// What the checker found. Every list must be empty.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// How long after the last fault healed the system settled; `None`: not within D.
    pub(crate) settled_after: Option<Duration>,
    pub(crate) tasks: usize,
    /// Tasks in the database whose upload no client saw answered `202` (an ingest died
    /// after the commit): checked like the others.
    pub(crate) unanswered: usize,
    /// Of those, the ones whose upload was answered, and refused (a 503 after a commit whose
    /// outcome ingest could not learn): counted for information.
    pub(crate) refused_but_kept: Vec<String>,
    /// Tasks by final status, FAILED ones by error code.
    pub(crate) finals: BTreeMap<String, u64>,
    /// Accepted, and gone or never to end: no row, a `404`, or not terminal with no job left
    /// anywhere (outbox, work, retry or event queue).
    pub(crate) lost: Vec<String>,
    /// Not terminal D after the last fault, with a job still somewhere.
    pub(crate) stuck: Vec<String>,
    /// Two result objects for one task, or two final states for one run.
    pub(crate) duplicated: Vec<String>,
    pub(crate) completed_without_object: Vec<String>,
    /// Cancels answered `200` whose task ended otherwise; retries answered `202` that started
    /// no new run; replays answered with another task; tasks that lost their original.
    pub(crate) broken_promises: Vec<String>,
    pub(crate) parked: usize,
    /// Parked jobs whose task (in that run) is not FAILED.
    pub(crate) parked_not_failed: Vec<String>,
    /// Terminal runs with a callback whose webhook no request carried, or was carried under
    /// more than one delivery id.
    pub(crate) webhook_misses: Vec<String>,
    /// Deliveries received more than once under their id (allowed: at least once).
    pub(crate) webhook_redeliveries: usize,
    pub(crate) webhooks_received: usize,
    /// Messages left in each queue that must be empty, and rows left in the outbox.
    pub(crate) leftovers: Vec<(String, u32)>,
    /// Result objects of tasks that are not COMPLETED (a cancelled task's late result is
    /// deleted; counted for information).
    pub(crate) orphan_results: Vec<String>,
}

pub(crate) async fn check(cluster: &mut Cluster, history: &History, quiet: Duration) -> Verdict {
    let healed = Instant::now();
    let mut verdict = Verdict {
        settled_after: settle(cluster, quiet).await.then(|| healed.elapsed()),
        ..Verdict::default()
    };
    let system = &cluster.system;
    let tasks = tasks(system).await;
    verdict.tasks = tasks.len();
    let accepted: HashSet<Uuid> = history.with(|h| h.accepted_set.clone());
    let answers = history.with(|h| h.upload_answers.clone());
    for (id, task) in tasks.iter().filter(|(id, _)| !accepted.contains(id)) {
        verdict.unanswered += 1;
        let answered = task.file_name.as_ref().and_then(|name| answers.get(name));
        if let Some(answered) = answered.filter(|a| a.iter().all(Option::is_some)) {
            verdict.refused_but_kept.push(format!(
                "{id}: answered {answered:?}, ended {}",
                task.status
            ));
        }
    }
    for (id, task) in &tasks {
        // An accepted upload's original is kept until its task is deleted.
        if task.error_code.as_deref() == Some("original_missing") {
            verdict
                .broken_promises
                .push(format!("{id}: FAILED original_missing"));
        }
    }
    for task in tasks.values() {
        let name = match &task.error_code {
            Some(code) if task.status == "FAILED" => format!("FAILED {code}"),
            _ => task.status.clone(),
        };
        *verdict.finals.entry(name).or_default() += 1;
    }

    // Lost and stuck: over every accepted task and every task in the database.
    let queued = queued_tasks(system).await;
    let vanished = history.with(|h| h.vanished.clone());
    let everyone: BTreeSet<Uuid> = accepted.iter().chain(tasks.keys()).copied().collect();
    for id in &everyone {
        match tasks.get(id) {
            None => verdict.lost.push(format!("{id}: no task row")),
            Some(_) if vanished.contains(id) => verdict.lost.push(format!("{id}: read as 404")),
            Some(task) if !is_terminal(&task.status) => {
                let entry = format!("{id}: {} in run {}", task.status, task.run);
                if queued.contains(id) {
                    verdict.stuck.push(entry);
                } else {
                    verdict.lost.push(format!("{entry}, no job left"));
                }
            }
            Some(_) => {}
        }
    }

    // Result objects: one per task, present for every COMPLETED one.
    let keys = system
        .storage
        .processed
        .keys()
        .await
        .expect("list the processed bucket");
    let mut objects: HashMap<Uuid, Vec<String>> = HashMap::new();
    for key in keys {
        let id = key
            .strip_prefix("results/")
            .and_then(|rest| rest.split('.').next())
            .and_then(|id| id.parse().ok());
        if let Some(id) = id {
            objects.entry(id).or_default().push(key);
        }
    }
    for (id, keys) in &objects {
        if keys.len() > 1 {
            verdict
                .duplicated
                .push(format!("{id}: result objects {keys:?}"));
        }
        match tasks.get(id) {
            Some(task) if task.status == "COMPLETED" => {}
            task => verdict.orphan_results.push(format!(
                "{id} ({})",
                task.map_or("no task", |t| t.status.as_str())
            )),
        }
    }
    for (id, task) in &tasks {
        if task.status == "COMPLETED" {
            let stored = task
                .result_key
                .as_ref()
                .is_some_and(|key| objects.get(id).is_some_and(|keys| keys.contains(key)));
            if !stored {
                verdict
                    .completed_without_object
                    .push(format!("{id}: result {:?}", task.result_key));
            }
        }
    }

    // Final states per run: what reads saw, what webhooks said, what the delivery rows hold.
    let mut finals: HashMap<(Uuid, i32), BTreeSet<String>> =
        history.with(|h| h.finals_read.clone());
    let received = cluster.receiver.received();
    verdict.webhooks_received = received.len();
    let mut ids_received: HashMap<(Uuid, i32), BTreeSet<String>> = HashMap::new();
    let mut times_received: HashMap<String, usize> = HashMap::new();
    for request in &received {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let (Some(task), Some(run)) = (
            body["task_id"].as_str().and_then(|s| s.parse().ok()),
            body["run"].as_i64().and_then(|r| i32::try_from(r).ok()),
        ) else {
            continue;
        };
        let id = request
            .headers
            .get("imagepipe-delivery")
            .cloned()
            .unwrap_or_default();
        *times_received.entry(id.clone()).or_default() += 1;
        ids_received.entry((task, run)).or_default().insert(id);
        if let Some(status) = body["status"].as_str() {
            finals
                .entry((task, run))
                .or_default()
                .insert(status.to_owned());
        }
    }
    verdict.webhook_redeliveries = times_received.values().filter(|&&n| n > 1).count();
    let deliveries = deliveries(system).await;
    let mut rows_per_run: HashMap<(Uuid, i32), Vec<&Delivery>> = HashMap::new();
    for delivery in &deliveries {
        rows_per_run
            .entry((delivery.task, delivery.run))
            .or_default()
            .push(delivery);
        finals
            .entry((delivery.task, delivery.run))
            .or_default()
            .insert(delivery.status.clone());
    }
    for ((id, run), states) in &finals {
        if states.len() > 1 {
            verdict
                .duplicated
                .push(format!("{id} run {run}: final states {states:?}"));
        }
    }
    for (id, task) in tasks
        .iter()
        .filter(|(_, t)| t.callback && is_terminal(&t.status))
    {
        // Every run but the last ended FAILED (only a FAILED task can be retried).
        for run in 0..=task.run {
            let rows = rows_per_run.get(&(*id, run)).map_or(&[][..], Vec::as_slice);
            let ids = ids_received.get(&(*id, run));
            let miss = match rows {
                [row] => {
                    !ids.is_some_and(|ids| ids.len() == 1 && ids.contains(&row.id.to_string()))
                }
                _ => true,
            };
            if miss {
                verdict.webhook_misses.push(format!(
                    "{id} run {run}: {} delivery rows, received under {ids:?}",
                    rows.len()
                ));
            }
        }
    }

    // What the API promised its clients.
    history.with(|h| {
        for id in &h.cancelled {
            if tasks.get(id).is_some_and(|t| t.status != "CANCELLED") {
                verdict
                    .broken_promises
                    .push(format!("{id}: cancelled (200), ended otherwise"));
            }
        }
        for (id, run) in &h.retried {
            if tasks.get(id).is_some_and(|t| t.run <= *run) {
                verdict
                    .broken_promises
                    .push(format!("{id}: retried (202) from run {run}, no new run"));
            }
        }
        for mismatch in &h.replay_mismatches {
            verdict
                .broken_promises
                .push(format!("replay answered another task: {mismatch}"));
        }
    });

    // Parked jobs, each with its task FAILED (in that run, or retried since).
    let parked = broker::parked_jobs(system).await;
    verdict.parked = parked.len();
    for job in parked {
        let failed = job.is_some_and(|(id, run)| {
            tasks.get(&id).is_some_and(|t| {
                (t.status == "FAILED" && i64::from(t.run) == run) || i64::from(t.run) > run
            })
        });
        if !failed {
            verdict.parked_not_failed.push(format!("{job:?}"));
        }
    }

    // Nothing left behind.
    let mut leftovers = broker::depths(system, &broker::drained_queues(system)).await;
    leftovers.push((
        "outbox".to_owned(),
        count(system, "SELECT count(*) AS n FROM outbox").await,
    ));
    verdict.leftovers = leftovers.into_iter().filter(|(_, n)| *n > 0).collect();
    verdict
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "COMPLETED" | "FAILED" | "CANCELLED")
}
