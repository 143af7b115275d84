//! The models an operator declares for the `infer` step: the models file (`MODELS_FILE`,
//! TOML), read by ingest (to refuse a chain that names a model not declared) and by the
//! processor (to load and run them), through this one type. Checked whole at start, like a
//! presets file: a bad file stops the service with a message naming the model and the field.
//!
//! ```toml
//! [models.colours]
//! runtime = "onnx"
//! path = "colours.onnx"          # relative to the models file's folder
//! sha256 = "3f2a…"               # sha256sum colours.onnx
//!
//! [models.colours.input]
//! tensor = "pixels"
//! width = 224
//! height = 224
//! fit = "cover"                  # fill | contain | cover
//! layout = "nchw"                # nchw | nhwc
//! dtype = "float32"              # float32 | uint8
//! channels = "rgb"               # rgb | bgr
//! mean = [0.485, 0.456, 0.406]   # value = (pixel / 255 - mean[c]) / std[c]
//! std = [0.229, 0.224, 0.225]
//!
//! [models.colours.report]
//! kind = "classes"               # or "raw"
//! labels = "colours.txt"
//! top_k = 5
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::{
    messages::ErrorCode,
    steps::{ChainError, Step, StepProblem},
};

/// Largest side of a declared input, in pixels.
pub const MAX_INPUT_SIDE: u32 = 4096;
/// Default `max_values` of a `raw` report: values per reported tensor.
pub const DEFAULT_MAX_VALUES: usize = 1000;
/// Largest `max_values`: what `MAX_ANALYSIS_BYTES` could hold at all is far less.
pub const MAX_MAX_VALUES: usize = 100_000;
/// Default `top_k` of a `classes` report.
pub const DEFAULT_TOP_K: usize = 5;
/// Largest `top_k`.
pub const MAX_TOP_K: usize = 1000;
/// Most labels in a labels file (classes of a model).
pub const MAX_LABELS: usize = 100_000;

/// The declared models, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclaredModels(BTreeMap<String, DeclaredModel>);

/// One declared model.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredModel {
    pub name: String,
    pub runtime: ModelRuntime,
    pub input: InputSpec,
    pub report: ReportSpec,
}

/// Where a model runs. One variant per runtime: `oip` (a model server speaking the Open
/// Inference Protocol) is to come, and is refused at start until it does.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelRuntime {
    /// A local ONNX file, run in-process; `path` resolved against the models file's folder.
    Onnx { path: PathBuf, sha256: String },
}

/// The model's input tensor, and how an image becomes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The input tensor's name in the model.
    pub tensor: String,
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub fit: InputFit,
    #[serde(default)]
    pub layout: TensorLayout,
    #[serde(default)]
    pub dtype: InputDtype,
    #[serde(default)]
    pub channels: ChannelOrder,
    /// Per channel, in the tensor's channel order: value = (pixel / 255 − mean) / std.
    /// float32 only.
    #[serde(default = "zeros")]
    pub mean: [f32; 3],
    #[serde(default = "ones")]
    pub std: [f32; 3],
    /// The grey level (0–255) of `contain`'s padding, before normalisation.
    #[serde(default)]
    pub pad: u8,
}

/// How the image is fitted to the input's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFit {
    /// Scaled to exactly the input's size, the aspect ratio not kept.
    #[default]
    Fill,
    /// Scaled to fit inside, centred, the rest padded with `pad` (a letterbox).
    Contain,
    /// Scaled to cover it, the overflow cut off equally on both sides (a centre crop).
    Cover,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorLayout {
    /// `[1, 3, height, width]`, PyTorch's.
    #[default]
    Nchw,
    /// `[1, height, width, 3]`, TensorFlow's.
    Nhwc,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputDtype {
    #[default]
    Float32,
    /// The pixel values themselves, 0–255 (no normalisation).
    Uint8,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    #[default]
    Rgb,
    /// OpenCV's order, and Caffe-era models'.
    Bgr,
}

/// How the model's outputs go into the task's analysis.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportSpec {
    /// The output tensors as they are (`outputs`: which, all by default), each at most
    /// `max_values` values: refused at start when the model's shape says it is larger, and
    /// the task fails (`inference_failed`) when a dynamic shape turns out larger.
    Raw {
        outputs: Option<Vec<String>>,
        max_values: usize,
    },
    /// Softmax (unless `softmax` is false: the model gives probabilities already) over one
    /// output's values, the `top_k` best with their labels, one label per value.
    Classes {
        output: Option<String>,
        top_k: usize,
        labels: Vec<String>,
        softmax: bool,
    },
}

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
    path: Option<PathBuf>,
    sha256: Option<String>,
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

