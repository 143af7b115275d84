//! The OpenAPI document is valid OpenAPI 3, and describes chains of steps exactly enough for
//! a generated client to build them. (That it is honest, every status it documents returned
//! and no other, is checked in `serial::openapi`: it cuts the database.)

use imagepipe_shared::steps::Op;
use imagepipe_tests::{Options, TestSystem, made_models::reference_python};
use serde_json::Value;
use uuid::Uuid;

#[tokio::test]
async fn the_openapi_document_validates_as_openapi_3() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let document = system.openapi_document().await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    the_steps_are_one_schema_per_op_told_apart_by_op(&document);
    a_problem_lists_each_error_at_its_pointer(&document);
    validate(&document);
    system.cleanup().await;

    // What the configuration adds (the key's security requirement, the rate limit's 429s)
    // is valid too.
    let system = TestSystem::start(Options {
        start_processor: false,
        api_keys: vec!["openapi-key".into()],
        rate_limit_per_minute: 60,
        ..Options::default()
    })
    .await;
    validate(&system.openapi_document().await);
    system.cleanup().await;
}

/// `document` passes openapi-spec-validator.
fn validate(document: &Value) {
    let path = std::env::temp_dir().join(format!("imagepipe-openapi-{}.json", Uuid::now_v7()));
    std::fs::write(&path, serde_json::to_vec_pretty(document).unwrap()).unwrap();
    let output = std::process::Command::new(reference_python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (install openapi-spec-validator; scripts/test.sh does): {e}",
                reference_python().display()
            )
        });
    std::fs::remove_file(&path).ok();
    assert!(
        output.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The schema a `$ref` names.
fn resolve<'a>(document: &'a Value, reference: &Value) -> &'a Value {
    let name = reference
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("a schema reference: {reference}"));
    &document["components"]["schemas"][name]
}

/// The upload's `steps` is an array of `Step`, and `Step` is one schema per op, discriminated
/// by `op`, each with its parameters' bounds and an example; the task shows the same type.
fn the_steps_are_one_schema_per_op_told_apart_by_op(document: &Value) {
    let form = &document["paths"]["/api/v1/analyze"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["schema"]["properties"];
    assert_eq!(form["steps"]["type"], "array", "{form}");
    assert_eq!(form["preset"]["type"], "string", "{form}");
    let step_ref = &form["steps"]["items"]["$ref"];
    let step = resolve(document, step_ref);
    let task_steps = &document["components"]["schemas"]["TaskView"]["properties"]["steps"];
    assert_eq!(
        &task_steps["items"]["$ref"], step_ref,
        "the task shows the same steps"
    );

    let one_of = step["oneOf"].as_array().expect("oneOf");
    assert_eq!(one_of.len(), Op::ALL.len(), "one schema per op: {step}");
    assert_eq!(step["discriminator"]["propertyName"], "op", "{step}");
    let mapping = step["discriminator"]["mapping"]
        .as_object()
        .expect("mapping");
    let ops: Vec<&str> = Op::ALL.iter().map(|op| op.as_str()).collect();
    assert_eq!(
        mapping
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ops.iter().copied().collect(),
        "every op is mapped"
    );
    for op in &ops {
        let variant = resolve(document, &mapping[*op]);
        assert!(
            one_of.iter().any(|r| r["$ref"] == mapping[*op]),
            "{op} is one of the Step schemas"
        );
        // The variant is the op's own schema with `op` added.
        let text = variant.to_string();
        assert!(text.contains("\"op\""), "{op}: {variant}");
    }
    let schema = |name: &str| &document["components"]["schemas"][name];
    // Bounds and examples, from the types themselves.
    let blur = &schema("BlurStep")["properties"]["sigma"];
    assert_eq!(
        (blur["minimum"].as_f64(), blur["maximum"].as_f64()),
        (Some(0.1), Some(50.0)),
        "{blur}"
    );
    let quality = &schema("EncodeStep")["properties"]["quality"];
    assert_eq!(
        (quality["minimum"].as_f64(), quality["maximum"].as_f64()),
        (Some(1.0), Some(100.0))
    );
    let degrees = &schema("RotateStep")["properties"]["degrees"];
    assert_eq!(degrees["multipleOf"].as_f64(), Some(90.0), "{degrees}");
    for name in [
        "ResizeStep",
        "CropStep",
        "RotateStep",
        "FlipStep",
        "BlurStep",
        "SharpenStep",
        "DelayStep",
        "EncodeStep",
    ] {
        assert!(schema(name)["example"].is_object(), "{name} has an example");
    }
    let result = resolve(
        document,
        &document["components"]["schemas"]["TaskView"]["properties"]["result"]["$ref"],
    );
    for field in ["width", "height", "content_type", "size_bytes", "key"] {
        assert!(
            result["properties"][field].is_object(),
            "result.{field}: {result}"
        );
    }
}

/// The problem document declares `errors`: a pointer and a detail for each.
fn a_problem_lists_each_error_at_its_pointer(document: &Value) {
    let problem = &document["components"]["schemas"]["Problem"];
    let errors = &problem["properties"]["errors"];
    assert_eq!(errors["type"], "array", "{problem}");
    let location = resolve(document, &errors["items"]["$ref"]);
    for field in ["pointer", "detail"] {
        assert_eq!(
            location["properties"][field]["type"], "string",
            "{location}"
        );
    }
}
