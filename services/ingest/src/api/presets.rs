//! `GET /api/v1/presets`: the chains this server offers by name, so a client (the web page
//! included) can show what a `preset` field would run without knowing the operator's
//! presets file.

use imagepipe_shared::steps::Step;
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{ApiTags, responses::endpoint_response};
use crate::{auth::Auth, error::ApiError, state::AppState};

pub(crate) struct PresetsApi {
    pub state: AppState,
}

/// A named chain.
#[derive(Debug, Object)]
pub struct PresetView {
    /// What the upload's `preset` field says.
    pub name: String,
    /// The steps it runs, spelled out (`grayscale`'s delay is the server's
    /// `PROCESSING_DELAY_MS`).
    pub steps: Vec<Step>,
}

/// Every preset, by name.
#[derive(Debug, Object)]
pub struct PresetList {
    pub presets: Vec<PresetView>,
}

endpoint_response! {
    pub enum ListPresetsResponse {
        /// The presets, sorted by name.
        #[oai(status = 200)]
        Ok(Json<PresetList>),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Analyze")]
impl PresetsApi {
    /// List the presets
    ///
    /// The named chains an upload may ask for with its `preset` field: the ones that ship
    /// (`grayscale`, `thumbnail`, `web`) and the operator's (`PRESETS_FILE`), each with the
    /// steps it runs. Presets are not limited by `ALLOWED_OPS`.
    #[oai(path = "/presets", method = "get", operation_id = "list_presets")]
    async fn list_presets(&self, auth: Auth) -> ListPresetsResponse {
        if let Err(err) = auth.scope(&self.state.api_keys) {
            return err.into();
        }
        let chains = &self.state.chains;
        let presets = chains
            .presets
            .iter()
            .map(|(name, chain)| PresetView {
                name: name.to_owned(),
                steps: chain.steps(chains.default_delay_ms),
            })
            .collect();
        ListPresetsResponse::Ok(Json(PresetList { presets }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::check;

    #[tokio::test]
    async fn list_presets_documents_every_error_it_returns() {
        check::answers_each_error_as_documented::<ListPresetsResponse>(
            ListPresetsResponse::ERROR_STATUSES,
            vec![
                ApiError::Unauthorized,
                ApiError::Internal(anyhow::anyhow!("bug")),
            ],
        )
        .await;
        check::body_always_agrees_with_status::<ListPresetsResponse>().await;
    }
}