fn zeros() -> [f32; 3] {
    [0.0; 3]
}

fn ones() -> [f32; 3] {
    [1.0; 3]
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

impl DeclaredModels {
    /// The models of `file` (none without one), every one checked; relative paths are the
    /// file's folder's. Labels files are read here; model files are the processor's to load.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = file else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read MODELS_FILE {}: {e}", path.display()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, folder).map_err(|e| {
            anyhow::anyhow!(
                "MODELS_FILE {} is not a valid models file: {e}",
                path.display()
            )
        })
    }

    fn from_toml(text: &str, folder: &Path) -> Result<Self, String> {
        let file: FileText = toml::from_str(text).map_err(|e| e.to_string())?;
        file.models
            .into_iter()
            .map(|(name, model)| {
                let declared = model
                    .check(&name, folder)
                    .map_err(|e| format!("model `{name}`: {e}"))?;
                Ok((name, declared))
            })
            .collect::<Result<_, String>>()
            .map(Self)
    }

    pub fn get(&self, name: &str) -> Option<&DeclaredModel> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &DeclaredModel> {
        self.0.values()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A chain's `infer` steps, refused (`unknown_model`, at `{root}/N/model`) where they
    /// name a model not declared here.
    pub fn check(&self, steps: &[Step], root: &str) -> Result<(), ChainError> {
        let problems: Vec<_> = steps
            .iter()
            .enumerate()
            .filter_map(|(index, step)| match step {
                Step::Infer(infer) if !self.0.contains_key(&infer.model) => Some(StepProblem::at(
                    &format!("{root}/{index}/model"),
                    self.unknown(&infer.model),
                )),
                _ => None,
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ChainError {
                code: ErrorCode::UnknownModel,
                problems,
            })
        }
    }

    fn unknown(&self, name: &str) -> String {
        let shown: String = name.chars().take(64).collect();
        if self.0.is_empty() {
            format!("no model named `{shown}`: this server declares no models (MODELS_FILE)")
        } else {
            format!(
                "no model named `{shown}`; the models are {}",
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    }
}

impl ModelText {
    fn check(self, name: &str, folder: &Path) -> Result<DeclaredModel, String> {
        if !crate::steps::valid_name(name) {
            return Err("a model's name is 1 to 64 letters, digits, `-` or `_`".into());
        }
        let runtime = match self.runtime {
            RuntimeName::Oip => {
                return Err(
                    "runtime: `oip` (a model server, Open Inference Protocol) is not supported \
                     yet; use `onnx`"
                        .into(),
                );
            }
            RuntimeName::Onnx => {
                let path = self
                    .path
                    .ok_or("path: an onnx model needs the path of its file")?;
                let sha256 = self
                    .sha256
                    .ok_or("sha256: an onnx model needs its file's SHA-256 (sha256sum)")?;
                if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err("sha256: 64 hexadecimal digits, as sha256sum prints them".into());
                }
                ModelRuntime::Onnx {
                    path: folder.join(path),
                    sha256: sha256.to_ascii_lowercase(),
                }
            }
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
fn read_labels(text: &str) -> Result<Vec<String>, String> {
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

impl ReportSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ReportSpec::Raw { .. } => "raw",
            ReportSpec::Classes { .. } => "classes",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::parse_steps;

    /// A folder with a labels file, for the files below.
    fn folder() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("imagepipe-models-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("colours.txt"), "red\ngreen\r\nblue\n").unwrap();
        dir
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";

    fn good() -> String {
        format!(
            r#"
[models.colours]
runtime = "onnx"
path = "colours.onnx"
sha256 = "{SHA}"
[models.colours.input]
tensor = "pixels"
width = 32
height = 24
fit = "contain"
mean = [0.5, 0.5, 0.5]
std = [0.5, 0.5, 0.5]
[models.colours.report]
kind = "classes"
labels = "colours.txt"
top_k = 2

[models.means]
runtime = "onnx"
path = "/abs/means.onnx"
sha256 = "{SHA}"
[models.means.input]
tensor = "image"
width = 16
height = 16
layout = "nhwc"
dtype = "uint8"
channels = "bgr"
[models.means.report]
kind = "raw"
"#
        )
    }

    fn refusal(text: &str) -> String {
        DeclaredModels::from_toml(text, &folder()).expect_err("refused")
    }

    #[test]
    fn a_models_file_reads_with_defaults_and_paths_beside_it() {
        let dir = folder();
        let models = DeclaredModels::from_toml(&good(), &dir).unwrap();
        let colours = models.get("colours").unwrap();
        assert_eq!(
            colours.runtime,
            ModelRuntime::Onnx {
                path: dir.join("colours.onnx"),
                sha256: SHA.to_ascii_lowercase()
            }
        );
        assert_eq!(colours.input.fit, InputFit::Contain);
        assert_eq!(colours.input.layout, TensorLayout::Nchw);
        assert_eq!(colours.input.dtype, InputDtype::Float32);
        assert_eq!(
            colours.report,
            ReportSpec::Classes {
                output: None,
                top_k: 2,
                labels: vec!["red".into(), "green".into(), "blue".into()],
                softmax: true
            }
        );
        let means = models.get("means").unwrap();
        assert!(
            matches!(&means.runtime, ModelRuntime::Onnx { path, .. } if path == Path::new("/abs/means.onnx"))
        );
        assert_eq!(means.input.mean, [0.0; 3]);
        assert_eq!(means.input.std, [1.0; 3]);
        assert_eq!(
            (means.input.channels, means.input.fit),
            (ChannelOrder::Bgr, InputFit::Fill)
        );
        assert_eq!(
            means.report,
            ReportSpec::Raw {
                outputs: None,
                max_values: DEFAULT_MAX_VALUES
            }
        );
        assert!(DeclaredModels::load(None).unwrap().is_empty());
    }

    #[test]
    fn a_bad_models_file_names_the_model_and_the_field() {
        let good = good();
        for (from, to, says) in [
            (
                r#"runtime = "onnx"
path = "colours.onnx""#,
                r#"runtime = "oip"
path = "colours.onnx""#,
                "model `colours`: runtime: `oip`",
            ),
            ("width = 32", "width = 0", "model `colours`: input.width"),
            (
                "std = [0.5, 0.5, 0.5]",
                "std = [0.5, 0, 0.5]",
                "model `colours`: input.std",
            ),
            ("top_k = 2", "top_k = 0", "model `colours`: report.top_k"),
            (
                r#"labels = "colours.txt""#,
                r#"labels = "nope.txt""#,
                "report.labels: cannot read",
            ),
            (
                r#"kind = "raw""#,
                "kind = \"raw\"\nmax_values = 0",
                "model `means`: report.max_values",
            ),
            (
                r#"channels = "bgr""#,
                "channels = \"bgr\"\nmean = [1, 1, 1]",
                "model `means`: input.mean, std",
            ),
            (r#"fit = "contain""#, r#"fit = "squash""#, "squash"),
            (r#"kind = "raw""#, r#"kind = "boxes""#, "boxes"),
            ("top_k = 2", "top_k = 2\ncolour = true", "colour"),
        ] {
            assert!(good.contains(from), "{from}");
            let err = refusal(&good.replacen(from, to, 1));
            assert!(err.contains(says), "{to}: {err}");
        }
        let err = refusal(&good.replacen(&format!("sha256 = \"{SHA}\""), "sha256 = \"abc\"", 1));
        assert!(err.contains("model `colours`: sha256"), "{err}");
        let err = refusal(&good.replacen("path = \"colours.onnx\"\n", "", 1));
        assert!(err.contains("model `colours`: path"), "{err}");
        let err = refusal(&good.replace("models.means", "models.\"bad name\""));
        assert!(err.contains("model `bad name`: a model's name"), "{err}");
        let err = refusal(&good.replacen("tensor = \"pixels\"\n", "", 1));
        assert!(err.contains("tensor"), "{err}");
    }

    #[test]
    fn labels_are_one_per_line_none_empty() {
        assert_eq!(read_labels("a\nb").unwrap(), ["a", "b"]);
        assert_eq!(read_labels("a\r\nb\r\n").unwrap(), ["a", "b"]);
        assert!(read_labels("a\n\nb\n").unwrap_err().contains("line 2"));
    }

    #[test]
    fn an_undeclared_model_is_unknown_model_at_its_step() {
        let models = DeclaredModels::from_toml(&good(), &folder()).unwrap();
        let steps = parse_steps(
            br#"[{"op":"infer","model":"colours"},{"op":"grayscale"},{"op":"infer","model":"nope"}]"#,
        )
        .unwrap();
        let err = models.check(&steps, "/steps").unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownModel);
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].pointer, "/steps/2/model");
        assert!(err.problems[0].detail.contains("colours, means"), "{err}");
        let none = DeclaredModels::default()
            .check(&steps, "/steps")
            .unwrap_err();
        assert!(none.problems[0].detail.contains("MODELS_FILE"), "{none}");
        assert_eq!(none.problems[0].pointer, "/steps/0/model");
    }
}
