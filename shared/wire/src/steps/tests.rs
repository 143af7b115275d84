//! The chain rules, as a client meets them: each way a chain can be wrong, its code and its
//! pointer.

use super::*;
use crate::image_rules::DecodeLimits;

fn rules() -> ChainRules {
    ChainRules {
        max_steps: 16,
        max_delay_ms: 60_000,
        limits: DecodeLimits::default(),
    }
}

/// Parse and check a chain on a `size` image: the code and the pointers, or the output size.
fn outcome(json: &str, size: (u32, u32)) -> Result<(u32, u32), (ErrorCode, Vec<String>)> {
    let steps = parse_steps(json.as_bytes()).map_err(|problems| {
        (
            ErrorCode::InvalidSteps,
            problems.into_iter().map(|p| p.pointer).collect(),
        )
    })?;
    rules()
        .check(&steps, size, "/steps")
        .map_err(|e| (e.code, e.problems.into_iter().map(|p| p.pointer).collect()))
}

fn invalid_at(json: &str, pointers: &[&str]) {
    assert_eq!(
        outcome(json, (1000, 800)),
        Err((
            ErrorCode::InvalidSteps,
            pointers.iter().map(|p| p.to_string()).collect()
        )),
        "{json}"
    );
}

#[test]
fn a_valid_chain_carries_its_sizes_through() {
    let chain = r#"[{"op":"rotate","degrees":90},{"op":"crop","x":0,"y":0,"width":800,"height":500},
        {"op":"resize","width":400},{"op":"blur","sigma":1.5},{"op":"encode","format":"avif"}]"#;
    assert_eq!(outcome(chain, (1000, 800)), Ok((400, 250)));
    assert_eq!(outcome("[]", (1000, 800)), Ok((1000, 800)));
}

