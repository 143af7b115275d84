//! The steady load of a chaos run: a few uploads per second (the default chain and chains of
//! their own, a file that fails to decode, some with an `Idempotency-Key` replayed later), and
//! beside them reads, lists, cancels and retries, spread over the ingest instances as a load
//! balancer would (a refused connection goes to the next). Every answer goes into the
//! [`History`]; an answer no fault explains is counted as unexpected.

use std::{sync::Arc, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::{sync::Semaphore, time::sleep};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{cluster::Clients, history::History};
use crate::{TestSystem, good_image, testdata};

/// Uploads in flight at most: a stalled ingest must not pile requests up.
const UPLOADS_IN_FLIGHT: usize = 8;
/// A chain of the client's own: small, a delay so tasks overlap, a format of its own.
const STEPS: &str =
    r#"[{"op":"resize","width":96},{"op":"delay","ms":300},{"op":"encode","format":"webp"}]"#;

/// What one upload sends; kept to be sent again as a replay when it carries a key.
#[derive(Clone)]
struct Upload {
    /// Unique per upload (`{n}-{file}`), kept by the task as its `original_filename`: the
    /// checker finds the upload of a task no client saw accepted by it.
    name: String,
    bytes: Arc<Vec<u8>>,
    steps: bool,
    key: Option<String>,
    /// Which ingest it goes to first.
    ingest: usize,
}

struct Api {
    http: reqwest::Client,
    clients: Clients,
    history: Arc<History>,
    files: Vec<(&'static str, Arc<Vec<u8>>)>,
    undecodable: Arc<Vec<u8>>,
    keyed: std::sync::Mutex<Vec<Upload>>,
}

/// Run the clients until `stop`, then wait for the requests in flight.
pub(crate) async fn run(
    clients: Clients,
    history: Arc<History>,
    seed: u64,
    stop: CancellationToken,
) {
    let files = ["rocket.jpg", "camera.png", "rocket.webp", "animated.gif"]
        .map(|name| (name, Arc::new(good_image(name))))
        .to_vec();
    let undecodable = std::fs::read(testdata("bad/truncated.jpg")).expect("truncated.jpg");
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client"),
        clients,
        history,
        files,
        undecodable: Arc::new(undecodable),
        keyed: std::sync::Mutex::new(Vec::new()),
    });
    let rng = |k: u64| StdRng::seed_from_u64(seed.wrapping_add(k));
    let loops = [
        tokio::spawn(uploads(api.clone(), rng(0), stop.clone())),
        tokio::spawn(reads(api.clone(), rng(1), stop.clone())),
        tokio::spawn(lists_and_retries(api.clone(), rng(2), stop.clone())),
        tokio::spawn(cancels(api.clone(), rng(3), stop.clone())),
        tokio::spawn(replays(api.clone(), rng(4), stop.clone())),
    ];
    for task in loops {
        task.await.expect("a load loop ends");
    }
}

/// Sleep a random while in `ms`; false once `stop` fired.
async fn pause(rng: &mut StdRng, ms: std::ops::Range<u64>, stop: &CancellationToken) -> bool {
    let wait = Duration::from_millis(rng.random_range(ms));
    tokio::select! {
        () = sleep(wait) => !stop.is_cancelled(),
        () = stop.cancelled() => false,
    }
}

