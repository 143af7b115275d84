//! The OpenAPI document is valid OpenAPI 3. (That it is honest, every status it documents
//! returned and no other, is checked in `serial::openapi`: it cuts the database.)

use imagepipe_tests::{Options, TestSystem};
use uuid::Uuid;

/// The Python with `openapi-spec-validator`, as scripts/test.sh installs it.
fn python() -> String {
    std::env::var("IMAGEPIPE_TEST_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/../.local/venv-openapi/bin/python",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

#[tokio::test]
async fn the_openapi_document_validates_as_openapi_3() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let document = system.openapi_document().await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let path = std::env::temp_dir().join(format!("imagepipe-openapi-{}.json", Uuid::now_v7()));
    std::fs::write(&path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let output = std::process::Command::new(python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (install openapi-spec-validator; scripts/test.sh does): {e}",
                python()
            )
        });
    std::fs::remove_file(&path).ok();
    assert!(
        output.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    system.cleanup().await;
}
