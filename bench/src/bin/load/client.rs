//! Talking to the system under test: the HTTP API, the object store (with the storage client
//! ingest uses), PostgreSQL and the processor's metrics.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use bytes::Bytes;
use imagepipe_shared::{config::StorageConfig, storage::Storage};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use uuid::Uuid;

/// One request as the client saw it: status (0 when the request failed without an answer),
/// time from sending to the last byte of the answer, and the task id of an accepted upload.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub status: u16,
    pub ms: f64,
    pub task_id: Option<Uuid>,
}

#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    /// `BENCH_STEPS`: the chain every upload asks for (JSON text, the form's `steps`);
    /// unset, the default chain.
    steps: Option<String>,
}

impl Api {
    pub(crate) fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            steps: std::env::var("BENCH_STEPS").ok().filter(|s| !s.is_empty()),
        })
    }

    /// POST /api/v1/analyze with `bytes` as the multipart field `file`.
    pub(crate) async fn upload(&self, name: &str, bytes: Bytes, mime: &str) -> Sample {
        let start = Instant::now();
        let len = bytes.len() as u64;
        let result = async {
            let part = reqwest::multipart::Part::stream_with_length(bytes, len)
                .file_name(name.to_owned())
                .mime_str(mime)?;
            let mut form = reqwest::multipart::Form::new().part("file", part);
            if let Some(steps) = &self.steps {
                form = form.text("steps", steps.clone());
            }
            let response = self
                .http
                .post(format!("{}/api/v1/analyze", self.base))
                .multipart(form)
                .send()
                .await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok((status, body)) => {
                let task_id = (status == 202)
                    .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                    .flatten()
                    .and_then(|v| v["task_id"].as_str().and_then(|s| s.parse().ok()));
                Sample {
                    status,
                    ms,
                    task_id,
                }
            }
            Err(_) => Sample {
                status: 0,
                ms,
                task_id: None,
            },
        }
    }

    /// GET /api/v1/tasks/{id}, the whole body read.
    pub(crate) async fn task(&self, id: Uuid) -> Sample {
        let start = Instant::now();
        let result = async {
            let response = self
                .http
                .get(format!("{}/api/v1/tasks/{id}", self.base))
                .send()
                .await?;
            let status = response.status().as_u16();
            response.bytes().await?;
            Ok::<_, reqwest::Error>(status)
        }
        .await;
        Sample {
            status: result.unwrap_or(0),
            ms: start.elapsed().as_secs_f64() * 1000.0,
            task_id: Some(id),
        }
    }

    pub(crate) async fn get_text(&self, url: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }
}

/// Run `f(0..n)` with `concurrency` workers (each its own tokio task), each taking the next
/// index when it is done with one: a closed loop of `concurrency` clients. Returns the results
/// and the wall time from the first start to the last finish.
pub(crate) async fn closed_loop<T, F, Fut>(n: usize, concurrency: usize, f: F) -> (Vec<T>, Duration)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.clamp(1, n.max(1)))
        .map(|_| {
            let f = f.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return out;
                    }
                    out.push(f(i).await);
                }
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for worker in workers {
        if let Ok(out) = worker.await {
            results.extend(out);
        }
    }
    (results, start.elapsed())
}

/// The task database of the system under test.
pub(crate) struct Db {
    pub conn: DatabaseConnection,
    pub name: String,
}

