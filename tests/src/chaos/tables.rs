//! What the checker reads from the system's database, directly (never through the chaos
//! proxy): the tasks, the webhook deliveries, counts.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use uuid::Uuid;

use super::broker;
use crate::TestSystem;

pub(crate) struct Task {
    pub(crate) status: String,
    pub(crate) run: i32,
    pub(crate) result_key: Option<String>,
    pub(crate) error_code: Option<String>,
    pub(crate) callback: bool,
    /// The upload's file name, unique per upload in a chaos run.
    pub(crate) file_name: Option<String>,
}

pub(crate) async fn rows(system: &TestSystem, sql: &str) -> Vec<QueryResult> {
    system
        .db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub(crate) async fn count(system: &TestSystem, sql: &str) -> u32 {
    let rows = rows(system, sql).await;
    let n: i64 = rows[0].try_get("", "n").expect("a count");
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) async fn tasks(system: &TestSystem) -> HashMap<Uuid, Task> {
    let sql =
        "SELECT id, status, run, result_key, error_code, callback_url IS NOT NULL AS callback,
                      original_filename
                 FROM tasks";
    rows(system, sql)
        .await
        .into_iter()
        .map(|row| {
            let get = |column: &str| row.try_get::<Option<String>>("", column).expect(column);
            let id: Uuid = row.try_get("", "id").expect("id");
            let task = Task {
                status: get("status").unwrap_or_default(),
                run: row.try_get("", "run").expect("run"),
                result_key: get("result_key"),
                error_code: get("error_code"),
                callback: row.try_get("", "callback").expect("callback"),
                file_name: get("original_filename"),
            };
            (id, task)
        })
        .collect()
}

/// Tasks that still have a job somewhere: a row in the outbox, or a message in the work, retry
/// or event queues (which the checker does not read message by message: a queue that is not
/// empty makes every unfinished task count as queued).
pub(crate) async fn queued_tasks(system: &TestSystem) -> HashSet<Uuid> {
    let queued: u32 = broker::depths(system, &broker::drained_queues(system))
        .await
        .iter()
        .map(|(_, n)| n)
        .sum();
    let sql = if queued > 0 {
        "SELECT id FROM tasks"
    } else {
        "SELECT task_id AS id FROM outbox"
    };
    rows(system, sql)
        .await
        .into_iter()
        .map(|row| row.try_get("", "id").expect("id"))
        .collect()
}

pub(crate) struct Delivery {
    pub(crate) id: Uuid,
    pub(crate) task: Uuid,
    pub(crate) run: i32,
    pub(crate) status: String,
}

pub(crate) async fn deliveries(system: &TestSystem) -> Vec<Delivery> {
    rows(
        system,
        "SELECT id, task_id, run, status FROM webhook_deliveries",
    )
    .await
    .into_iter()
    .map(|row| Delivery {
        id: row.try_get("", "id").expect("id"),
        task: row.try_get("", "task_id").expect("task_id"),
        run: row.try_get("", "run").expect("run"),
        status: row.try_get("", "status").expect("status"),
    })
    .collect()
}
