//! The error half of every endpoint's response enum, written once.
//!
//! Each endpoint keeps its own `#[derive(ApiResponse)]` enum, so that the OpenAPI document
//! says per operation which errors it answers and why. [`endpoint_response!`] takes the
//! success variants as written and the error variants as name and status, each with its doc
//! comment, and generates their problem+json payloads (with `Retry-After` on 503), the 500
//! every endpoint can answer, and the `From<ApiError>` conversion (also used for requests
//! poem cannot parse).
//!
//! An `ApiError` whose status the endpoint does not document is logged at error level with
//! its code and answered as a 500 `internal_error`, so the status line and the problem body
//! always agree; the unit tests of each endpoint pass every error it can return through its
//! enum, so such a gap fails a test.

use poem::http::StatusCode;

use crate::error::ApiError;

/// Declares an endpoint's response enum:
///
/// ```ignore
/// endpoint_response! {
///     pub enum GetTaskResponse {
///         /// The task.
///         #[oai(status = 200)]
///         Ok(Json<Box<TaskView>>),
///     }
///     bad_request = ApiError::from_parse_error;
///     errors {
///         /// The id is not a UUID (`invalid_task_id`).
///         BadRequest = 400,
///         /// The database is unavailable (`database_unavailable`).
///         Unavailable = 503,
///     }
/// }
/// ```
///
/// Each error is the name of its variant and its status; a 503 also says when to retry
/// (`Retry-After`). `bad_request` turns the error of a request poem cannot parse (a path or
/// query parameter, the body) into an `ApiError`.
macro_rules! endpoint_response {
    // A 503 tells the client when to try again.
    (@error $acc:tt $doc:tt 503 $variant:ident $($rest:tt)*) => {
        $crate::api::responses::endpoint_response!(@push $acc $doc 503 $variant
            [, #[oai(header = "Retry-After")] u32]
            [|problem| Self::$variant(problem, $crate::error::RETRY_AFTER_SECS)]
            $($rest)*);
    };
    (@error $acc:tt $doc:tt $status:tt $variant:ident $($rest:tt)*) => {
        $crate::api::responses::endpoint_response!(@push $acc $doc $status $variant
            []
            [Self::$variant]
            $($rest)*);
    };
    // All errors pushed: write the enum out.
    (@error [$head:tt $parse:tt $variants:tt $arms:tt $statuses:tt]) => {
        $crate::api::responses::endpoint_response!(@emit $head $parse $variants $arms $statuses);
    };

    // One error variant: its definition, its arm of the conversion, its status. The derive
    // takes the content type only as a literal; the tests check that every error answer
    // carries `error::PROBLEM_CONTENT_TYPE`.
    (@push [$head:tt $parse:tt [$($variants:tt)*] [$($arms:tt)*] [$($statuses:tt)*]]
        [$($doc:tt)*] $status:tt $variant:ident [$($headers:tt)*] [$($make:tt)*]
        $($rest:tt)*) => {
        $crate::api::responses::endpoint_response!(@error [
            $head
            $parse
            [
                $($variants)*
                $($doc)*
                #[oai(status = $status, content_type = "application/problem+json")]
                $variant(::poem_openapi::payload::Json<$crate::error::Problem> $($headers)*),
            ]
            [$($arms)* $status => $($make)*,]
            [$($statuses)* $status]
        ] $($rest)*);
    };

    (@emit [$vis:vis $name:ident { $($success:tt)* }] [$parse:path]
        [$($variants:tt)*] [$($arms:tt)*] [$($statuses:tt)*]) => {
        #[derive(::poem_openapi::ApiResponse)]
        #[oai(bad_request_handler = "Self::from_unparsed_request")]
        $vis enum $name {
            $($success)*
            $($variants)*
            /// Unexpected server error (`internal_error`).
            #[oai(status = 500, content_type = "application/problem+json")]
            Internal(::poem_openapi::payload::Json<$crate::error::Problem>),
        }

        impl $name {
            /// The error statuses this endpoint documents, 500 included.
            #[cfg(test)]
            pub(crate) const ERROR_STATUSES: &'static [u16] = &[$($statuses,)* 500];

            fn from_unparsed_request(err: ::poem::Error) -> Self {
                $parse(err).into()
            }
        }

        impl ::std::convert::From<$crate::error::ApiError> for $name {
            fn from(err: $crate::error::ApiError) -> Self {
                let err = $crate::api::responses::documented_or_internal(
                    err,
                    &[$($statuses),*],
                    stringify!($name),
                );
                let variant: fn(::poem_openapi::payload::Json<$crate::error::Problem>) -> Self =
                    match err.status().as_u16() {
                        $($arms)*
                        _ => Self::Internal,
                    };
                variant(::poem_openapi::payload::Json(err.problem()))
            }
        }
    };

    (
        $vis:vis enum $name:ident {
            $($success:tt)*
        }
        bad_request = $parse:path;
        errors {
            $( $(#[doc = $doc:tt])* $error:ident = $status:tt ),+ $(,)?
        }
    ) => {
        $crate::api::responses::endpoint_response!(@error [
            [$vis $name { $($success)* }]
            [$parse]
            []
            []
            []
        ] $( [$(#[doc = $doc])*] $status $error )+);
    };
}
pub(crate) use endpoint_response;

/// `err` itself if `documented` lists its status (500 always is); otherwise, logged with its
/// code, an internal error, so that the status line and the problem body both say 500.
pub(crate) fn documented_or_internal(
    err: ApiError,
    documented: &[u16],
    response: &'static str,
) -> ApiError {
    let status = err.status();
    if status == StatusCode::INTERNAL_SERVER_ERROR || documented.contains(&status.as_u16()) {
        return err;
    }
    tracing::error!(
        response,
        status = status.as_u16(),
        code = err.code(),
        error = %err,
        "an endpoint returned an error status it does not document; answering 500"
    );
    ApiError::Internal(anyhow::Error::new(err))
}

/// Checks, for the unit tests of each endpoint, how its enum answers errors.
#[cfg(test)]
pub(crate) mod check {
    use poem::IntoResponse;
    use serde_json::Value;

    use crate::error::{ApiError, PROBLEM_CONTENT_TYPE};

    /// The HTTP status, content type and parsed body of `R`'s answer to `err`.
    pub(crate) async fn answer<R>(err: ApiError) -> (u16, String, Value)
    where
        R: From<ApiError> + IntoResponse,
    {
        let response = R::from(err).into_response();
        let status = response.status().as_u16();
        let content_type = response
            .content_type()
            .map(str::to_owned)
            .unwrap_or_default();
        let body = response
            .into_body()
            .into_string()
            .await
            .expect("a readable body");
        let body = serde_json::from_str(&body).expect("a JSON body");
        (status, content_type, body)
    }

    /// What can go wrong with the task id in the path, the key and reading the task.
    pub(crate) fn task_lookup_errors() -> Vec<ApiError> {
        let id = uuid::Uuid::nil();
        vec![
            ApiError::InvalidTaskId("not a uuid".into()),
            ApiError::InvalidRequest("unreadable".into()),
            ApiError::Unauthorized,
            ApiError::TaskNotFound(id),
            ApiError::TaskExpired(id),
            ApiError::DatabaseUnavailable(anyhow::anyhow!("down")),
            ApiError::Internal(anyhow::anyhow!("bug")),
        ]
    }

    /// Every error in `errors` is answered with its own status and code, in a problem document
    /// that says the same; and every one of `documented` (the statuses of the endpoint's
    /// enum) is among those answered.
    pub(crate) async fn answers_each_error_as_documented<R>(
        documented: &[u16],
        errors: Vec<ApiError>,
    ) where
        R: From<ApiError> + IntoResponse,
    {
        let mut answered = Vec::new();
        for err in errors {
            let (expected_status, expected_code) = (err.status().as_u16(), err.code());
            let (status, content_type, body) = answer::<R>(err).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (expected_status, Some(expected_code)),
                "{expected_code} is not documented by {}",
                std::any::type_name::<R>()
            );
            assert_eq!(body["status"], status);
            assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
            answered.push(status);
        }
        for status in documented {
            assert!(
                answered.contains(status),
                "{} documents {status}, which none of the errors given produces",
                std::any::type_name::<R>()
            );
        }
    }

    /// Any error at all, documented or not, gets a problem body whose status is the HTTP
    /// status.
    pub(crate) async fn body_always_agrees_with_status<R>()
    where
        R: From<ApiError> + IntoResponse,
    {
        for err in ApiError::one_of_each() {
            let code = err.code();
            let (status, content_type, body) = answer::<R>(err).await;
            assert_eq!(body["status"], status, "{code}");
            assert_eq!(content_type, PROBLEM_CONTENT_TYPE, "{code}");
            if status == 500 {
                assert_eq!(body["code"], "internal_error", "{code}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::payload::Json;

    use super::check;
    use crate::error::ApiError;

    endpoint_response! {
        pub enum NarrowResponse {
            /// Done.
            #[oai(status = 200)]
            Ok(Json<String>),
        }
        bad_request = ApiError::from_parse_error;
        errors {
            /// Bad input.
            BadRequest = 400,
            /// Try later.
            Unavailable = 503,
        }
    }

    #[tokio::test]
    async fn an_undocumented_status_is_a_500_in_the_line_and_the_body() {
        let (status, _, body) =
            check::answer::<NarrowResponse>(ApiError::TaskNotFound(uuid::Uuid::nil())).await;
        assert_eq!(status, 500);
        assert_eq!(body["status"], 500);
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["type"], "urn:imagepipe:problem:internal_error");
    }

    #[tokio::test]
    async fn documented_statuses_keep_their_code_and_503_says_when_to_retry() {
        check::answers_each_error_as_documented::<NarrowResponse>(
            NarrowResponse::ERROR_STATUSES,
            vec![
                ApiError::InvalidCursor,
                ApiError::DatabaseUnavailable(anyhow::anyhow!("down")),
                ApiError::Internal(anyhow::anyhow!("bug")),
            ],
        )
        .await;
        let response =
            poem::IntoResponse::into_response(NarrowResponse::from(ApiError::Overloaded {
                waiting: 9,
            }));
        assert_eq!(
            response
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok()),
            Some(crate::error::RETRY_AFTER_SECS.to_string().as_str())
        );
    }

    #[tokio::test]
    async fn every_error_gets_a_body_that_agrees_with_the_status() {
        check::body_always_agrees_with_status::<NarrowResponse>().await;
    }

    #[tokio::test]
    async fn a_request_poem_cannot_parse_is_a_bad_request() {
        let err = poem::Error::from_string("missing query", poem::http::StatusCode::BAD_REQUEST);
        let response =
            poem::IntoResponse::into_response(NarrowResponse::from_unparsed_request(err));
        assert_eq!(response.status(), 400);
    }
}
