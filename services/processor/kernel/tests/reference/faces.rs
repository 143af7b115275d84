//! The face steps against onnxruntime's own Python build running the same BlazeFace file with
//! pre- and post-processing written apart (`tests/reference/faces.py`), and against faces
//! pasted where the test knows they are.
//!
//! Tolerances: a box counts as the same face at an intersection over union of 0.5 (the
//! usual detection criterion, and the issue's); the two sides scale the image into the
//! model's input with different bilinear filters (fast_image_resize and Pillow), which moves
//! a score by a few thousandths and a box by a pixel or two, far inside it. The raw outputs
//! of the two runtimes on one input tensor must agree to 1e-4 (both are ONNX Runtime 1.32 on
//! one thread; only the bindings differ, so anything larger is a binding's mistake).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use image::{GenericImageView, RgbImage, imageops};
use imagepipe_kernel::{
    self as kernel, Processed, Settings,
    models::{Models, ModelsConfig},
};
use imagepipe_shared::{
    analysis::{Face, FaceBox},
    image_rules::DecodeLimits,
    steps::Step,
};
use serde_json::{Value, json};

use crate::harness::{load, python, root, scratch, steps, test_image};

/// The pinned files, where `ensure_models` put them (or its exported paths).
fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let path = |var: &str, file: &str| {
            std::env::var_os(var)
                .map_or_else(|| root().join(".local/models").join(file), PathBuf::from)
        };
        let config = ModelsConfig {
            face_model_path: path("FACE_MODEL_PATH", "blazeface-front-128.onnx"),
            onnxruntime_library: path("ONNXRUNTIME_LIBRARY", "libonnxruntime.so.1.32.0"),
        };
        Models::load(&config).unwrap_or_else(|e| {
            panic!("{e} (fetch the models: source scripts/lib.sh && ensure_models)")
        })
    })
}

fn run(bytes: &[u8], chain: &[Step]) -> Processed {
    kernel::run_with(
        bytes,
        chain,
        DecodeLimits::default(),
        Settings::default(),
        Some(&models().faces),
    )
    .unwrap_or_else(|e| panic!("{chain:?}: {e}"))
}

/// The faces of the chain's only face step.
fn faces_of(processed: &Processed) -> Vec<Face> {
    assert_eq!(processed.analysis.len(), 1, "{:?}", processed.analysis);
    processed.analysis[0]
        .faces
        .clone()
        .expect("a face step reports faces")
}

