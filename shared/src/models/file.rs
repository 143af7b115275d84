//! The models file as written, and the checks that make it [`DeclaredModels`]: each failure
//! names the field, and the caller the model.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use url::Url;

use super::*;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    models: BTreeMap<String, ModelText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelText {
    runtime: RuntimeName,
    // runtime = "onnx"
    path: Option<PathBuf>,
    sha256: Option<String>,
    // runtime = "oip"
    url: Option<String>,
    model: Option<String>,
    version: Option<String>,
    timeout_ms: Option<u64>,
    input: InputSpec,
    report: ReportText,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RuntimeName {
    Onnx,
    Oip,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ReportText {
    Raw {
        outputs: Option<Vec<String>>,
        #[serde(default = "default_max_values")]
        max_values: usize,
    },
    Classes {
        output: Option<String>,
        #[serde(default = "default_top_k")]
        top_k: usize,
        labels: PathBuf,
        #[serde(default = "yes")]
        softmax: bool,
    },
}

fn default_max_values() -> usize {
    DEFAULT_MAX_VALUES
}

fn default_top_k() -> usize {
    DEFAULT_TOP_K
}

fn yes() -> bool {
    true
}

/// The models of a models file's text, by name, each checked; `folder` is the file's.
pub(super) fn parse(text: &str, folder: &Path) -> Result<BTreeMap<String, DeclaredModel>, String> {
    let file: FileText = toml::from_str(text).map_err(|e| e.to_string())?;
    file.models
        .into_iter()
        .map(|(name, model)| {
            let declared = model
                .check(&name, folder)
                .map_err(|e| format!("model `{name}`: {e}"))?;
            Ok((name, declared))
        })
        .collect()
}

impl ModelText {
    fn check(self, name: &str, folder: &Path) -> Result<DeclaredModel, String> {
        if !crate::steps::valid_name(name) {
            return Err("a model's name is 1 to 64 letters, digits, `-` or `_`".into());
        }
        let runtime = match self.runtime {
            RuntimeName::Onnx => self.onnx(folder)?,
            RuntimeName::Oip => self.oip(name)?,
        };
        check_input(&self.input).map_err(|e| format!("input.{e}"))?;
        let report = check_report(self.report, folder).map_err(|e| format!("report.{e}"))?;
        Ok(DeclaredModel {
            name: name.to_owned(),
            runtime,
            input: self.input,
            report,
        })
    }

    fn onnx(&self, folder: &Path) -> Result<ModelRuntime, String> {
        only_for("onnx", "url", self.url.is_some())?;
        only_for("onnx", "model", self.model.is_some())?;
        only_for("onnx", "version", self.version.is_some())?;
        only_for("onnx", "timeout_ms", self.timeout_ms.is_some())?;
        let path = self
            .path
            .as_ref()
            .ok_or("path: an onnx model needs the path of its file")?;
        let sha256 = self
            .sha256
            .as_ref()
            .ok_or("sha256: an onnx model needs its file's SHA-256 (sha256sum)")?;
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("sha256: 64 hexadecimal digits, as sha256sum prints them".into());
        }
        Ok(ModelRuntime::Onnx {
            path: folder.join(path),
            sha256: sha256.to_ascii_lowercase(),
        })
    }

    fn oip(&self, name: &str) -> Result<ModelRuntime, String> {
        only_for("oip", "path", self.path.is_some())?;
        only_for("oip", "sha256", self.sha256.is_some())?;
        let text = self
            .url
            .as_deref()
            .ok_or("url: an oip model needs its server's base URL, e.g. http://mlserver:8080")?;
        let url = Url::parse(text).map_err(|e| format!("url: `{text}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!(
                "url: `{text}`: an http(s) base URL with a host and no query or fragment"
            ));
        }
        let model = self.model.clone().unwrap_or_else(|| name.to_owned());
        let version = self.version.clone();
        for (field, value) in [("model", Some(&model)), ("version", version.as_ref())] {
            if let Some(value) = value
                && (value.is_empty() || value.len() > 256 || value.contains('/'))
            {
                return Err(format!(
                    "{field}: 1 to 256 characters, no `/` (the model's {field} on the server)"
                ));
            }
        }
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_SERVER_TIMEOUT_MS);
        if !(1..=MAX_SERVER_TIMEOUT_MS).contains(&timeout_ms) {
            return Err(format!("timeout_ms: from 1 to {MAX_SERVER_TIMEOUT_MS}"));
        }
        Ok(ModelRuntime::Oip(ModelServer {
            url,
            model,
            version,
            timeout: Duration::from_millis(timeout_ms),
        }))
    }
}

/// A field another runtime's model has: refused, so a typo or a half-edited declaration
/// shows at start instead of being ignored.
fn only_for(runtime: &str, field: &str, given: bool) -> Result<(), String> {
    if given {
        Err(format!("{field}: not a field of an {runtime} model"))
    } else {
        Ok(())
    }
}

fn check_input(input: &InputSpec) -> Result<(), String> {
    if input.tensor.is_empty() {
        return Err("tensor: the input tensor's name in the model".into());
    }
    for (field, side) in [("width", input.width), ("height", input.height)] {
        if !(1..=MAX_INPUT_SIDE).contains(&side) {
            return Err(format!("{field}: from 1 to {MAX_INPUT_SIDE}"));
        }
    }
    if input.mean.iter().any(|m| !m.is_finite()) {
        return Err("mean: finite numbers".into());
    }
    if input.std.iter().any(|s| !s.is_finite() || *s == 0.0) {
        return Err("std: finite numbers other than 0".into());
    }
    if input.dtype == InputDtype::Uint8 && (input.mean != zeros() || input.std != ones()) {
        return Err("mean, std: a uint8 input is the pixel values themselves; normalisation applies to float32".into());
    }
    Ok(())
}

fn check_report(report: ReportText, folder: &Path) -> Result<ReportSpec, String> {
    Ok(match report {
        ReportText::Raw {
            outputs,
            max_values,
        } => {
            if !(1..=MAX_MAX_VALUES).contains(&max_values) {
                return Err(format!("max_values: from 1 to {MAX_MAX_VALUES}"));
            }
            if let Some(names) = &outputs {
                let unique: BTreeSet<_> = names.iter().collect();
                if names.is_empty()
                    || unique.len() != names.len()
                    || names.iter().any(String::is_empty)
                {
                    return Err("outputs: the names of the outputs to report, each once (leave it out for all)".into());
                }
            }
            ReportSpec::Raw {
                outputs,
                max_values,
            }
        }
        ReportText::Classes {
            output,
            top_k,
            labels,
            softmax,
        } => {
            if !(1..=MAX_TOP_K).contains(&top_k) {
                return Err(format!("top_k: from 1 to {MAX_TOP_K}"));
            }
            let path = folder.join(labels);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("labels: cannot read {}: {e}", path.display()))?;
            let labels =
                read_labels(&text).map_err(|e| format!("labels: {}: {e}", path.display()))?;
            ReportSpec::Classes {
                output,
                top_k,
                labels,
                softmax,
            }
        }
    })
}

/// One label per line (a last newline, and `\r\n` endings, allowed); none empty.
pub(super) fn read_labels(text: &str) -> Result<Vec<String>, String> {
    let labels: Vec<String> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line).to_owned())
        .collect();
    if let Some(line) = labels.iter().position(|l| l.trim().is_empty()) {
        return Err(format!("line {} is empty: one label per line", line + 1));
    }
    if labels.len() > MAX_LABELS {
        return Err(format!("more than {MAX_LABELS} labels"));
    }
    Ok(labels)
}
