//! The HTTP API under `/api/v1`, described by poem-openapi: every endpoint's doc comment and
//! response enum become its OpenAPI text.

mod analyze;
mod document;
mod downloads;
mod events;
pub(crate) mod health;
mod presets;
mod responses;
mod task_view;
mod tasks;

use poem_openapi::{OpenApiService, Tags};

pub(crate) use document::{Served, served_document};

use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Upload images for processing.
    Analyze,
    /// Follow tasks to their end.
    Tasks,
}

/// The OpenAPI service with all endpoints.
pub(crate) fn service(
    state: AppState,
) -> OpenApiService<
    (
        analyze::AnalyzeApi,
        presets::PresetsApi,
        tasks::TasksApi,
        downloads::DownloadsApi,
        events::EventsApi,
    ),
    (),
> {
    OpenApiService::new(
        (
            analyze::AnalyzeApi {
                state: state.clone(),
            },
            presets::PresetsApi {
                state: state.clone(),
            },
            tasks::TasksApi {
                state: state.clone(),
            },
            downloads::DownloadsApi {
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::{error::PROBLEM_CONTENT_TYPE, state::AppState};

    /// Every error response of every operation is documented as a problem document, a 503
    /// says when to retry, and a 500 is documented everywhere.
    #[test]
    fn every_error_response_is_documented_as_a_problem() {
        let document: Value =
            serde_json::from_str(&super::service(AppState::offline()).spec()).expect("JSON");
        let paths = document["paths"].as_object().expect("paths");
        for operation in paths
            .values()
            .flat_map(|p| p.as_object().expect("methods").values())
        {
            let id = &operation["operationId"];
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.contains_key("500"), "{id}: no 500");
            for (status, response) in responses {
                if status.as_str() < "400" {
                    continue;
                }
                let content = response["content"].as_object().expect("content");
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    [PROBLEM_CONTENT_TYPE],
                    "{id} {status}"
                );
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{id} {status}: no description"
                );
                // poem-openapi writes header names in capitals.
                let retry_after = response["headers"].get("RETRY-AFTER").is_some();
                assert_eq!(retry_after, status == "503", "{id} {status}: Retry-After");
            }
        }
    }
}
