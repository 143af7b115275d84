//! Liveness and readiness. Ingest is ready when it can accept uploads, which needs the
//! database and the object store but not the broker (the outbox keeps jobs while the broker
//! is away; readiness reports it as degraded while ingest has no open link to it, which the
//! outbox relay opens from start and reopens after a drop).

use std::time::Duration;

use poem::{
    IntoResponse, handler,
    http::StatusCode,
    web::{Data, Json},
};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is alive and serving HTTP.
#[handler]
pub(crate) fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Whether uploads can be accepted now.
#[handler]
pub(crate) async fn ready(state: Data<&AppState>) -> impl IntoResponse {
    let database = tokio::time::timeout(CHECK_TIMEOUT, state.db.execute_unprepared("SELECT 1"))
        .await
        .is_ok_and(|r| r.is_ok());
    let object_store = tokio::time::timeout(CHECK_TIMEOUT, state.storage.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let broker = state.publisher.is_connected();
    let ready = database && object_store;
    let word = |ok: bool, down: &'static str| if ok { "ok" } else { down };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": {
            "database": word(database, "down"),
            "object_store": word(object_store, "down"),
            "broker": word(broker, "degraded"),
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
