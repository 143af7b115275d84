use super::*;

#[test]
fn server_errors_do_not_leak_their_cause() {
    let err = ApiError::DatabaseUnavailable(anyhow::anyhow!(
        "password authentication failed for user postgres at 10.0.0.7"
    ));
    let problem = err.problem();
    assert_eq!(problem.status, 503);
    assert_eq!(problem.code, "database_unavailable");
    assert!(!problem.detail.contains("password"));
    assert!(!problem.detail.contains("10.0.0.7"));
}

#[test]
fn codes_and_types_agree() {
    let problem = ApiError::EmptyFile.problem();
    assert_eq!(problem.problem_type, "urn:imagepipe:problem:empty_file");
    assert_eq!(problem.status, 422);
}

#[test]
fn every_problem_names_its_code_in_its_type() {
    for err in ApiError::one_of_each() {
        let problem = err.problem();
        assert_eq!(problem.status, err.status().as_u16());
        assert_eq!(problem.code, err.code());
        assert_eq!(
            problem.problem_type,
            format!("urn:imagepipe:problem:{}", err.code())
        );
    }
}

#[tokio::test]
async fn a_problem_answers_with_its_status_as_problem_json() {
    let response =
        Problem::new(StatusCode::NOT_FOUND, "route_not_found", "nothing here").into_response();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.content_type(), Some(PROBLEM_CONTENT_TYPE));
    let body: serde_json::Value =
        serde_json::from_str(&response.into_body().into_string().await.expect("a body"))
            .expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({
            "type": "urn:imagepipe:problem:route_not_found",
            "title": "Not Found",
            "status": 404,
            "detail": "nothing here",
            "code": "route_not_found",
        })
    );
}

#[test]
fn a_refused_chain_lists_each_problem_at_its_pointer() {
    for err in ApiError::chain_refusals() {
        let code = err.code();
        let problem = err.problem();
        assert_eq!(problem.status, 422, "{code}");
        assert_eq!(
            problem.problem_type,
            format!("urn:imagepipe:problem:{code}")
        );
        let errors = problem.errors.expect("errors");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/steps/0");
    }
    assert!(ApiError::EmptyFile.problem().errors.is_none());
}

#[test]
fn errors_outside_the_api_get_their_own_codes() {
    let not_found = poem::Error::from_status(StatusCode::NOT_FOUND);
    let problem = Problem::outside_the_api(&not_found);
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (404, "route_not_found")
    );
    let wrong_method = poem::Error::from_status(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        Problem::outside_the_api(&wrong_method).code,
        "method_not_allowed"
    );
}
