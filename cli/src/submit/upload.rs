//! One file's upload: read, keyed, sent with its progress counted, and sent again when the
//! server asks for it later (503 or 429 with `Retry-After`, a request with the same key still
//! running) or the connection broke after it was made. The idempotency key makes every
//! resend safe: the server answers the same task.

use std::time::Duration;

use bytes::Bytes;
use futures::stream;
use uuid::Uuid;

use super::outcome::Failure;
use crate::{
    api::{ApiError, Client},
    chain::Chain,
    inputs::Input,
    progress::Progress,
};

/// Attempts of one upload, the first included.
const ATTEMPTS: u32 = 6;
/// Longest wait between two, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Chunks the body is counted in.
const CHUNK: usize = 64 * 1024;

/// Upload `input`: its task id, or why the server did not take it.
pub(crate) async fn upload(
    client: &Client,
    input: &Input,
    chain: &Chain,
    progress: &Progress,
) -> Result<Uuid, Failure> {
    let bytes = tokio::fs::read(&input.path)
        .await
        .map(Bytes::from)
        .map_err(|e| Failure::new("read_failed", format!("cannot read the file: {e}")))?;
    let key = {
        let (bytes, chain) = (bytes.clone(), chain.clone());
        // Hashing megabytes is CPU work: off the runtime, so other transfers keep moving.
        tokio::task::spawn_blocking(move || chain.idempotency_key(&bytes))
            .await
            .map_err(|e| Failure::new("internal_error", e.to_string()))?
    };
    let mut attempt = 1;
    loop {
        let sent = Counter::default();
        let form = form(input.file_name(), bytes.clone(), chain, progress, &sent);
        let answer = client.upload(form, &key).await;
        match answer {
            Ok(accepted) => return Ok(accepted.task_id),
            Err(err) => {
                let Some(wait) = backoff(&err, attempt) else {
                    return Err(err.into());
                };
                // The bytes of this attempt go out again.
                progress.resend(sent.get());
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// How long to wait before sending again, or `None` when the answer is final.
fn backoff(err: &ApiError, attempt: u32) -> Option<Duration> {
    if attempt >= ATTEMPTS {
        return None;
    }
    let growing = Duration::from_millis(500 * 2u64.pow(attempt - 1)).min(MAX_BACKOFF);
    match err {
        ApiError::Refused {
            status: 503 | 429,
            retry_after,
            ..
        } => Some(retry_after.unwrap_or(growing).min(MAX_BACKOFF)),
        // The first request with this key (an earlier run's, or an identical file of this
        // run) is still being stored: its answer will be ours.
        ApiError::Refused { status: 409, .. } if err.code() == "idempotency_key_in_use" => {
            Some(growing)
        }
        // A server that is not there fails at once; a connection that broke or timed out may
        // have been a moment's trouble.
        ApiError::Unreachable(cause) if !cause.is_connect() => Some(growing),
        _ => None,
    }
}

/// The upload form: the file, and the chain asked for.
fn form(
    file_name: String,
    bytes: Bytes,
    chain: &Chain,
    progress: &Progress,
    sent: &Counter,
) -> reqwest::multipart::Form {
    let len = bytes.len() as u64;
    let chunks: Vec<Bytes> = (0..bytes.len())
        .step_by(CHUNK)
        .map(|start| bytes.slice(start..(start + CHUNK).min(bytes.len())))
        .collect();
    let (progress, sent) = (progress.clone(), sent.clone());
    // Each chunk is counted as reqwest takes it to write, so the bar follows the socket.
    let body = stream::iter(chunks.into_iter().map(move |chunk| {
        progress.sent(chunk.len() as u64);
        sent.add(chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    }));
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), len)
        .file_name(file_name);
    let form = reqwest::multipart::Form::new().part("file", part);
    match chain {
        Chain::Default => form,
        Chain::Steps(steps) => form.text("steps", steps.clone()),
        Chain::Preset(preset) => form.text("preset", preset.clone()),
    }
}

/// Bytes an attempt has sent so far.
#[derive(Debug, Clone, Default)]
struct Counter(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Counter {
    fn add(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
