//! HTTP to one model on a model server: its metadata and its inference, every failure sorted
//! into worth another attempt ([`ServerError::Unavailable`]: no connection, a timeout, 408,
//! 429, 5xx) or not ([`ServerError::Refused`]: any other 4xx, or an answer that is not the
//! protocol's), with the server's own message.

use std::time::Duration;

use imagepipe_shared::models::ModelServer;
use reqwest::{StatusCode, Url};

use super::wire::{ErrorBody, InferRequest, InferResponse, ModelMetadata};
use crate::models::{onnx::Output, preprocess::InputTensor};

/// Largest answer read from a model server: far over any report `MAX_ANALYSIS_BYTES` allows,
/// so a runaway server cannot fill the processor's memory.
const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// Longest wait for a connection, within the request's own timeout: a server that is down
/// is known as such quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest wait for a readiness answer: within the health endpoint's own limit for a check.
const READY_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// Another attempt may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The same request would fail the same way.
    #[error("{0}")]
    Refused(String),
}

/// One declared model's server.
#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    server: ModelServer,
}

impl ServerClient {
    pub fn new(server: ModelServer) -> Self {
        let http = reqwest::Client::builder()
            .timeout(server.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(server.timeout))
            .build()
            // Only a TLS backend that cannot start fails here: nothing a declaration changes.
            .unwrap_or_default();
        Self { http, server }
    }

    /// Where the model is, for messages.
    pub fn model_url(&self) -> Url {
        self.server.model_url()
    }

    /// `GET v2/models/{name}[/versions/{v}]`. A 404 is unavailable too: a server that is
    /// still loading its models does not have it yet.
    pub async fn metadata(&self) -> Result<ModelMetadata, ServerError> {
        let url = self.server.model_url();
        let response = self.http.get(url.clone()).send().await;
        let body = read(&url, response, &[StatusCode::NOT_FOUND]).await?;
        serde_json::from_slice(&body)
            .map_err(|e| ServerError::Refused(format!("{url}: not the protocol's metadata: {e}")))
    }

    /// `GET …/ready`: whether the server answers and has the model ready now.
    pub async fn ready(&self) -> bool {
        let mut url = self.server.model_url();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push("ready");
        }
        let answer = self.http.get(url).timeout(READY_TIMEOUT).send().await;
        answer.is_ok_and(|response| response.status().is_success())
    }

    /// `POST …/infer` with one input: every output, in the server's order.
    pub async fn infer(
        &self,
        tensor: &str,
        input: &InputTensor,
    ) -> Result<Vec<Output>, ServerError> {
        let url = self.server.infer_url();
        let response = self
            .http
            .post(url.clone())
            .json(&InferRequest::new(tensor, input))
            .send()
            .await;
        let body = read(&url, response, &[]).await?;
        let answer: InferResponse = serde_json::from_slice(&body).map_err(|e| {
            ServerError::Refused(format!("{url}: not the protocol's inference answer: {e}"))
        })?;
        answer
            .outputs
            .into_iter()
            .map(|output| output.into_output().map_err(ServerError::Refused))
            .collect()
    }
}

/// The body of a successful answer; a failed one sorted by its status (`also_transient`:
/// statuses this request's caller treats as not yet there).
async fn read(
    url: &Url,
    response: reqwest::Result<reqwest::Response>,
    also_transient: &[StatusCode],
) -> Result<Vec<u8>, ServerError> {
    let unreachable = |e: reqwest::Error| {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "failed"
        };
        ServerError::Unavailable(format!("{url}: {what}: {}", chain(&e)))
    };
    let mut response = response.map_err(unreachable)?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(ServerError::Refused(format!(
            "{url}: the answer is over {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ServerError::Refused(format!(
                "{url}: the answer is over {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        return Ok(body);
    }
    let said = serde_json::from_slice::<ErrorBody>(&body).map_or_else(
        |_| String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned(),
        |e| e.error,
    );
    let message = format!("{url}: the server answered {status}: {said}");
    let transient = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || also_transient.contains(&status);
    Err(if transient {
        ServerError::Unavailable(message)
    } else {
        ServerError::Refused(message)
    })
}

/// An error with its causes: reqwest's own message alone hides why a connection failed.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
