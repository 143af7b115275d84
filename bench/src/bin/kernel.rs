//! Time the pixel kernel on every file of a directory, on the calling thread.
//!
//! For each file: the median and minimum of `--runs` timed runs of the whole kernel (decode,
//! grayscale, encode), and of its decode and encode halves alone. The pre-encode grey plane
//! is written to `--luma-dir` as a PGM, so `bench/opencv_kernel.py` can compare it with
//! OpenCV's; the encoded result to `--out-dir`. One JSON object per file goes to stdout.
//!
//!     kernel [--runs N] [--jpeg-quality Q] [--luma-dir DIR] [--out-dir DIR] [DIR]
//!
//! With `--chains`, instead: every JPEG of the directory through one chain per op and per
//! shipped preset ([`chains`]), each the whole of `kernel::run` (header check, decode, the
//! op, encode). One JSON object per file and chain, with the exact steps, so
//! `bench/reference_kernel.py` runs libvips and OpenCV on the same job; the result goes to
//! `--out-dir` as `{file}.{chain}.{ext}`.
//!
//!     kernel --chains [--runs N] [--out-dir DIR] [DIR]
//!
//! `DIR` defaults to the test photographs, `<shared>/testdata/good`, where `<shared>` is
//! `IMAGEPIPE_SHARED_DIR` or else the `shared` folder beside the repository.
//!
//! Run it through `bench/kernel.sh`, which pins it to one core and runs OpenCV beside it.

#![allow(clippy::print_stdout)] // Printing the results is the point.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use imagepipe_bench::{ms, time};
use imagepipe_processor::kernel::{self, Settings};
use imagepipe_shared::{
    image_rules::DecodeLimits,
    steps::{Chain, Presets, Step},
};
use serde_json::json;

struct Args {
    chains: bool,
    runs: usize,
    settings: Settings,
    luma_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        chains: false,
        runs: 11,
        settings: Settings::default(),
        luma_dir: None,
        out_dir: None,
        dir: std::env::var_os("IMAGEPIPE_SHARED_DIR")
            .map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
                PathBuf::from,
            )
            .join("testdata/good"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => {
                args.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?;
            }
            "--jpeg-quality" => {
                args.settings.jpeg_quality = value("--jpeg-quality")?
                    .parse()
                    .map_err(|e| format!("--jpeg-quality: {e}"))?;
            }
            "--chains" => args.chains = true,
            "--luma-dir" => args.luma_dir = Some(value("--luma-dir")?.into()),
            "--out-dir" => args.out_dir = Some(value("--out-dir")?.into()),
            "-h" | "--help" => {
                return Err(
                    "usage: kernel [--chains] [--runs N] [--jpeg-quality Q] [--luma-dir DIR] [--out-dir DIR] [DIR]".into(),
                );
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => args.dir = other.into(),
        }
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(args)
}

fn bench_file(path: &Path, args: &Args) -> Result<serde_json::Value, String> {
    let limits = DecodeLimits::default();
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let run = || kernel::grayscale_with(&bytes, limits, args.settings);
    let out = run().map_err(|e| e.to_string())?;
    let decoded = kernel::decode_luma(&bytes, limits).map_err(|e| e.to_string())?;
    let (width, height) = decoded.luma.dimensions();

    let (total, total_min) = time(args.runs, run);
    let (decode, _) = time(args.runs, || kernel::decode_luma(&bytes, limits));
    let (encode, _) = time(args.runs, || {
        kernel::encode(&decoded.luma, decoded.format, args.settings)
    });

    if let Some(dir) = &args.luma_dir {
        let mut pgm = format!("P5\n{width} {height}\n255\n").into_bytes();
        pgm.extend_from_slice(&decoded.luma.grey_plane());
        std::fs::write(dir.join(format!("{name}.pgm")), pgm).map_err(|e| e.to_string())?;
    }
    if let Some(dir) = &args.out_dir {
        std::fs::write(dir.join(format!("{name}.{}", out.extension)), &out.bytes)
            .map_err(|e| e.to_string())?;
    }
    let megapixels = f64::from(width) * f64::from(height) / 1e6;
    Ok(serde_json::json!({
        "file": name,
        "width": width,
        "height": height,
        "megapixels": megapixels,
        "runs": args.runs,
        "ms": ms(total),
        "min_ms": ms(total_min),
        "decode_ms": ms(decode),
        "encode_ms": ms(encode),
        "megapixels_per_s": megapixels / total.as_secs_f64(),
        "out_extension": out.extension,
        "out_bytes": out.bytes.len(),
        "in_bytes": bytes.len(),
        "jpeg_quality": args.settings.jpeg_quality,
    }))
}

