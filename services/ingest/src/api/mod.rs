//! The HTTP API under `/api/v1`, described by poem-openapi: every endpoint's doc comment and
//! response enum become its OpenAPI text.

mod analyze;
mod events;
pub mod health;
mod tasks;

use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Upload images for processing.
    Analyze,
    /// Follow tasks to their end.
    Tasks,
}

/// The OpenAPI service with all endpoints.
pub fn service(
    state: AppState,
) -> OpenApiService<(analyze::AnalyzeApi, tasks::TasksApi, events::EventsApi), ()> {
    OpenApiService::new(
        (
            analyze::AnalyzeApi {
                state: state.clone(),
            },
            tasks::TasksApi {
                state: state.clone(),
            },
            events::EventsApi { state },
        ),
        "imagepipe",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Asynchronous image processing: upload an image, get a task id at once (202), and \
         poll the task until it is COMPLETED (with the result's location) or FAILED (with \
         the reason). Errors are RFC 9457 problem documents with a stable `code`.",
    )
}
