//! Liveness and readiness over HTTP for the services without an API of their own (processor,
//! result-writer). Live while the process serves, so an orchestrator restarts only a process
//! that stopped answering; ready while every dependency it needs for its job answers, so
//! traffic and scaling decisions see a worker that cannot work as not there. A dependency only
//! some jobs need (a model server) is [`Check::optional`]: shown `degraded` when down, without
//! making the service unready, since it still does every other job.

use std::{
    borrow::Cow,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use poem::{
    EndpointExt, IntoResponse, Route, Server, handler,
    http::StatusCode,
    listener::TcpListener,
    web::{Data, Json},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// How long one dependency check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFn = dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

/// One dependency and how to tell whether it answers.
#[derive(Clone)]
pub struct Check {
    pub name: Cow<'static, str>,
    /// Needed by every job: down means not ready.
    required: bool,
    check: Arc<CheckFn>,
}

impl Check {
    pub fn new<F, Fut>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Self {
            name: Cow::Borrowed(name),
            required: true,
            check: Arc::new(move || Box::pin(check())),
        }
    }

    /// A dependency only some jobs need: `degraded` when down, and the service stays ready.
    pub fn optional<F, Fut>(name: String, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Self {
            name: Cow::Owned(name),
            required: false,
            check: Arc::new(move || Box::pin(check())),
        }
    }

    /// A check that reads a flag kept up to date elsewhere (e.g. "consuming").
    pub fn flag(name: &'static str, flag: Arc<AtomicBool>) -> Self {
        Self::new(name, move || {
            let up = flag.load(Ordering::Relaxed);
            async move { up }
        })
    }
}

#[handler]
fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

#[handler]
async fn ready(checks: Data<&Vec<Check>>) -> impl IntoResponse {
    let mut results = serde_json::Map::new();
    let mut all = true;
    for check in checks.iter() {
        let ok = tokio::time::timeout(CHECK_TIMEOUT, (check.check)())
            .await
            .unwrap_or(false);
        let word = match (ok, check.required) {
            (true, _) => "ok",
            (false, true) => "down",
            (false, false) => "degraded",
        };
        all &= ok || !check.required;
        results.insert(check.name.to_string(), json!(word));
    }
    let status = if all {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "status": if all { "ready" } else { "unavailable" }, "checks": results });
    (status, Json(body))
}

/// Serve `/health/live`, `/health/ready` and `/metrics` on `bind` until shutdown.
pub async fn serve(
    bind: String,
    checks: Vec<Check>,
    registry: crate::metrics::SharedRegistry,
    shutdown: CancellationToken,
) {
    let app = Route::new()
        .at("/health/live", poem::get(live))
        .at("/health/ready", poem::get(ready))
        .at("/metrics", poem::get(crate::metrics::serve_metrics))
        .data(checks)
        .data(registry);
    let result = Server::new(TcpListener::bind(bind.clone()))
        .run_with_graceful_shutdown(
            app,
            shutdown.cancelled_owned(),
            Some(Duration::from_secs(2)),
        )
        .await;
    if let Err(err) = result {
        tracing::error!(%err, bind, "health endpoint stopped");
    }
}