async fn uploads(api: Arc<Api>, mut rng: StdRng, stop: CancellationToken) {
    let in_flight = Arc::new(Semaphore::new(UPLOADS_IN_FLIGHT));
    let mut n = 0u64;
    while pause(&mut rng, 250..650, &stop).await {
        n += 1;
        let upload = if rng.random_bool(0.05) {
            Upload {
                name: format!("{n}-truncated.jpg"),
                bytes: api.undecodable.clone(),
                steps: false,
                key: None,
                ingest: rng.random_range(0..api.clients.ingests.len()),
            }
        } else {
            let (name, bytes) = api.files.choose(&mut rng).expect("files").clone();
            Upload {
                name: format!("{n}-{name}"),
                bytes,
                steps: rng.random_bool(0.35),
                key: rng.random_bool(0.2).then(|| format!("chaos-{n}")),
                ingest: rng.random_range(0..api.clients.ingests.len()),
            }
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let api = api.clone();
        tokio::spawn(async move {
            api.upload("upload", &upload).await;
            if upload.key.is_some() {
                api.keyed.lock().expect("lock").push(upload);
            }
            drop(permit);
        });
    }
    // Wait for the uploads in flight.
    let _ = in_flight.acquire_many(UPLOADS_IN_FLIGHT as u32).await;
}

async fn replays(api: Arc<Api>, mut rng: StdRng, stop: CancellationToken) {
    while pause(&mut rng, 1000..3000, &stop).await {
        let upload = api.keyed.lock().expect("lock").choose(&mut rng).cloned();
        if let Some(mut upload) = upload {
            upload.ingest = rng.random_range(0..api.clients.ingests.len());
            api.history.with(|h| h.replays += 1);
            api.upload("replay", &upload).await;
        }
    }
}

async fn reads(api: Arc<Api>, mut rng: StdRng, stop: CancellationToken) {
    while pause(&mut rng, 100..300, &stop).await {
        let Some(id) = api.history.recent(200, |n| rng.random_range(0..n)) else {
            continue;
        };
        let path = format!("/api/v1/tasks/{id}");
        let Some((status, task)) = api.call("get", Method::GET, &path, &mut rng).await else {
            continue;
        };
        match status {
            200 => {
                let state = task["status"].as_str().unwrap_or_default().to_owned();
                if matches!(state.as_str(), "COMPLETED" | "FAILED" | "CANCELLED") {
                    let run = task["run"].as_i64().and_then(|r| i32::try_from(r).ok());
                    api.history.with(|h| {
                        h.finals_read
                            .entry((id, run.unwrap_or(0)))
                            .or_default()
                            .insert(state);
                    });
                }
            }
            404 => api.history.with(|h| {
                h.vanished.insert(id);
            }),
            503 => {}
            _ => api.unexpected("get", status, &task),
        }
    }
}

async fn lists_and_retries(api: Arc<Api>, mut rng: StdRng, stop: CancellationToken) {
    while pause(&mut rng, 1500..3500, &stop).await {
        let filter = if rng.random_bool(0.5) {
            "?status=FAILED&limit=20"
        } else {
            "?limit=20"
        };
        let path = format!("/api/v1/tasks{filter}");
        let Some((status, page)) = api.call("list", Method::GET, &path, &mut rng).await else {
            continue;
        };
        match status {
            200 => {}
            503 => continue,
            _ => {
                api.unexpected("list", status, &page);
                continue;
            }
        }
        let failed: Vec<(Uuid, i32)> = page["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["status"] == "FAILED")
            .filter_map(|t| {
                let id = t["task_id"].as_str()?.parse().ok()?;
                let run = i32::try_from(t["run"].as_i64().unwrap_or(0)).ok()?;
                Some((id, run))
            })
            .collect();
        let Some(&(id, run)) = failed.choose(&mut rng) else {
            continue;
        };
        let path = format!("/api/v1/tasks/{id}/retry");
        let Some((status, body)) = api.call("retry", Method::POST, &path, &mut rng).await else {
            continue;
        };
        match status {
            202 => api.history.with(|h| h.retried.push((id, run))),
            409 | 503 => {}
            _ => api.unexpected("retry", status, &body),
        }
    }
}

async fn cancels(api: Arc<Api>, mut rng: StdRng, stop: CancellationToken) {
    while pause(&mut rng, 2000..5000, &stop).await {
        // Among the newest, so some are still waiting or in their work.
        let Some(id) = api.history.recent(6, |n| rng.random_range(0..n)) else {
            continue;
        };
        let path = format!("/api/v1/tasks/{id}/cancel");
        let Some((status, body)) = api.call("cancel", Method::POST, &path, &mut rng).await else {
            continue;
        };
        match status {
            200 => api.history.with(|h| {
                h.cancelled.insert(id);
            }),
            409 | 503 => {}
            _ => api.unexpected("cancel", status, &body),
        }
    }
}

impl Api {
    /// Send to a random ingest; a refused connection (that ingest is down) goes to the next,
    /// as a load balancer would send it. Any other failure is the client's answer.
    async fn send(
        &self,
        first: usize,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Response, reqwest::Error> {
        let ingests = &self.clients.ingests;
        let mut last = None;
        for k in 0..ingests.len() {
            match build(&ingests[(first + k) % ingests.len()]).send().await {
                Err(err) if err.is_connect() => last = Some(err),
                other => return other,
            }
        }
        Err(last.expect("at least one ingest"))
    }

    /// A call without a body: its status and JSON, `None` when no answer came (tallied).
    async fn call(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        rng: &mut StdRng,
    ) -> Option<(u16, Value)> {
        let first = rng.random_range(0..self.clients.ingests.len());
        let response = self
            .send(first, |base| {
                self.http.request(method.clone(), format!("{base}{path}"))
            })
            .await;
        self.answer(operation, response).await
    }

    async fn answer(
        &self,
        operation: &str,
        response: Result<Response, reqwest::Error>,
    ) -> Option<(u16, Value)> {
        let Ok(response) = response else {
            self.history.answered(operation, "no answer");
            return None;
        };
        let status = response.status().as_u16();
        let Ok(body) = response.bytes().await else {
            self.history.answered(operation, "no answer");
            return None;
        };
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let answer = match body["code"].as_str() {
            Some(code) if status >= 300 => format!("{status} {code}"),
            _ => status.to_string(),
        };
        self.history.answered(operation, &answer);
        Some((status, body))
    }

    async fn upload(&self, operation: &str, upload: &Upload) {
        let response = self
            .send(upload.ingest, |base| {
                let mut form = TestSystem::file_form(&upload.name, upload.bytes.to_vec())
                    .text("callback_url", self.clients.callback_url.clone());
                if upload.steps {
                    form = form.text("steps", STEPS);
                }
                let mut request = self
                    .http
                    .post(format!("{base}/api/v1/analyze"))
                    .multipart(form);
                if let Some(key) = &upload.key {
                    request = request.header("Idempotency-Key", key);
                }
                request
            })
            .await;
        let answer = self.answer(operation, response).await;
        self.history.with(|h| {
            h.upload_answers
                .entry(upload.name.clone())
                .or_default()
                .push(answer.as_ref().map(|(status, _)| *status));
        });
        let Some((status, body)) = answer else {
            return;
        };
        match status {
            202 => {
                let Some(id) = body["task_id"].as_str().and_then(|s| s.parse().ok()) else {
                    self.unexpected(operation, status, &body);
                    return;
                };
                self.history.accept(id);
                self.history.with(|h| {
                    if upload.steps && operation == "upload" {
                        h.with_steps += 1;
                    }
                    if let Some(key) = &upload.key {
                        let first = *h.keys.entry(key.clone()).or_insert(id);
                        if first != id {
                            h.replay_mismatches.push(format!("{key} {first} {id}"));
                        }
                    }
                });
            }
            503 => {}
            409 if upload.key.is_some() => {}
            _ => self.unexpected(operation, status, &body),
        }
    }

    fn unexpected(&self, operation: &str, status: u16, body: &Value) {
        self.history
            .unexpected(format!("{operation} {status} {body}"));
    }
}
