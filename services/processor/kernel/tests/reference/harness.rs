//! Run the kernel, run the Python references on the same inputs, and measure how far apart
//! the two results are.
//!
//! The references are `tests/reference/chain.py` (a chain of steps done by Pillow, OpenCV and
//! NumPy) and `tests/reference/decode.py` (a result decoded by Pillow), run by the Python of
//! `IMAGEPIPE_TEST_PYTHON` (scripts/lib.sh's `ensure_python_tools` installs the pinned
//! packages there and exports it). Without that Python or its packages the tests fail, with
//! the command that installs them: a reference test that skips proves nothing.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use image::DynamicImage;
use imagepipe_kernel::{self as kernel, Processed};
use imagepipe_shared::{
    image_rules::DecodeLimits,
    steps::{Encode, OutputFormat, Step},
};
use serde_json::{Value, json};

/// The workspace's root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The name of [`transparent`]'s image among the inputs.
pub(crate) const TRANSPARENT: &str = "coffee-transparent.png";

/// An input by name: [`TRANSPARENT`], or a test photograph, `<shared>/testdata/good/{name}`
/// (`IMAGEPIPE_SHARED_DIR`, by default the `shared` folder beside the repository).
pub(crate) fn test_image(name: &str) -> PathBuf {
    if name == TRANSPARENT {
        return transparent();
    }
    std::env::var_os("IMAGEPIPE_SHARED_DIR")
        .map_or_else(|| root().join("../shared"), PathBuf::from)
        .join("testdata/good")
        .join(name)
}

/// `coffee.png` given an alpha channel: opaque in the middle, a soft ramp, fully transparent
/// in the corners, its colour left as it was under the transparent parts. The test set has
/// no PNG with real transparency (`logo.png` is RGBA but opaque everywhere), and only real
/// transparency shows whether alpha is kept and colour premultiplied where it must be.
/// Written once per test run, as a PNG both sides decode.
fn transparent() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let coffee = load(&test_image("coffee.png")).to_rgb8();
        let (w, h) = coffee.dimensions();
        let image = image::RgbaImage::from_fn(w, h, |x, y| {
            let dx = (f64::from(x) + 0.5) / f64::from(w) * 2.0 - 1.0;
            let dy = (f64::from(y) + 0.5) / f64::from(h) * 2.0 - 1.0;
            let distance = (dx * dx + dy * dy).sqrt() / std::f64::consts::SQRT_2;
            let alpha = ((1.0 - distance) * 3.0 * 255.0).clamp(0.0, 255.0) as u8;
            let [r, g, b] = coffee.get_pixel(x, y).0;
            image::Rgba([r, g, b, alpha])
        });
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reference-coffee-transparent.png");
        image.save(&path).expect("write the transparent test image");
        path
    })
    .clone()
}

