//! Time the face detector on the calling thread: the model alone (one 128×128 input, what
//! `bench/faces_reference.py` times onnxruntime's Python build on), the detection stage of
//! `detect_faces` on a decoded image (fit into the input, infer, decode, suppress, map back),
//! and a whole `detect_faces` task's kernel (decode, detect, encode), per image.
//!
//!     faces [--runs N] [--models DIR] FILES...
//!
//! With `--smallest ASTRONAUT BACKGROUND`, instead: the astronaut's face (as the detector
//! finds it in `astronaut.png`, with as much around it again) pasted onto the background
//! (scaled to 1000×700) at sizes from 30% of the longer side down, and whether the detector
//! finds it at each: the smallest face it sees, relative to the image.
//!
//! One JSON object per file on stdout, times in milliseconds (median and minimum). Run it
//! through `bench/faces.sh`, which pins both sides to one core.

#![allow(clippy::print_stdout)] // Printing the results is the point.

use std::path::PathBuf;

use clap::Parser;
use imagepipe_bench::ms;
use imagepipe_processor::{
    kernel::{self, Pixels, Settings},
    models::{Models, ModelsConfig},
};
use imagepipe_shared::{image_rules::DecodeLimits, steps::Step};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 51)]
    runs: usize,
    /// Where `ensure_models` put the model and the runtime library.
    #[arg(long, default_value = ".local/models")]
    models: PathBuf,
    #[arg(long, num_args = 2, value_names = ["ASTRONAUT", "BACKGROUND"])]
    smallest: Option<Vec<PathBuf>>,
    files: Vec<PathBuf>,
}

/// [`imagepipe_bench::time`], in milliseconds.
fn time<T>(runs: usize, f: impl FnMut() -> T) -> (f64, f64) {
    let (median, min) = imagepipe_bench::time(runs, f);
    (ms(median), ms(min))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let models = Models::load(&ModelsConfig {
        face_model_path: args.models.join("blazeface-front-128.onnx"),
        onnxruntime_library: args.models.join("libonnxruntime.so.1.32.0"),
    })?;
    if let Some(files) = &args.smallest {
        return smallest(&models, &files[0], &files[1]);
    }
    let chain: Vec<Step> = serde_json::from_value(json!([{"op": "detect_faces"}]))?;
    for file in &args.files {
        let bytes = std::fs::read(file)?;
        let pixels = Pixels::from_dynamic(image::load_from_memory(&bytes)?);
        // Any valid input times the model: this one is the image stretched into 128×128.
        let tensor: Vec<f32> = image::imageops::resize(
            &image::load_from_memory(&bytes)?.to_rgb8(),
            128,
            128,
            image::imageops::FilterType::Triangle,
        )
        .as_raw()
        .iter()
        .map(|&v| f32::from(v) / 127.5 - 1.0)
        .collect();
        let infer = time(args.runs, || models.faces.raw(&tensor));
        let detect = time(args.runs, || models.faces.detect(pixels.as_ref(), 0.75));
        let faces = models.faces.detect(pixels.as_ref(), 0.75)?.len();
        let task_runs = args.runs.min(11);
        let task = time(task_runs, || {
            kernel::run_with(
                &bytes,
                &chain,
                DecodeLimits::default(),
                Settings::default(),
                Some(&models.faces),
            )
        });
        println!(
            "{}",
            json!({
                "file": file.file_name().map(|n| n.to_string_lossy().into_owned()),
                "width": pixels.width,
                "height": pixels.height,
                "faces": faces,
                "infer_ms": {"median": infer.0, "min": infer.1},
                "detect_ms": {"median": detect.0, "min": detect.1},
                "task_ms": {"median": task.0, "min": task.1},
            })
        );
    }
    Ok(())
}

fn smallest(
    models: &Models,
    astronaut: &std::path::Path,
    background: &std::path::Path,
) -> anyhow::Result<()> {
    use image::{GenericImageView, imageops};
    let face_image = image::open(astronaut)?.to_rgb8();
    let found = models.faces.detect(
        Pixels::from_dynamic(face_image.clone().into()).as_ref(),
        0.75,
    )?;
    let face = found
        .first()
        .ok_or_else(|| anyhow::anyhow!("no face in {}", astronaut.display()))?
        .bounds;
    let margin = face.width / 2.0;
    let (x, y) = (
        (face.x - margin).max(0.0) as u32,
        (face.y - margin).max(0.0) as u32,
    );
    let side = (face.width + 2.0 * margin) as u32;
    let patch = face_image.view(x, y, side, side).to_image();
    let canvas = imageops::resize(
        &image::open(background)?.to_rgb8(),
        1000,
        700,
        imageops::FilterType::Triangle,
    );
    for percent in (6..=30).rev() {
        let face_side = 1000.0 * f64::from(percent) / 100.0;
        let scale = face_side / face.width;
        let size = (f64::from(side) * scale).round() as u32;
        let scaled = imageops::resize(&patch, size, size, imageops::FilterType::Lanczos3);
        let mut image = canvas.clone();
        imageops::replace(&mut image, &scaled, 300, 350 - i64::from(size / 2));
        let faces = models
            .faces
            .detect(Pixels::from_dynamic(image.into()).as_ref(), 0.75)?;
        let best = faces.iter().map(|f| f.score).fold(0.0_f64, f64::max);
        println!(
            "{}",
            json!({"face_percent_of_longer_side": percent, "face_px": face_side, "found": faces.len(), "best_score": best})
        );
    }
    Ok(())
}