#[test]
fn every_broken_rule_has_its_pointer() {
    invalid_at(r#"[{"op":"rotate","degrees":45}]"#, &["/steps/0/degrees"]);
    invalid_at(r#"[{"op":"blur","sigma":0}]"#, &["/steps/0/sigma"]);
    invalid_at(r#"[{"op":"blur","sigma":51}]"#, &["/steps/0/sigma"]);
    // Too large for f32: it reads as infinity, which the bound refuses (found by fuzzing).
    invalid_at(r#"[{"op":"blur","sigma":7e123}]"#, &["/steps/0/sigma"]);
    invalid_at(
        r#"[{"op":"sharpen","sigma":20,"amount":-1}]"#,
        &["/steps/0/sigma", "/steps/0/amount"],
    );
    invalid_at(r#"[{"op":"delay","ms":60001}]"#, &["/steps/0/ms"]);
    invalid_at(r#"[{"op":"delay","ms":-1}]"#, &["/steps/0/ms"]);
    invalid_at(r#"[{"op":"resize"}]"#, &["/steps/0"]);
    invalid_at(r#"[{"op":"resize","width":0}]"#, &["/steps/0/width"]);
    invalid_at(
        r#"[{"op":"resize","width":10,"fit":"cover"}]"#,
        &["/steps/0/height"],
    );
    invalid_at(
        r#"[{"op":"resize","width":10,"fit":"squash"}]"#,
        &["/steps/0/fit"],
    );
    invalid_at(r#"[{"op":"flip","axis":"diagonal"}]"#, &["/steps/0/axis"]);
    invalid_at(
        r#"[{"op":"encode","format":"png","quality":50}]"#,
        &["/steps/0/quality"],
    );
    invalid_at(
        r#"[{"op":"encode","format":"jpeg","lossless":true}]"#,
        &["/steps/0/lossless"],
    );
    invalid_at(
        r#"[{"op":"encode","format":"webp","quality":0}]"#,
        &["/steps/0/quality"],
    );
    invalid_at(
        r#"[{"op":"encode","format":"webp","lossless":true,"quality":50}]"#,
        &["/steps/0/quality"],
    );
    invalid_at(r#"[{"op":"encode","format":"gif"}]"#, &["/steps/0/format"]);
    invalid_at(
        r#"[{"op":"encode","format":"png"},{"op":"grayscale"}]"#,
        &["/steps/0"],
    );
    invalid_at(
        r#"[{"op":"encode","format":"png"},{"op":"encode","format":"png"}]"#,
        &["/steps/0"],
    );
    let seventeen = format!("[{}]", vec![r#"{"op":"grayscale"}"#; 17].join(","));
    invalid_at(&seventeen, &["/steps"]);
}

#[test]
fn a_crop_must_lie_inside_the_image_it_is_given() {
    invalid_at(
        r#"[{"op":"crop","x":900,"y":0,"width":101,"height":10}]"#,
        &["/steps/0"],
    );
    // Inside the original, but not once a turn made it 800 wide.
    invalid_at(
        r#"[{"op":"rotate","degrees":270},{"op":"crop","x":0,"y":0,"width":900,"height":10}]"#,
        &["/steps/1"],
    );
    assert_eq!(
        outcome(
            r#"[{"op":"crop","x":900,"y":700,"width":100,"height":100}]"#,
            (1000, 800)
        ),
        Ok((100, 100))
    );
}

#[test]
fn an_image_over_the_limits_anywhere_in_the_chain_is_too_large() {
    let too_large = |json: &str, pointer: &str| {
        assert_eq!(
            outcome(json, (4000, 3000)),
            Err((ErrorCode::OutputTooLarge, vec![pointer.to_owned()])),
            "{json}"
        );
    };
    too_large(
        r#"[{"op":"resize","width":20000,"enlarge":true}]"#,
        "/steps/0",
    );
    // 40 MP is the limit: 8000×6000 is over it even though it is shrunk again afterwards.
    too_large(
        r#"[{"op":"resize","width":8000,"enlarge":true},{"op":"resize","width":100}]"#,
        "/steps/0",
    );
    // `cover` scales first: a thin strip of a huge scaled image is still too large.
    too_large(
        r#"[{"op":"resize","width":1,"height":16000,"fit":"cover","enlarge":true}]"#,
        "/steps/0",
    );
    // Without `enlarge` nothing grows, so the same request is fine.
    assert_eq!(
        outcome(r#"[{"op":"resize","width":20000}]"#, (4000, 3000)),
        Ok((4000, 3000))
    );
}

#[test]
fn allowed_ops_restrict_a_chain() {
    let allowed = AllowedOps::from_names(["resize", "encode"]).unwrap();
    let steps = parse_steps(br#"[{"op":"resize","width":10},{"op":"blur","sigma":1}]"#).unwrap();
    let err = allowed.check(&steps, "/steps").unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSteps);
    assert_eq!(err.problems[0].pointer, "/steps/1/op");
    assert!(AllowedOps::from_names(["resize", "spin"]).is_err());
    assert!(AllowedOps::all().check(&steps, "/steps").is_ok());
}

#[test]
fn the_default_chain_is_the_seeds() {
    assert_eq!(
        canonical(&Chain::Default.steps(5000)),
        r#"[{"op":"grayscale"},{"op":"delay","ms":5000}]"#
    );
}

#[test]
fn the_canonical_form_spells_out_defaults() {
    let short = parse_steps(br#"[{"op":"resize","width":10}]"#).unwrap();
    let long = parse_steps(
        br#"[{"enlarge":false,"gravity":"centre","op":"resize","fit":"contain","width":10}]"#,
    )
    .unwrap();
    assert_eq!(canonical(&short), canonical(&long));
}

/// The OpenAPI document states the bounds `bounds` defines (poem-openapi needs literals).
#[test]
fn the_schema_states_the_bounds() {
    use poem_openapi::registry::Registry;
    let mut registry = Registry::new();
    <Step as poem_openapi::types::Type>::register(&mut registry);
    let schema = |name: &str, field: &str| {
        let schema = registry
            .schemas
            .get(name)
            .unwrap_or_else(|| panic!("{name}"));
        let (_, property) = schema
            .properties
            .iter()
            .find(|(n, _)| *n == field)
            .unwrap_or_else(|| panic!("{name}.{field}"));
        property.unwrap_inline().clone()
    };
    let blur = schema("BlurStep", "sigma");
    assert_eq!(blur.minimum.map(|v| v as f32), Some(bounds::MIN_SIGMA));
    assert_eq!(blur.maximum, Some(f64::from(bounds::MAX_BLUR_SIGMA)));
    let sharpen = schema("SharpenStep", "sigma");
    assert_eq!(sharpen.maximum, Some(f64::from(bounds::MAX_SHARPEN_SIGMA)));
    let amount = schema("SharpenStep", "amount");
    assert_eq!(amount.maximum, Some(f64::from(bounds::MAX_SHARPEN_AMOUNT)));
    let quality = schema("EncodeStep", "quality");
    assert_eq!(quality.minimum, Some(f64::from(bounds::MIN_QUALITY)));
    assert_eq!(quality.maximum, Some(f64::from(bounds::MAX_QUALITY)));
}