/// A fresh folder for one test's files, under cargo's scratch space for integration tests
/// (`target/tmp`), emptied first: what the last run left there is there to look at.
pub(crate) fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reference-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A chain from its JSON, as a client would send it.
pub(crate) fn steps(json: Value) -> Vec<Step> {
    serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// The kernel's result of `steps` on the file `input`.
pub(crate) fn run(input: &Path, steps: &[Step]) -> Processed {
    let bytes = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    kernel::run(&bytes, steps, DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{} through {steps:?}: {e}", input.display()))
}

/// The kernel's result of `steps` on `input`, written losslessly (an `encode` png step is
/// appended) to `dir/{name}.png`.
pub(crate) fn run_to_png(dir: &Path, name: &str, input: &Path, chain: &[Step]) -> PathBuf {
    let mut chain = chain.to_vec();
    chain.push(Step::Encode(Encode {
        format: OutputFormat::Png,
        quality: None,
        lossless: None,
    }));
    let out = run(input, &chain);
    assert_eq!(out.content_type, "image/png", "{name}");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &out.bytes).expect("write the kernel's result");
    path
}

/// The Python that has the references' packages.
pub(crate) fn python() -> PathBuf {
    let path = std::env::var_os("IMAGEPIPE_TEST_PYTHON").map_or_else(
        || root().join(".local/venv-openapi/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "no Python for the pixel references at {} (IMAGEPIPE_TEST_PYTHON): run \
         `source scripts/lib.sh && ensure_python_tools`, which installs \
         tests/reference/requirements.txt into .local/venv-openapi",
        path.display()
    );
    path
}

/// Run `tests/reference/{script}` on a manifest; its stdout.
fn python_script(script: &str, dir: &Path, manifest: &Value) -> String {
    let manifest_path = dir.join(format!("{script}.json"));
    std::fs::write(&manifest_path, manifest.to_string()).expect("write the manifest");
    let output = Command::new(python())
        .arg(root().join("tests/reference").join(script))
        .arg(&manifest_path)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap_or_else(|e| panic!("{script} does not start: {e}"));
    assert!(
        output.status.success(),
        "tests/reference/{script} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the reference should compute: `steps` on `input` (decoded by Pillow), or on a PNG
/// already decoded (`decoded`: the kernel's own no-op result, for exact comparisons).
pub(crate) struct Reference {
    pub(crate) name: String,
    pub(crate) input: PathBuf,
    pub(crate) decoded: Option<PathBuf>,
    pub(crate) steps: Vec<Step>,
    /// `cover` by Pillow's `ImageOps.fit` rather than scale-then-crop.
    pub(crate) imageops_fit: bool,
}

impl Reference {
    pub(crate) fn of(name: &str, input: &Path, steps: &[Step]) -> Self {
        Self {
            name: name.to_owned(),
            input: input.to_owned(),
            decoded: None,
            steps: steps.to_vec(),
            imageops_fit: false,
        }
    }

    pub(crate) fn on_decoded(name: &str, decoded: &Path, steps: &[Step]) -> Self {
        Self {
            name: name.to_owned(),
            input: decoded.to_owned(),
            decoded: Some(decoded.to_owned()),
            steps: steps.to_vec(),
            imageops_fit: false,
        }
    }
}

/// Every reference computed in one Python run; their PNGs, in order.
pub(crate) fn references(dir: &Path, cases: &[Reference]) -> Vec<PathBuf> {
    let outs: Vec<PathBuf> = cases
        .iter()
        .map(|case| dir.join(format!("{}.reference.png", case.name)))
        .collect();
    let manifest = json!({
        "cases": cases.iter().zip(&outs).map(|(case, out)| {
            let mut entry = json!({
                "name": case.name,
                "input": case.input,
                "steps": case.steps,
                "out": out,
            });
            if let Some(decoded) = &case.decoded {
                entry["decoded"] = json!(decoded);
            }
            if case.imageops_fit {
                entry["cover"] = json!("imageops_fit");
            }
            entry
        }).collect::<Vec<_>>(),
    });
    python_script("chain.py", dir, &manifest);
    outs
}

/// What Pillow made of a file: the format it recognised, its mode and size, and its pixels.
pub(crate) struct PillowDecoded {
    pub(crate) format: String,
    pub(crate) mode: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) image: DynamicImage,
}

/// Decode every file with Pillow, in one Python run.
pub(crate) fn pillow_decode(dir: &Path, files: &[PathBuf]) -> Vec<PillowDecoded> {
    let outs: Vec<PathBuf> = files
        .iter()
        .map(|file| {
            let name = file.file_name().expect("a file").to_string_lossy();
            dir.join(format!("{name}.pillow.png"))
        })
        .collect();
    let manifest = json!({
        "files": files.iter().zip(&outs).map(|(path, out)| json!({"path": path, "out": out}))
            .collect::<Vec<_>>(),
    });
    let stdout = python_script("decode.py", dir, &manifest);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("decode.py prints JSON lines"))
        .collect();
    assert_eq!(lines.len(), files.len(), "one line per file: {stdout}");
    lines
        .iter()
        .zip(&outs)
        .map(|(line, out)| PillowDecoded {
            format: line["format"].as_str().unwrap_or_default().to_owned(),
            mode: line["mode"].as_str().unwrap_or_default().to_owned(),
            width: line["width"].as_u64().unwrap_or_default() as u32,
            height: line["height"].as_u64().unwrap_or_default() as u32,
            image: load(out),
        })
        .collect()
}

/// A PNG (the kernel's, or a reference's) as pixels.
pub(crate) fn load(path: &Path) -> DynamicImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How far apart two images of the same size and layout are, over every channel value, in
/// grey levels (0-255). With alpha, colour is compared premultiplied by it (what is seen
/// over black), so the colour of invisible pixels does not count; alpha itself is compared
/// as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Diff {
    pub(crate) mean: f64,
    /// The 99th percentile of the absolute differences.
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mean |diff| {:.3}, 99th percentile {:.0}, max {:.0}",
            self.mean, self.p99, self.max
        )
    }
}

/// Layout of an 8-bit image: channels, and whether the last is alpha.
fn layout(image: &DynamicImage) -> (usize, bool) {
    let color = image.color();
    (usize::from(color.channel_count()), color.has_alpha())
}

impl Diff {
    /// Panics, naming `what`, unless both images have the same size and layout.
    pub(crate) fn between(what: &str, ours: &DynamicImage, reference: &DynamicImage) -> Diff {
        assert_eq!(
            (ours.width(), ours.height()),
            (reference.width(), reference.height()),
            "{what}: size (ours, reference)"
        );
        assert_eq!(
            ours.color(),
            reference.color(),
            "{what}: colour layout (ours, reference)"
        );
        let (channels, alpha) = layout(ours);
        let (a, b) = (ours.as_bytes(), reference.as_bytes());
        let mut diffs: Vec<f64> = Vec::with_capacity(a.len());
        for (p, q) in a.chunks_exact(channels).zip(b.chunks_exact(channels)) {
            let colours = if alpha { channels - 1 } else { channels };
            let (pa, qa) = if alpha {
                (f64::from(p[channels - 1]), f64::from(q[channels - 1]))
            } else {
                (255.0, 255.0)
            };
            for c in 0..colours {
                let x = f64::from(p[c]) * pa / 255.0;
                let y = f64::from(q[c]) * qa / 255.0;
                diffs.push((x - y).abs());
            }
            if alpha {
                diffs.push((pa - qa).abs());
            }
        }
        let mean = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
        diffs.sort_by(f64::total_cmp);
        let at = |q: f64| diffs[((diffs.len() as f64 - 1.0) * q) as usize];
        Diff {
            mean,
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Panics, naming `what`, unless the two images are the same pixel for pixel.
pub(crate) fn assert_identical(what: &str, ours: &DynamicImage, reference: &DynamicImage) {
    assert_eq!(
        (ours.width(), ours.height(), ours.color()),
        (reference.width(), reference.height(), reference.color()),
        "{what}: size and layout (ours, reference)"
    );
    if ours.as_bytes() != reference.as_bytes() {
        let differing = ours
            .as_bytes()
            .iter()
            .zip(reference.as_bytes())
            .filter(|(a, b)| a != b)
            .count();
        panic!(
            "{what}: {differing} of {} channel values differ ({})",
            ours.as_bytes().len(),
            Diff::between(what, ours, reference)
        );
    }
}
