//! The work asked of every file of a `submit`, and the idempotency key it gives each file.

use anyhow::Context;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the server runs on each file.
#[derive(Debug, Clone)]
pub(crate) enum Chain {
    /// Neither steps nor preset: the server's default chain.
    Default,
    /// A JSON array of steps, as given (the server checks it).
    Steps(String),
    Preset(String),
}

impl Chain {
    /// From `--steps` (JSON, or `@FILE`) and `--preset`. Steps that are not a JSON array are
    /// a usage error here, before any upload; the server checks the steps themselves.
    pub(crate) fn from_args(steps: Option<&str>, preset: Option<&str>) -> anyhow::Result<Self> {
        if let Some(preset) = preset {
            anyhow::ensure!(!preset.trim().is_empty(), "--preset needs a name");
            return Ok(Self::Preset(preset.trim().to_owned()));
        }
        let Some(steps) = steps else {
            return Ok(Self::Default);
        };
        let text = match steps.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the steps file {path}"))?,
            None => steps.to_owned(),
        };
        let parsed: Value = serde_json::from_str(&text).context("--steps is not JSON")?;
        anyhow::ensure!(parsed.is_array(), "--steps must be a JSON array of steps");
        Ok(Self::Steps(text))
    }

    /// What the key says of the chain: the same work however it is spelled (key order,
    /// spaces), and other work for other steps or another preset.
    fn identity(&self) -> String {
        match self {
            Self::Default => "default".to_owned(),
            Self::Preset(name) => format!("preset:{name}"),
            Self::Steps(text) => {
                let canonical = serde_json::from_str::<Value>(text)
                    .map(|v| canonical_json(&v))
                    .unwrap_or_else(|_| text.clone());
                format!("steps:{canonical}")
            }
        }
    }

    /// The `Idempotency-Key` of a file with these bytes asked for this work: hex SHA-256 of the
    /// bytes, a NUL, and the chain. Two runs of the same command agree on it, so the second
    /// gets the first's tasks; the same file asked for other work gets another key (the
    /// server would refuse a key reused for another request with 422).
    pub(crate) fn idempotency_key(&self, bytes: &[u8]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        hasher.update([0]);
        hasher.update(self.identity().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// JSON with object keys sorted at every level and no spaces: one text per value, whatever
/// serde_json's map order is in this build.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_bytes_and_the_work_not_the_spelling() {
        let steps = |s: &str| Chain::from_args(Some(s), None).unwrap();
        let a = steps(r#"[{"op":"resize","width":8,"height":4}]"#);
        let same = steps(r#"[ {"height": 4, "width": 8, "op": "resize"} ]"#);
        let other = steps(r#"[{"op":"resize","width":9,"height":4}]"#);
        let key = a.idempotency_key(b"image");
        assert_eq!(key.len(), 64, "1 to 255 characters, hex only");
        assert_eq!(key, same.idempotency_key(b"image"));
        assert_ne!(key, other.idempotency_key(b"image"));
        assert_ne!(key, a.idempotency_key(b"other image"));
        assert_ne!(
            Chain::Default.idempotency_key(b"image"),
            Chain::Preset("grayscale".into()).idempotency_key(b"image")
        );
    }

    #[test]
    fn steps_must_be_a_json_array() {
        assert!(Chain::from_args(Some("{\"op\":\"grayscale\"}"), None).is_err());
        assert!(Chain::from_args(Some("not json"), None).is_err());
        assert!(
            matches!(Chain::from_args(None, Some("web")).unwrap(), Chain::Preset(p) if p == "web")
        );
    }
}
