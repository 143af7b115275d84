//! The decode every op starts from: the kernel's no-op result (only `encode` png) against
//! Pillow's decode of the same file.

use crate::harness::{
    Diff, Reference, assert_identical, load, references, run_to_png, scratch, test_image,
};

/// A PNG decodes to the same bytes in every correct decoder: exact.
#[test]
fn a_png_decodes_to_exactly_what_pillow_decodes() {
    let dir = scratch("decode-png");
    let names = ["chelsea.png", "logo.png", "camera.png"];
    let ours: Vec<_> = names
        .iter()
        .map(|name| run_to_png(&dir, name, &test_image(name), &[]))
        .collect();
    let cases: Vec<_> = names
        .iter()
        .map(|name| Reference::of(name, &test_image(name), &[]))
        .collect();
    for ((name, ours), reference) in names.iter().zip(&ours).zip(references(&dir, &cases)) {
        assert_identical(name, &load(ours), &load(&reference));
    }
}

/// JPEG decoders may differ: the standard allows any IDCT within its accuracy bounds, and
/// chroma upsampling (libjpeg-turbo's "fancy" triangle filter, or another) is the decoder's
/// choice. Two good decoders of a photograph agree to well under a grey level on average;
/// the bound of 1.0 mean and 8 at the 99th percentile catches a wrong colour conversion
/// (BT.709 for BT.601 moves reds and blues by 5-15 levels), swapped channels or a shift by
/// a pixel, all of which are far over it.
#[test]
fn a_jpeg_decodes_within_a_grey_level_of_pillows_decode() {
    let dir = scratch("decode-jpeg");
    let names = ["rocket.jpg", "photo-2mp.jpg"];
    let ours: Vec<_> = names
        .iter()
        .map(|name| run_to_png(&dir, name, &test_image(name), &[]))
        .collect();
    let cases: Vec<_> = names
        .iter()
        .map(|name| Reference::of(name, &test_image(name), &[]))
        .collect();
    for ((name, ours), reference) in names.iter().zip(&ours).zip(references(&dir, &cases)) {
        let diff = Diff::between(name, &load(ours), &load(&reference));
        eprintln!("{name}: kernel decode vs Pillow: {diff}");
        assert!(diff.mean <= 1.0 && diff.p99 <= 8.0, "{name}: {diff}");
    }
}
