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
//!
//! # The same model on a model server (Open Inference Protocol, KServe v2 REST)
//! [models.colours-gpu]
//! runtime = "oip"
//! url = "http://mlserver:8080"   # the server's base URL
//! model = "colours"              # its name on the server (default: the declared name)
//! version = "1"                  # optional: the server's default version otherwise
//! timeout_ms = 30000             # per request
//! # [models.colours-gpu.input] and [models.colours-gpu.report] as above
//! ```

mod file;
#[cfg(test)]
mod tests;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use url::Url;

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
/// Default `timeout_ms` of a model server's requests: a slow model on a busy GPU.
pub const DEFAULT_SERVER_TIMEOUT_MS: u64 = 30_000;
/// Largest `timeout_ms`.
pub const MAX_SERVER_TIMEOUT_MS: u64 = 600_000;

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

/// Where a model runs. One variant per runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelRuntime {
    /// A local ONNX file, run in-process; `path` resolved against the models file's folder.
    Onnx { path: PathBuf, sha256: String },
    /// A model server speaking the Open Inference Protocol (KServe v2, REST).
    Oip(ModelServer),
}

/// A model on a model server (`runtime = "oip"`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelServer {
    /// The server's base URL, e.g. `http://mlserver:8080` (a path prefix is kept).
    pub url: Url,
    /// The model's name on the server; by default the declared name.
    pub model: String,
    /// The model's version on the server; by default the server's choice.
    pub version: Option<String>,
    /// Longest wait for one request to the server (`timeout_ms`).
    pub timeout: Duration,
}

impl ModelServer {
    /// The model's URL, `{url}/v2/models/{model}[/versions/{version}]`: its metadata, and
    /// with `/infer` appended, its inference. Names are percent-encoded as path segments.
    pub fn model_url(&self) -> Url {
        let mut url = self.url.clone();
        {
            // A base URL always has a path (checked when the file is read).
            #[allow(clippy::expect_used)]
            let mut segments = url.path_segments_mut().expect("an http(s) URL");
            segments
                .pop_if_empty()
                .extend(["v2", "models", &self.model]);
            if let Some(version) = &self.version {
                segments.extend(["versions", version]);
            }
        }
        url
    }

    /// The model's inference URL.
    pub fn infer_url(&self) -> Url {
        let mut url = self.model_url();
        #[allow(clippy::expect_used)]
        url.path_segments_mut()
            .expect("an http(s) URL")
            .push("infer");
        url
    }
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

impl InputSpec {
    /// The input tensor's shape: one image, three channels, in the declared layout.
    pub fn tensor_shape(&self) -> [i64; 4] {
        let (height, width) = (i64::from(self.height), i64::from(self.width));
        match self.layout {
            TensorLayout::Nchw => [1, 3, height, width],
            TensorLayout::Nhwc => [1, height, width, 3],
        }
    }
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

fn zeros() -> [f32; 3] {
    [0.0; 3]
}

fn ones() -> [f32; 3] {
    [1.0; 3]
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
        file::parse(text, folder).map(Self)
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

impl ReportSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ReportSpec::Raw { .. } => "raw",
            ReportSpec::Classes { .. } => "classes",
        }
    }
}
