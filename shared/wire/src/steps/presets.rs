//! Presets: chains the operator names. Three ship by default (`grayscale`, the default chain;
//! `thumbnail`; `web`); `PRESETS_FILE` adds or replaces them. A presets file is checked
//! whole at start, by the same rules as a client's chain, so a bad one stops the service
//! instead of failing tasks later.

use std::{collections::BTreeMap, path::Path};

use serde_json::Value;

use super::{
    Chain, ChainError, ChainRules,
    parse::parse_value,
    types::{Encode, Fit, Gravity, OutputFormat, Resize, Step},
};

/// Where a preset's problems point: the request's `preset` field.
pub const PRESETS_POINTER: &str = "/preset";

/// The named chains of this deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Presets(BTreeMap<String, Chain>);

impl Presets {
    /// The presets that ship.
    pub fn builtin() -> Self {
        let resize = |width, height, fit| {
            Step::Resize(Resize {
                width: Some(width),
                height: Some(height),
                fit,
                gravity: Gravity::Centre,
                enlarge: false,
            })
        };
        let encode = |format, quality| {
            Step::Encode(Encode {
                format,
                quality: Some(quality),
                lossless: None,
            })
        };
        Self(BTreeMap::from([
            ("grayscale".to_owned(), Chain::Default),
            (
                "thumbnail".to_owned(),
                Chain::Steps(vec![
                    resize(256, 256, Fit::Cover),
                    encode(OutputFormat::Jpeg, 90),
                ]),
            ),
            (
                "web".to_owned(),
                Chain::Steps(vec![
                    resize(2048, 2048, Fit::Contain),
                    encode(OutputFormat::Webp, 80),
                ]),
            ),
        ]))
    }

    /// The built-in presets, with those of a presets file (a JSON object of name → steps)
    /// added or put in their place. Every chain is checked against `rules`.
    pub fn load(file: Option<&Path>, rules: &ChainRules) -> anyhow::Result<Self> {
        let mut presets = Self::builtin();
        let Some(path) = file else {
            return Ok(presets);
        };
        let text = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read PRESETS_FILE {}: {e}", path.display()))?;
        presets.extend_from_json(&text, rules).map_err(|e| {
            anyhow::anyhow!(
                "PRESETS_FILE {} is not a valid presets file: {e}",
                path.display()
            )
        })?;
        Ok(presets)
    }

    fn extend_from_json(&mut self, text: &[u8], rules: &ChainRules) -> Result<(), String> {
        let value: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        let Value::Object(entries) = value else {
            return Err(r#"expected a JSON object of name → steps, like {"small": [{"op": "resize", "width": 320}]}"#.into());
        };
        for (name, steps) in entries {
            if !valid_name(&name) {
                return Err(format!(
                    "preset name `{name}`: use 1 to 64 letters, digits, `-` or `_`"
                ));
            }
            let root = format!("/{name}");
            let steps = parse_value(&steps, &root)
                .map_err(|problems| ChainError::invalid_all(problems).summary())?;
            rules.check_steps(&steps, &root).map_err(|e| e.summary())?;
            self.0.insert(name, Chain::Steps(steps));
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Chain> {
        self.0.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Chain)> {
        self.0.iter().map(|(name, chain)| (name.as_str(), chain))
    }
}

/// A preset's or a model's name: 1 to 64 letters, digits, `-` or `_`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_rules::DecodeLimits;

    fn rules() -> ChainRules {
        ChainRules {
            max_steps: 16,
            max_delay_ms: 60_000,
            limits: DecodeLimits::default(),
        }
    }

    #[test]
    fn the_shipped_presets_are_the_documented_chains() {
        let presets = Presets::builtin();
        assert_eq!(presets.get("grayscale"), Some(&Chain::Default));
        let as_json = |name| match presets.get(name).unwrap() {
            Chain::Steps(steps) => serde_json::to_value(steps).unwrap(),
            Chain::Default => panic!("{name} is not the default chain"),
        };
        assert_eq!(
            as_json("thumbnail"),
            serde_json::json!([
                {"op":"resize","width":256,"height":256,"fit":"cover","gravity":"centre","enlarge":false},
                {"op":"encode","format":"jpeg","quality":90}
            ])
        );
        assert_eq!(
            as_json("web"),
            serde_json::json!([
                {"op":"resize","width":2048,"height":2048,"fit":"contain","gravity":"centre","enlarge":false},
                {"op":"encode","format":"webp","quality":80}
            ])
        );
        for (name, chain) in presets.iter() {
            if let Chain::Steps(steps) = chain {
                rules()
                    .check_steps(steps, "/preset")
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn a_presets_file_adds_and_replaces() {
        let mut presets = Presets::builtin();
        presets
            .extend_from_json(
                br#"{"small": [{"op":"resize","width":320}], "web": [{"op":"grayscale"}]}"#,
                &rules(),
            )
            .unwrap();
        assert!(presets.get("small").is_some());
        assert_eq!(
            presets.names().collect::<Vec<_>>(),
            ["grayscale", "small", "thumbnail", "web"]
        );
        assert_eq!(
            presets.get("web"),
            Some(&Chain::Steps(vec![Step::Grayscale(
                super::super::Grayscale {}
            )]))
        );
    }

    #[test]
    fn a_bad_presets_file_says_where() {
        let mut presets = Presets::builtin();
        let err = presets
            .extend_from_json(br#"{"x": [{"op":"delay","ms":999999}]}"#, &rules())
            .unwrap_err();
        assert!(err.contains("/x/0/ms"), "{err}");
        let err = presets
            .extend_from_json(br#"{"bad name": []}"#, &rules())
            .unwrap_err();
        assert!(err.contains("bad name"), "{err}");
        assert!(presets.extend_from_json(b"[]", &rules()).is_err());
    }
}
