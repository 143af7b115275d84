//! A client's `steps` field, from bytes to typed steps, with every problem reported at its
//! JSON pointer into the request (`/steps/2/width`), as many as can be found at once.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    StepProblem,
    types::{
        Blur, BlurFaces, Crop, Delay, DetectFaces, Encode, Flip, Grayscale, Infer, Op, Resize,
        Rotate, Sharpen, Step,
    },
};

/// Where a chain sits in a request: the root of every pointer.
pub(super) const STEPS_POINTER: &str = "/steps";

/// Parse the `steps` field (JSON text). Sizes, bounds and the rules between steps are
/// [`check`](super::check)'s, which runs next.
pub fn parse_steps(bytes: &[u8]) -> Result<Vec<Step>, Vec<StepProblem>> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        vec![StepProblem::at(
            STEPS_POINTER,
            format!("steps must be a JSON array of steps: {e}"),
        )]
    })?;
    parse_value(&value, STEPS_POINTER)
}

/// Parse a chain already read as JSON (a job's, a presets file's), its pointers under `root`.
pub fn parse_value(value: &Value, root: &str) -> Result<Vec<Step>, Vec<StepProblem>> {
    let Value::Array(items) = value else {
        return Err(vec![StepProblem::at(
            root,
            "steps must be a JSON array of steps, like [{\"op\": \"grayscale\"}]",
        )]);
    };
    let mut steps = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match parse_step(item, &format!("{root}/{index}")) {
            Ok(step) => steps.push(step),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(steps)
    } else {
        Err(problems)
    }
}

fn parse_step(item: &Value, pointer: &str) -> Result<Step, StepProblem> {
    let Value::Object(fields) = item else {
        return Err(StepProblem::at(
            pointer,
            "a step must be a JSON object with an `op`",
        ));
    };
    let op_pointer = format!("{pointer}/op");
    let name = match fields.get("op") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(StepProblem::at(&op_pointer, "op must be a string")),
        None => return Err(StepProblem::at(&op_pointer, "a step needs an op")),
    };
    let op = Op::parse(name).ok_or_else(|| {
        StepProblem::at(
            &op_pointer,
            format!("unknown op `{name}`; the ops are {}", Op::names()),
        )
    })?;
    let mut params = fields.clone();
    params.remove("op");
    let params = Value::Object(params);
    let step = match op {
        Op::Resize => Step::Resize(params_of::<Resize>(params, pointer)?),
        Op::Crop => Step::Crop(params_of::<Crop>(params, pointer)?),
        Op::Rotate => Step::Rotate(params_of::<Rotate>(params, pointer)?),
        Op::Flip => Step::Flip(params_of::<Flip>(params, pointer)?),
        Op::Grayscale => Step::Grayscale(params_of::<Grayscale>(params, pointer)?),
        Op::Blur => Step::Blur(params_of::<Blur>(params, pointer)?),
        Op::Sharpen => Step::Sharpen(params_of::<Sharpen>(params, pointer)?),
        Op::Delay => Step::Delay(params_of::<Delay>(params, pointer)?),
        Op::Encode => Step::Encode(params_of::<Encode>(params, pointer)?),
        Op::DetectFaces => Step::DetectFaces(params_of::<DetectFaces>(params, pointer)?),
        Op::BlurFaces => Step::BlurFaces(params_of::<BlurFaces>(params, pointer)?),
        Op::Infer => Step::Infer(params_of::<Infer>(params, pointer)?),
    };
    Ok(step)
}

/// One op's parameters, typed. A wrong type points at the parameter, a missing one at the
/// step, and an unknown one at itself (serde's message names it: "unknown field `x`, …").
fn params_of<T: DeserializeOwned>(params: Value, pointer: &str) -> Result<T, StepProblem> {
    serde_path_to_error::deserialize::<_, T>(params).map_err(|err| {
        let path = err.path().to_string();
        let detail = err.into_inner().to_string();
        let at = if path == "." {
            match unknown_field_name(&detail) {
                Some(name) => format!("{pointer}/{}", escape(name)),
                None => pointer.to_owned(),
            }
        } else {
            let segments: Vec<_> = path.split('.').map(escape).collect();
            format!("{pointer}/{}", segments.join("/"))
        };
        StepProblem::at(&at, detail)
    })
}

fn unknown_field_name(detail: &str) -> Option<&str> {
    let rest = detail.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

/// RFC 6901: `~` and `/` in a key are escaped in a pointer.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(json: &str) -> Vec<(String, String)> {
        parse_steps(json.as_bytes())
            .expect_err("should be refused")
            .into_iter()
            .map(|p| (p.pointer, p.detail))
            .collect()
    }

    #[test]
    fn a_good_chain_parses_with_defaults_filled() {
        let steps = parse_steps(
            br#"[{"op":"resize","width":800},{"op":"grayscale"},{"op":"encode","format":"webp"}]"#,
        )
        .unwrap();
        assert_eq!(steps.len(), 3);
        let canonical = serde_json::to_value(&steps).unwrap();
        assert_eq!(
            canonical,
            serde_json::json!([
                {"op":"resize","width":800,"fit":"contain","gravity":"centre","enlarge":false},
                {"op":"grayscale"},
                {"op":"encode","format":"webp"}
            ])
        );
    }

    #[test]
    fn every_problem_points_at_its_place() {
        assert_eq!(problems("{").len(), 1);
        assert_eq!(problems("{")[0].0, "/steps");
        assert_eq!(problems(r#"{"op":"blur"}"#)[0].0, "/steps");
        let found = problems(
            r#"[{"op":"resize","width":"wide"},7,{"op":"spin"},{"width":3},{"op":"blur","sigma":1,"radius":2}]"#,
        );
        let pointers: Vec<_> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/steps/0/width",
                "/steps/1",
                "/steps/2/op",
                "/steps/3/op",
                "/steps/4/radius"
            ],
            "{found:?}"
        );
        assert!(found[2].1.contains("unknown op `spin`"), "{}", found[2].1);
        assert!(
            found[4].1.contains("unknown field `radius`"),
            "{}",
            found[4].1
        );
    }

    #[test]
    fn a_missing_parameter_points_at_the_step() {
        let found = problems(r#"[{"op":"rotate"}]"#);
        assert_eq!(found[0].0, "/steps/0");
        assert!(found[0].1.contains("degrees"), "{}", found[0].1);
    }
}