impl Db {
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Self> {
        let conn = Database::connect(url)
            .await
            .with_context(|| format!("connect to {url}"))?;
        let name = url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Self { conn, name })
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let row = self
            .conn
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?
            .context("no row")?;
        Ok(row.try_get::<i64>("", "n")?)
    }

    pub(crate) async fn outbox_len(&self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) AS n FROM outbox").await
    }

    pub(crate) async fn unfinished(&self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) AS n FROM tasks WHERE status IN ('PENDING', 'PROCESSING')")
            .await
    }

    pub(crate) async fn pending(&self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) AS n FROM tasks WHERE status = 'PENDING'")
            .await
    }

    /// How many of `ids` are in a terminal state, and how many of those COMPLETED.
    pub(crate) async fn finished(&self, ids: &[Uuid]) -> anyhow::Result<(i64, i64)> {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')) AS n,
                    count(*) FILTER (WHERE status = 'COMPLETED') AS c
             FROM tasks WHERE id = ANY({})",
            id_array(ids)
        );
        let row = self
            .conn
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?
            .context("no row")?;
        Ok((row.try_get::<i64>("", "n")?, row.try_get::<i64>("", "c")?))
    }

    /// Per COMPLETED task of `ids`: created→started and started→completed, in ms, and the
    /// epoch seconds of its creation and completion.
    pub(crate) async fn timings(&self, ids: &[Uuid]) -> anyhow::Result<Vec<TaskTiming>> {
        let sql = format!(
            "SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS pickup_ms,
                    extract(epoch FROM completed_at - started_at)::float8 * 1000 AS work_ms,
                    extract(epoch FROM created_at)::float8 AS created,
                    extract(epoch FROM completed_at)::float8 AS completed
             FROM tasks WHERE status = 'COMPLETED' AND id = ANY({})",
            id_array(ids)
        );
        let rows = self
            .conn
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TaskTiming {
                    pickup_ms: row.try_get("", "pickup_ms")?,
                    work_ms: row.try_get("", "work_ms")?,
                    created: row.try_get("", "created")?,
                    completed: row.try_get("", "completed")?,
                })
            })
            .collect()
    }

    /// Wait until the outbox is empty (every accepted job handed to the broker).
    pub(crate) async fn wait_outbox_empty(&self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.outbox_len().await? > 0 {
            anyhow::ensure!(start.elapsed() < limit, "outbox not empty after {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Wait until every one of `ids` is in a terminal state; the instant it was seen so.
    pub(crate) async fn wait_finished(
        &self,
        ids: &[Uuid],
        limit: Duration,
    ) -> anyhow::Result<Instant> {
        let start = Instant::now();
        loop {
            let (done, _) = self.finished(ids).await?;
            if done as usize >= ids.len() {
                return Ok(Instant::now());
            }
            anyhow::ensure!(
                start.elapsed() < limit,
                "{done} of {} tasks finished after {limit:?}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Wait until no task is PENDING or PROCESSING.
    pub(crate) async fn wait_idle(&self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.unfinished().await? > 0 {
            anyhow::ensure!(
                start.elapsed() < limit,
                "tasks still unfinished after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskTiming {
    pub pickup_ms: f64,
    pub work_ms: f64,
    pub created: f64,
    pub completed: f64,
}

fn id_array(ids: &[Uuid]) -> String {
    let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    format!("ARRAY[{}]::uuid[]", list.join(","))
}

/// A counter or histogram sum from the processor's OpenMetrics text.
pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The processor's pixel work so far: (seconds, jobs).
pub(crate) async fn kernel_totals(api: &Api, processor_url: &str) -> anyhow::Result<(f64, f64)> {
    let text = api.get_text(&format!("{processor_url}/metrics")).await?;
    Ok((
        metric(&text, "imagepipe_processing_seconds_sum"),
        metric(&text, "imagepipe_processing_seconds_count"),
    ))
}

/// The processor's per-step timings so far (`imagepipe_job_stage_seconds`): stage → (seconds,
/// count).
pub(crate) async fn stage_totals(
    api: &Api,
    processor_url: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, (f64, f64)>> {
    let text = api.get_text(&format!("{processor_url}/metrics")).await?;
    let mut totals = std::collections::BTreeMap::<String, (f64, f64)>::new();
    for line in text.lines() {
        let (is_sum, rest) =
            if let Some(rest) = line.strip_prefix("imagepipe_job_stage_seconds_sum{") {
                (true, rest)
            } else if let Some(rest) = line.strip_prefix("imagepipe_job_stage_seconds_count{") {
                (false, rest)
            } else {
                continue;
            };
        let Some(stage) = rest
            .strip_prefix("stage=\"")
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let entry = totals.entry(stage.to_owned()).or_default();
        if is_sum {
            entry.0 += value;
        } else {
            entry.1 += value;
        }
    }
    Ok(totals)
}

/// Delete every object of both buckets, with the same storage client ingest uses.
pub(crate) async fn cleanup(config: &StorageConfig) -> anyhow::Result<()> {
    let storage = Storage::open(config)?;
    for (name, bucket) in [
        (&config.uploads_bucket, &storage.uploads),
        (&config.processed_bucket, &storage.processed),
    ] {
        match bucket.delete_all().await {
            Ok(n) => eprintln!("cleanup: {name}: {n} objects deleted"),
            // A bucket that does not exist (yet) is empty.
            Err(err) => eprintln!("cleanup: cannot empty {name}: {err}"),
        }
    }
    Ok(())
}