/// `faces.py` with `args`; its JSON.
fn reference(args: &[&str]) -> Value {
    let output = Command::new(python())
        .arg(root().join("tests/reference/faces.py"))
        .args(args)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap_or_else(|e| panic!("faces.py does not start: {e}"));
    assert!(
        output.status.success(),
        "tests/reference/faces.py {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("faces.py prints JSON")
}

fn reference_faces(image: &Path) -> Vec<Face> {
    let found = reference(&["detect", &image.to_string_lossy()]);
    serde_json::from_value(found["faces"].clone()).expect("faces.py's faces are ours in shape")
}

fn iou(a: FaceBox, b: FaceBox) -> f64 {
    let w = (a.x + a.width).min(b.x + b.width) - a.x.max(b.x);
    let h = (a.y + a.height).min(b.y + b.height) - a.y.max(b.y);
    let inner = w.max(0.0) * h.max(0.0);
    inner / (a.width * a.height + b.width * b.height - inner)
}

const SAME_FACE: f64 = 0.5;

#[test]
fn the_astronaut_is_one_face_where_onnxruntime_finds_it_and_no_pixel_changes() {
    let input = test_image("astronaut.png");
    let bytes = std::fs::read(&input).unwrap();
    let processed = run(
        &bytes,
        &steps(json!([{"op": "detect_faces"}, {"op": "encode", "format": "png"}])),
    );
    let ours = faces_of(&processed);
    let theirs = reference_faces(&input);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    let overlap = iou(ours[0].bounds, theirs[0].bounds);
    assert!(overlap >= SAME_FACE, "IoU {overlap}: {ours:?} / {theirs:?}");
    assert!(
        (ours[0].score - theirs[0].score).abs() < 0.05,
        "{ours:?} / {theirs:?}"
    );
    assert_eq!(ours[0].keypoints.len(), 6);
    assert_eq!(processed.analysis[0].op, "detect_faces");
    assert_eq!(processed.analysis[0].step, 0);
    // Finding faces changes nothing.
    assert_eq!(load_bytes(&processed.bytes), load(&input).to_rgb8());
}

#[test]
fn no_face_is_found_where_there_is_none() {
    for name in [
        "coffee.png",
        "chelsea.png",
        "rocket.jpg",
        "hubble_deep_field.jpg",
    ] {
        let input = test_image(name);
        let ours = faces_of(&run(
            &std::fs::read(&input).unwrap(),
            &steps(json!([{"op": "detect_faces"}])),
        ));
        assert!(ours.is_empty(), "{name}: {ours:?}");
        assert!(
            reference_faces(&input).is_empty(),
            "{name}: the reference sees a face"
        );
    }
}

/// The astronaut's face, with as much around it again on each side (the model wants some
/// head around the face), and where the face's box lies in that patch.
fn face_patch() -> (RgbImage, FaceBox) {
    let input = test_image("astronaut.png");
    let face = reference_faces(&input)[0].bounds;
    let margin = face.width.max(face.height) / 2.0;
    let (x, y) = (
        (face.x - margin).max(0.0) as u32,
        (face.y - margin).max(0.0) as u32,
    );
    let side = (face.width.max(face.height) + 2.0 * margin) as u32;
    let patch = load(&input).to_rgb8().view(x, y, side, side).to_image();
    let inside = FaceBox {
        x: face.x - f64::from(x),
        y: face.y - f64::from(y),
        width: face.width,
        height: face.height,
    };
    (patch, inside)
}

#[test]
fn faces_pasted_at_known_places_and_sizes_are_found_there() {
    let (patch, inside) = face_patch();
    let mut canvas = imageops::resize(
        &load(&test_image("coffee.png")).to_rgb8(),
        1000,
        700,
        imageops::FilterType::Triangle,
    );
    // Faces of 25% and 18% of the longer side: above the smallest the 128-pixel input
    // resolves (12%, the README's "Models" section).
    let mut expected = Vec::new();
    for (left, top, face_side) in [(60_u32, 120_u32, 250.0_f32), (600, 300, 180.0)] {
        let scale = f64::from(face_side) / inside.width;
        let side = (f64::from(patch.width()) * scale).round() as u32;
        let scaled = imageops::resize(&patch, side, side, imageops::FilterType::Lanczos3);
        imageops::replace(&mut canvas, &scaled, i64::from(left), i64::from(top));
        expected.push(FaceBox {
            x: f64::from(left) + inside.x * scale,
            y: f64::from(top) + inside.y * scale,
            width: inside.width * scale,
            height: inside.height * scale,
        });
    }
    let dir = scratch("faces-composite");
    let path = dir.join("composite.png");
    canvas.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let found = faces_of(&run(&bytes, &steps(json!([{"op": "detect_faces"}]))));
    assert_eq!(found.len(), 2, "{found:?}");
    for want in &expected {
        let best = found
            .iter()
            .map(|f| iou(f.bounds, *want))
            .fold(0.0, f64::max);
        assert!(best >= SAME_FACE, "{want:?}: best IoU {best} in {found:?}");
    }
    // After a crop, boxes are in the cropped image's pixels.
    let cropped = faces_of(&run(
        &bytes,
        &steps(
            json!([{"op": "crop", "x": 500, "y": 200, "width": 500, "height": 500}, {"op": "detect_faces"}]),
        ),
    ));
    let shifted = FaceBox {
        x: expected[1].x - 500.0,
        y: expected[1].y - 200.0,
        ..expected[1]
    };
    assert_eq!(cropped.len(), 1, "{cropped:?}");
    let overlap = iou(cropped[0].bounds, shifted);
    assert!(
        overlap >= SAME_FACE,
        "IoU {overlap}: {cropped:?} / {shifted:?}"
    );
}

#[test]
fn blur_faces_changes_each_face_and_leaves_the_rest_as_it_was() {
    let input = test_image("astronaut.png");
    let bytes = std::fs::read(&input).unwrap();
    let original = load(&input).to_rgb8();
    for mode in ["blur", "pixelate"] {
        let chain = steps(json!([
            {"op": "blur_faces", "mode": mode, "padding": 0.25},
            {"op": "encode", "format": "png"}
        ]));
        let processed = run(&bytes, &chain);
        let faces = faces_of(&processed);
        assert_eq!(faces.len(), 1, "{mode}: {faces:?}");
        assert_eq!(processed.analysis[0].op, "blur_faces");
        let b = faces[0].bounds;
        // The padded box, in whole pixels covering it: everything outside is untouched
        // (PNG is lossless, so exactly).
        let (pad_x, pad_y) = (b.width * 0.25, b.height * 0.25);
        let left = (b.x - pad_x).floor().max(0.0) as u32;
        let top = (b.y - pad_y).floor().max(0.0) as u32;
        let right = ((b.x + b.width + pad_x).ceil() as u32).min(original.width());
        let bottom = ((b.y + b.height + pad_y).ceil() as u32).min(original.height());
        let hidden = load_bytes(&processed.bytes);
        let (mut inside_diff, mut inside) = (0_u64, 0_u64);
        for (x, y, pixel) in hidden.enumerate_pixels() {
            let before = original.get_pixel(x, y);
            if (left..right).contains(&x) && (top..bottom).contains(&y) {
                inside += 1;
                inside_diff += pixel
                    .0
                    .iter()
                    .zip(before.0)
                    .map(|(a, b)| u64::from(a.abs_diff(b)))
                    .sum::<u64>();
            } else {
                assert_eq!(
                    pixel, before,
                    "{mode}: ({x}, {y}) is outside the face and changed"
                );
            }
        }
        let mean = inside_diff as f64 / (inside * 3) as f64;
        // A face's detail is gone: its pixels move by 10 grey levels on average or more.
        assert!(
            mean > 10.0,
            "{mode}: the face's pixels moved by only {mean:.2} on average"
        );
    }
}

#[test]
fn the_runtime_gives_onnxruntimes_outputs_for_the_same_input() {
    // Any valid input will do: the astronaut stretched to 128x128, in [-1, 1].
    let image = imageops::resize(
        &load(&test_image("astronaut.png")).to_rgb8(),
        128,
        128,
        imageops::FilterType::Triangle,
    );
    let tensor: Vec<f32> = image
        .as_raw()
        .iter()
        .map(|&v| f32::from(v) / 127.5 - 1.0)
        .collect();
    let dir = scratch("faces-parity");
    let npy = dir.join("input.npy");
    write_npy(&npy, &tensor, &[1, 128, 128, 3]);
    let ours = models().faces.raw(&tensor).expect("our run");
    let theirs = reference(&["raw", &npy.to_string_lossy()]);
    let theirs = theirs["outputs"].as_array().expect("outputs");
    assert_eq!(theirs.len(), 4);
    for output in theirs {
        let name = output["name"].as_str().unwrap();
        let mine = ours
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        let shape: Vec<i64> = serde_json::from_value(output["shape"].clone()).unwrap();
        assert_eq!(mine.shape, shape, "{name}");
        let data: Vec<f32> = serde_json::from_value(output["data"].clone()).unwrap();
        let worst = mine
            .values
            .iter()
            .zip(&data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-4, "{name}: values differ by up to {worst}");
    }
}

fn load_bytes(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes)
        .expect("a result decodes")
        .to_rgb8()
}

/// A float32 little-endian array in NumPy's .npy format (version 1.0).
fn write_npy(path: &Path, values: &[f32], shape: &[usize]) {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    // Magic, version, header length, header: the whole a multiple of 64 bytes, ending in \n.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for value in values {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write the .npy");
}