/// The chains timed for a `width` × `height` image: one per op, each followed by a JPEG at
/// quality 90 (the inputs are JPEG photographs, so every row pays the same decode and a
/// comparable encode), and the shipped presets as they are. Sizes are relative to the image
/// so that every chain is valid and does real work on every photograph: resize to a third
/// of the width (a DCT-scaled decode by 2, then Lanczos-3), crop the centre half.
fn chains(width: u32, height: u32) -> Vec<(&'static str, Vec<Step>)> {
    let jpeg = json!({"op": "encode", "format": "jpeg", "quality": 90});
    let op = |step: serde_json::Value| -> Vec<Step> {
        serde_json::from_value(json!([step, jpeg])).expect("a valid chain")
    };
    let presets = Presets::builtin();
    let preset = |name: &str| match presets.get(name) {
        Some(Chain::Steps(steps)) => steps.clone(),
        _ => panic!("the {name} preset ships"),
    };
    vec![
        (
            "resize",
            op(json!({"op": "resize", "width": (width / 3).max(1)})),
        ),
        (
            "crop",
            op(json!({"op": "crop", "x": width / 4, "y": height / 4,
                      "width": (width / 2).max(1), "height": (height / 2).max(1)})),
        ),
        ("rotate", op(json!({"op": "rotate", "degrees": 90}))),
        ("flip", op(json!({"op": "flip", "axis": "horizontal"}))),
        ("grayscale", op(json!({"op": "grayscale"}))),
        ("blur", op(json!({"op": "blur", "sigma": 2.0}))),
        (
            "sharpen",
            op(json!({"op": "sharpen", "sigma": 1.0, "amount": 1.5})),
        ),
        ("thumbnail", preset("thumbnail")),
        ("web", preset("web")),
    ]
}

fn bench_chains(path: &Path, args: &Args) -> Result<Vec<serde_json::Value>, String> {
    let limits = DecodeLimits::default();
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header =
        imagepipe_shared::image_rules::inspect(&bytes, limits).map_err(|e| e.to_string())?;
    let (width, height) = header.oriented_size();
    let mut lines = Vec::new();
    for (chain, steps) in chains(width, height) {
        let run = || kernel::run(&bytes, &steps, limits);
        let out = run().map_err(|e| format!("{chain}: {e}"))?;
        let (ms_median, ms_min) = time(args.runs, run);
        if let Some(dir) = &args.out_dir {
            std::fs::write(
                dir.join(format!("{name}.{chain}.{}", out.extension)),
                &out.bytes,
            )
            .map_err(|e| e.to_string())?;
        }
        lines.push(json!({
            "file": name,
            "chain": chain,
            "steps": steps,
            "in_width": width,
            "in_height": height,
            "megapixels": f64::from(width) * f64::from(height) / 1e6,
            "runs": args.runs,
            "ms": ms(ms_median),
            "min_ms": ms(ms_min),
            "width": out.width,
            "height": out.height,
            "out_extension": out.extension,
            "out_bytes": out.bytes.len(),
        }));
    }
    Ok(lines)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&args.dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{}: {e}", args.dir.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();
    let mut failed = false;
    for path in files {
        if args.chains {
            // The op and preset rows are about JPEG photographs, the product's common case.
            if path.extension().is_none_or(|e| e != "jpg") {
                continue;
            }
            match bench_chains(&path, &args) {
                Ok(lines) => lines.iter().for_each(|line| println!("{line}")),
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    failed = true;
                }
            }
            continue;
        }
        match bench_file(&path, &args) {
            Ok(result) => println!("{result}"),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
