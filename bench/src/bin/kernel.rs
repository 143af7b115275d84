//! Time the pixel kernel on every file of a directory, on the calling thread.
//!
//! For each file: the median and minimum of `--runs` timed runs of the whole kernel (decode,
//! grayscale, encode), and of its decode and encode halves alone. The pre-encode grey plane
//! is written to `--luma-dir` as a PGM, so `bench/opencv_kernel.py` can compare it with
//! OpenCV's; the encoded result to `--out-dir`. One JSON object per file goes to stdout.
//!
//!     kernel [--runs N] [--jpeg-quality Q] [--luma-dir DIR] [--out-dir DIR] [DIR]
//!
//! `DIR` defaults to the test photographs, `<shared>/testdata/good`, where `<shared>` is
//! `IMAGEPIPE_SHARED_DIR` or else the `shared` folder beside the repository.
//!
//! Run it through `bench/kernel.sh`, which pins it to one core and runs OpenCV beside it.

#![allow(clippy::print_stdout)] // Printing the results is the point.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use imagepipe_processor::kernel::{self, Settings};
use imagepipe_shared::image_rules::DecodeLimits;

struct Args {
    runs: usize,
    settings: Settings,
    luma_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
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
            "--luma-dir" => args.luma_dir = Some(value("--luma-dir")?.into()),
            "--out-dir" => args.out_dir = Some(value("--out-dir")?.into()),
            "-h" | "--help" => {
                return Err(
                    "usage: kernel [--runs N] [--jpeg-quality Q] [--luma-dir DIR] [--out-dir DIR] [DIR]".into(),
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

/// Median and minimum of `runs` timings of `f`, after one untimed warm-up run.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    std::hint::black_box(f());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
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
