use clap::Parser;
use serde_json::json;

use super::*;

fn settings(flags: &[&str]) -> anyhow::Result<ChainSettings> {
    let config =
        IngestConfig::try_parse_from(std::iter::once("ingest").chain(flags.iter().copied()))?;
    ChainSettings::from_config(&config)
}

fn request(steps: Option<&str>, preset: Option<&str>) -> ChainRequest {
    ChainRequest {
        steps: steps.map(|s| Bytes::copy_from_slice(s.as_bytes())),
        preset: preset.map(str::to_owned),
    }
}

fn refused(chosen: Result<ChosenChain, ChainError>) -> (&'static str, Vec<String>) {
    let err = chosen.expect_err("refused");
    (
        err.code.as_str(),
        err.problems.into_iter().map(|p| p.pointer).collect(),
    )
}

#[test]
fn no_chain_is_the_default_chain_with_the_configured_delay() {
    let settings = settings(&["--processing-delay-ms", "42"]).unwrap();
    let chosen = request(None, None).choose(&settings, (10, 10)).unwrap();
    assert_eq!(
        chosen,
        ChosenChain {
            steps: None,
            preset: None
        }
    );
    assert_eq!(chosen.identity(), None);
    assert_eq!(
        serde_json::to_value(settings.steps_of(None)).unwrap(),
        json!([{"op": "grayscale"}, {"op": "delay", "ms": 42}])
    );
}

#[test]
fn a_clients_steps_are_stored_canonical() {
    let settings = settings(&[]).unwrap();
    let chosen = request(Some(r#"[{"width":8,"op":"resize"}]"#), None)
        .choose(&settings, (10, 10))
        .unwrap();
    let canonical =
        json!([{"op":"resize","width":8,"fit":"contain","gravity":"centre","enlarge":false}]);
    assert_eq!(chosen.steps, Some(canonical.clone()));
    assert_eq!(chosen.identity(), Some(format!("steps:{canonical}")));
    let shown = settings.steps_of(chosen.steps.as_ref());
    assert_eq!(serde_json::to_value(&shown).unwrap(), canonical);
    // The API writes them through poem-openapi, not serde: the same canonical form (an
    // absent side is left out, not null).
    assert_eq!(
        poem_openapi::types::ToJSON::to_json(&shown),
        Some(canonical)
    );
}

#[test]
fn presets_are_named_the_grayscale_one_is_the_default_chain() {
    let settings = settings(&[]).unwrap();
    let grayscale = request(None, Some("grayscale"))
        .choose(&settings, (10, 10))
        .unwrap();
    assert_eq!(grayscale.steps, None);
    assert_eq!(grayscale.identity().as_deref(), Some("preset:grayscale"));
    let thumbnail = request(None, Some("thumbnail"))
        .choose(&settings, (1000, 800))
        .unwrap();
    assert_eq!(thumbnail.steps.unwrap()[0]["width"], 256);
    assert_eq!(
        refused(request(None, Some("nope")).choose(&settings, (10, 10))),
        ("unknown_preset", vec!["/preset".to_owned()])
    );
    assert_eq!(
        refused(request(Some("[]"), Some("web")).choose(&settings, (10, 10))),
        ("invalid_steps", vec!["/preset".to_owned()])
    );
}

#[test]
fn allowed_ops_restrict_a_clients_steps_only() {
    let settings = settings(&["--allowed-ops", "resize,encode"]).unwrap();
    assert_eq!(
        refused(request(Some(r#"[{"op":"grayscale"}]"#), None).choose(&settings, (10, 10))),
        ("invalid_steps", vec!["/steps/0/op".to_owned()])
    );
    // The default chain and the grayscale preset use grayscale anyway.
    request(None, None).choose(&settings, (10, 10)).unwrap();
    request(None, Some("grayscale"))
        .choose(&settings, (10, 10))
        .unwrap();
}

#[test]
fn sizes_follow_the_image() {
    let settings = settings(&[]).unwrap();
    let crop = r#"[{"op":"crop","x":0,"y":0,"width":20,"height":5}]"#;
    request(Some(crop), None)
        .choose(&settings, (20, 10))
        .unwrap();
    assert_eq!(
        refused(request(Some(crop), None).choose(&settings, (10, 20))),
        ("invalid_steps", vec!["/steps/0".to_owned()])
    );
    let huge = r#"[{"op":"resize","width":100000,"enlarge":true}]"#;
    assert_eq!(
        refused(request(Some(huge), None).choose(&settings, (10, 10))),
        ("output_too_large", vec!["/steps/0".to_owned()])
    );
}

#[test]
fn a_service_refuses_to_start_with_settings_no_chain_could_keep() {
    let err = settings(&["--processing-delay-ms", "70000"]).unwrap_err();
    assert!(err.to_string().contains("MAX_DELAY_MS"), "{err}");
    settings(&["--processing-delay-ms", "70000", "--max-delay-ms", "70000"]).unwrap();
    let err = settings(&["--allowed-ops", "resize,spin"]).unwrap_err();
    assert!(err.to_string().contains("spin"), "{err}");
    let err = settings(&["--presets-file", "/nonexistent/presets.json"]).unwrap_err();
    assert!(err.to_string().contains("PRESETS_FILE"), "{err}");
}

#[test]
fn an_infer_step_must_name_a_declared_model() {
    let dir = std::env::temp_dir().join(format!("ingest-models-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let models = dir.join("models.toml");
    std::fs::write(
        &models,
        format!(
            "[models.m]\nruntime = \"onnx\"\npath = \"m.onnx\"\nsha256 = \"{}\"\n\
             [models.m.input]\ntensor = \"x\"\nwidth = 8\nheight = 8\n\
             [models.m.report]\nkind = \"raw\"\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let models = models.to_string_lossy().into_owned();
    let declared = settings(&["--models-file", &models]).unwrap();
    request(Some(r#"[{"op":"infer","model":"m"}]"#), None)
        .choose(&declared, (10, 10))
        .unwrap();
    assert_eq!(
        refused(
            request(
                Some(r#"[{"op":"grayscale"},{"op":"infer","model":"n"}]"#),
                None
            )
            .choose(&declared, (10, 10))
        ),
        ("unknown_model", vec!["/steps/1/model".to_owned()])
    );
    // Presets are checked against the models at start.
    let presets = dir.join("presets.json");
    std::fs::write(&presets, r#"{"tagged": [{"op":"infer","model":"n"}]}"#).unwrap();
    let presets = presets.to_string_lossy().into_owned();
    let err = settings(&["--models-file", &models, "--presets-file", &presets]).unwrap_err();
    assert!(
        err.to_string().contains("preset `tagged`") && err.to_string().contains("/tagged/0/model"),
        "{err}"
    );
    let err = settings(&["--models-file", "/nonexistent/models.toml"]).unwrap_err();
    assert!(err.to_string().contains("MODELS_FILE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn allowed_ops_default_to_every_op() {
    let settings = settings(&[]).unwrap();
    assert_eq!(settings.allowed, AllowedOps::all());
}
