//! `rotate`, `flip` and `crop` move pixels without computing any: the result must be the
//! same bytes as NumPy's `rot90`, `flip` and slicing of the same upright image. For a PNG
//! that image is Pillow's decode (exactly the kernel's, `decode.rs`); for a JPEG it is the
//! kernel's own no-op decode, since decoders may differ by a level or two (`decode.rs`
//! bounds that) and an exact comparison must not depend on it.

use std::path::Path;

use serde_json::json;

use crate::harness::{
    Reference, assert_identical, load, references, run_to_png, scratch, steps, test_image,
};

fn chains() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("rotate90", json!([{"op": "rotate", "degrees": 90}])),
        ("rotate180", json!([{"op": "rotate", "degrees": 180}])),
        ("rotate270", json!([{"op": "rotate", "degrees": 270}])),
        ("flip-h", json!([{"op": "flip", "axis": "horizontal"}])),
        ("flip-v", json!([{"op": "flip", "axis": "vertical"}])),
        (
            "crop",
            json!([{"op": "crop", "x": 17, "y": 11, "width": 123, "height": 77}]),
        ),
        (
            "crop-corner",
            json!([{"op": "crop", "x": 0, "y": 0, "width": 1, "height": 1}]),
        ),
        // In the current image's pixels: after a quarter turn the crop is of the turned image.
        (
            "turn-crop-flip",
            json!([
                {"op": "rotate", "degrees": 90},
                {"op": "crop", "x": 5, "y": 40, "width": 100, "height": 200},
                {"op": "flip", "axis": "vertical"},
                {"op": "rotate", "degrees": 180},
            ]),
        ),
    ]
}

fn check(input: &str, from_kernel_decode: bool) {
    let dir = scratch(&format!("exact-{input}"));
    let path = test_image(input);
    let decoded = run_to_png(&dir, "noop", &path, &[]);
    let reference = |name: &str, chain: &[_]| {
        if from_kernel_decode {
            Reference::on_decoded(name, &decoded, chain)
        } else {
            Reference::of(name, &path, chain)
        }
    };
    let mut ours = Vec::new();
    let mut cases = Vec::new();
    for (name, chain) in chains() {
        let chain = steps(chain);
        ours.push((name, run_to_png(&dir, name, &path, &chain)));
        cases.push(reference(name, &chain));
    }
    for ((name, ours), theirs) in ours.iter().zip(references(&dir, &cases)) {
        assert_identical(
            &format!("{input} {name}"),
            &load(ours),
            &load(Path::new(&theirs)),
        );
    }
}

#[test]
fn rotate_flip_and_crop_of_a_colour_png_are_exact() {
    check("chelsea.png", false);
}

#[test]
fn rotate_flip_and_crop_of_a_png_with_alpha_are_exact() {
    check("logo.png", false);
}

#[test]
fn rotate_flip_and_crop_of_a_grey_png_are_exact() {
    check("camera.png", false);
}

#[test]
fn rotate_flip_and_crop_of_a_jpeg_are_exact_on_its_decoded_pixels() {
    check("rocket.jpg", true);
}
