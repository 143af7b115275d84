//! The HTTP surface: documents, health, unknown and malformed ids.

use imagepipe_tests::{Options, TestSystem};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_both_endpoints_and_swagger_ui_is_served() {
    let system = TestSystem::start(Options::default()).await;

    let spec = system.openapi_document().await;
    let paths = spec["paths"].as_object().expect("paths");
    assert!(
        paths["/api/v1/analyze"]["post"].is_object(),
        "analyze in {paths:?}"
    );
    assert!(
        paths["/api/v1/tasks/{task_id}"]["get"].is_object(),
        "get task in {paths:?}"
    );
    let upload = &paths["/api/v1/analyze"]["post"]["requestBody"]["content"]["multipart/form-data"];
    assert!(
        upload.is_object(),
        "the upload is documented as a multipart form: {upload}"
    );
    for status in ["202", "413", "415", "422", "503"] {
        assert!(
            paths["/api/v1/analyze"]["post"]["responses"][status].is_object(),
            "analyze documents {status}"
        );
    }

    let docs = system.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );

    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_task_is_404_and_malformed_id_is_400_as_problem_documents() {
    let system = TestSystem::start(Options::default()).await;

    let unknown = uuid::Uuid::new_v4();
    let response = system
        .http
        .get(system.url(&format!("/api/v1/tasks/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "task_not_found");
    assert_eq!(problem["status"], 404);

    let (status, problem) = {
        let response = system
            .http
            .get(system.url("/api/v1/tasks/not-a-uuid"))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "invalid_task_id");

    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_readiness_report_the_dependencies() {
    let system = TestSystem::start(Options::default()).await;

    let live = system.get("/health/live").await;
    assert_eq!(live.status(), 200);

    let (status, body) = system.readiness().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["object_store"], "ok");

    system.cleanup().await;
}
