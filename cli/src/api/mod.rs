//! The imagepipe HTTP API, as this client uses it: one base URL, one optional API key (sent
//! as `X-API-Key`, and only ever to that base URL), every call with a timeout.

mod error;
mod types;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

pub(crate) use error::ApiError;
pub(crate) use types::{Accepted, Page, Task, TaskError, TaskView};

/// A read of a task or a page.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// An upload or a download: the whole body, at the server's largest upload (20 MiB by
/// default) over a slow link.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl Client {
    pub(crate) fn new(base_url: &str, api_key: Option<String>) -> anyhow::Result<Self> {
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|e| anyhow::anyhow!("--url {base_url:?} is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https"),
            "--url {base_url:?} must be an http or https URL"
        );
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("imagepipe-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.filter(|k| !k.trim().is_empty()),
        })
    }

    fn request(&self, method: Method, path: &str, timeout: Duration) -> RequestBuilder {
        self.request_to(method, &format!("{}/api/v1{path}", self.base), timeout)
    }

    fn request_to(&self, method: Method, url: &str, timeout: Duration) -> RequestBuilder {
        let request = self.http.request(method, url).timeout(timeout);
        match &self.api_key {
            Some(key) => request.header("X-API-Key", key),
            None => request,
        }
    }

    /// `POST /api/v1/analyze` with a form (`file`, and `steps` or `preset`).
    pub(crate) async fn upload(
        &self,
        form: reqwest::multipart::Form,
        idempotency_key: &str,
    ) -> Result<Accepted, ApiError> {
        let request = self
            .request(Method::POST, "/analyze", TRANSFER_TIMEOUT)
            .header("Idempotency-Key", idempotency_key)
            .multipart(form);
        json(send(request).await?).await
    }

    /// `GET /api/v1/tasks/{id}`.
    pub(crate) async fn task(&self, id: Uuid) -> Result<Task, ApiError> {
        let request = self.request(Method::GET, &format!("/tasks/{id}"), READ_TIMEOUT);
        task(json(send(request).await?).await?)
    }

    /// One page of `GET /api/v1/tasks`, newest first.
    pub(crate) async fn list(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/tasks", self.base))
            .map_err(|e| unreadable(0, &format!("the list's URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(status) = status {
                query.append_pair("status", status);
            }
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
        }
        let request = self.request_to(Method::GET, url.as_str(), READ_TIMEOUT);
        let raw: Value = json(send(request).await?).await?;
        let tasks = raw
            .get("tasks")
            .and_then(Value::as_array)
            .ok_or_else(|| unreadable(200, "a page without `tasks`"))?
            .iter()
            .cloned()
            .map(task)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = raw
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Page {
            tasks,
            next_cursor,
            raw,
        })
    }

    /// `POST /api/v1/tasks/{id}/cancel`: the task, CANCELLED.
    pub(crate) async fn cancel(&self, id: Uuid) -> Result<Task, ApiError> {
        let request = self.request(Method::POST, &format!("/tasks/{id}/cancel"), READ_TIMEOUT);
        task(json(send(request).await?).await?)
    }

    /// `POST /api/v1/tasks/{id}/retry`: the answer as sent (202, the task id).
    pub(crate) async fn retry(&self, id: Uuid) -> Result<Value, ApiError> {
        let request = self.request(Method::POST, &format!("/tasks/{id}/retry"), READ_TIMEOUT);
        json(send(request).await?).await
    }

    /// `GET /api/v1/tasks/{id}/result`: the processed image, its body not yet read. The server
    /// streams it from the object store, so the API key never leaves for another host.
    pub(crate) async fn result(&self, id: Uuid) -> Result<Response, ApiError> {
        let request = self.request(
            Method::GET,
            &format!("/tasks/{id}/result"),
            TRANSFER_TIMEOUT,
        );
        send(request).await
    }
}

/// Send, and turn an error status into [`ApiError::Refused`] with its problem document.
async fn send(request: RequestBuilder) -> Result<Response, ApiError> {
    let response = request.send().await.map_err(ApiError::Unreachable)?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // Both answers that ask to come back later say when: a server busy for a moment (503)
    // and a rate limit (429).
    let retry_after = matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    )
    .then(|| {
        response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    })
    .flatten();
    let body = response.bytes().await.map_err(ApiError::Unreachable)?;
    let problem = serde_json::from_slice(&body).unwrap_or_else(|_| types::Problem {
        // Not a problem document (a proxy's page, another server): show what it said.
        detail: Some(String::from_utf8_lossy(&body).chars().take(300).collect()),
        ..types::Problem::default()
    });
    Err(ApiError::Refused {
        status: status.as_u16(),
        problem,
        retry_after,
    })
}

async fn json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(ApiError::Unreachable)?;
    serde_json::from_slice(&body)
        .map_err(|e| unreadable(status, &format!("not the JSON expected: {e}")))
}

fn task(raw: Value) -> Result<Task, ApiError> {
    let view: TaskView = serde_json::from_value(raw.clone())
        .map_err(|e| unreadable(200, &format!("not a task: {e}")))?;
    Ok(Task { view, raw })
}

fn unreadable(status: u16, reason: &str) -> ApiError {
    ApiError::Unreadable {
        status,
        reason: reason.to_owned(),
    }
}
