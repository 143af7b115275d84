//! Every output format, decoded by Pillow (libjpeg-turbo, libpng, libwebp, libavif: none of
//! them the processor's encoders), is the format it says, has the size it says and the
//! stated mode (grey stays grey where the format can store grey; alpha stays where it can
//! store alpha), and shows the same picture as the kernel's lossless result of the chain.

use std::path::PathBuf;

use image::DynamicImage;
use imagepipe_shared::steps::Step;
use serde_json::{Value, json};

use crate::harness::{
    Diff, TRANSPARENT, load, pillow_decode, run, run_to_png, scratch, steps, test_image,
};

/// One output format and what its result must be.
struct Output {
    label: &'static str,
    encode: Value,
    /// The format Pillow names from the bytes.
    pillow_format: &'static str,
    extension: &'static str,
    content_type: &'static str,
    /// The largest mean difference from the lossless result; `None` for a lossless format:
    /// no difference at all.
    bound: Option<f64>,
}

/// The outputs.
///
/// Lossy bounds, in grey levels on average, for these photographs made 240 pixels wide (so
/// every pixel is detail): measured JPEG at quality 90 1.1-3.5 (the kernel's JPEG of the
/// transparent coffee is byte for byte Pillow's own quality-90 4:2:0 JPEG of the same
/// pixels flattened over white), WebP at 80 and AVIF at 70 (their defaults) 1.5-3.6.
/// Bounds of 4.5 (JPEG) and 6 (WebP, AVIF) pass any sane encoder at these qualities and
/// fail swapped channels, a wrong stride or an alpha mix-up (tens of levels).
fn formats() -> [Output; 5] {
    let output = |label, encode, pillow_format, extension, content_type, bound| Output {
        label,
        encode,
        pillow_format,
        extension,
        content_type,
        bound,
    };
    [
        output(
            "jpeg",
            json!({"op": "encode", "format": "jpeg", "quality": 90}),
            "JPEG",
            "jpg",
            "image/jpeg",
            Some(4.5),
        ),
        output(
            "png",
            json!({"op": "encode", "format": "png"}),
            "PNG",
            "png",
            "image/png",
            None,
        ),
        output(
            "webp",
            json!({"op": "encode", "format": "webp", "quality": 80}),
            "WEBP",
            "webp",
            "image/webp",
            Some(6.0),
        ),
        output(
            "webp-lossless",
            json!({"op": "encode", "format": "webp", "lossless": true}),
            "WEBP",
            "webp",
            "image/webp",
            None,
        ),
        output(
            "avif",
            json!({"op": "encode", "format": "avif"}),
            "AVIF",
            "avif",
            "image/avif",
            Some(6.0),
        ),
    ]
}

/// What Pillow must find in one result file.
struct Expected {
    what: String,
    format: &'static str,
    mode: &'static str,
    size: (u32, u32),
    /// The kernel's lossless result of the same chain, in `mode`.
    lossless: DynamicImage,
    bound: Option<f64>,
    grey: bool,
}

/// The mode Pillow must decode a result to: grey stays grey in JPEG and PNG; WebP and AVIF
/// results are colour to Pillow whatever they hold (its WebP decoder always gives RGB(A),
/// and its AVIF decoder too), so there grey must show as equal channels. Alpha is kept by
/// all but JPEG, which cannot store it.
fn expected_mode(format: &str, grey: bool, alpha: bool) -> &'static str {
    match (format, grey, alpha) {
        ("JPEG", true, _) => "L",
        ("JPEG", false, _) => "RGB",
        ("PNG", true, false) => "L",
        ("PNG", true, true) => "LA",
        (_, _, false) => "RGB",
        (_, _, true) => "RGBA",
    }
}

/// `image` in Pillow's mode, for comparing pixel for pixel. Alpha where the mode has none
/// (a JPEG) is what the kernel documents: flattened over white.
fn as_mode(image: &DynamicImage, mode: &str) -> DynamicImage {
    let image = &if image.color().has_alpha() && matches!(mode, "L" | "RGB") {
        over_white(image)
    } else {
        image.clone()
    };
    match mode {
        "L" => DynamicImage::ImageLuma8(image.to_luma8()),
        "LA" => DynamicImage::ImageLumaA8(image.to_luma_alpha8()),
        "RGB" => DynamicImage::ImageRgb8(image.to_rgb8()),
        "RGBA" => DynamicImage::ImageRgba8(image.to_rgba8()),
        other => panic!("unexpected Pillow mode {other}"),
    }
}

/// `image` composited over white, without alpha.
fn over_white(image: &DynamicImage) -> DynamicImage {
    let mut rgba = image.to_rgba8();
    for pixel in rgba.pixels_mut() {
        let alpha = f64::from(pixel[3]) / 255.0;
        for c in 0..3 {
            let mixed = f64::from(pixel[c]) * alpha + 255.0 * (1.0 - alpha);
            pixel[c] = mixed.round() as u8;
        }
        pixel[3] = 255;
    }
    let flat = DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8());
    if image.color().has_color() {
        flat
    } else {
        DynamicImage::ImageLuma8(flat.to_luma8())
    }
}

/// How far a colour image is from grey: the largest |R − G| or |G − B| of any pixel.
fn greyness(image: &DynamicImage) -> u8 {
    image
        .to_rgb8()
        .pixels()
        .map(|p| p[0].abs_diff(p[1]).max(p[1].abs_diff(p[2])))
        .max()
        .unwrap_or(0)
}

#[test]
fn every_output_format_decodes_in_pillow_with_its_size_and_mode() {
    // (input, the chain before `encode`, grey result, alpha result); each is made smaller
    // first, to keep the encoders quick in a debug build.
    let inputs: [(&str, Value, bool, bool); 6] = [
        (
            "chelsea.png",
            json!([{"op": "resize", "width": 240}]),
            false,
            false,
        ),
        (
            TRANSPARENT,
            json!([{"op": "resize", "width": 240}]),
            false,
            true,
        ),
        (
            "rocket.jpg",
            json!([{"op": "resize", "width": 240}]),
            false,
            false,
        ),
        (
            "camera.png",
            json!([{"op": "resize", "width": 240}]),
            true,
            false,
        ),
        (
            "rocket.jpg",
            json!([{"op": "resize", "width": 240}, {"op": "grayscale"}]),
            true,
            false,
        ),
        (
            TRANSPARENT,
            json!([{"op": "resize", "width": 240}, {"op": "grayscale"}]),
            true,
            true,
        ),
    ];
    let dir = scratch("formats");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut expected = Vec::new();
    for (i, (input, prefix, grey, alpha)) in inputs.iter().enumerate() {
        let path = test_image(input);
        let prefix = steps(prefix.clone());
        let lossless = load(&run_to_png(&dir, &format!("{i}-{input}"), &path, &prefix));
        for output in formats() {
            let Output {
                label,
                pillow_format,
                extension,
                content_type,
                bound,
                ..
            } = output;
            let mut chain: Vec<Step> = prefix.clone();
            chain.extend(steps(json!([output.encode])));
            let out = run(&path, &chain);
            let what = format!("{input} {prefix:?} as {label}");
            assert_eq!(
                (out.extension, out.content_type),
                (extension, content_type),
                "{what}"
            );
            assert_eq!(
                (out.width, out.height),
                (lossless.width(), lossless.height()),
                "{what}: the size it says"
            );
            let file = dir.join(format!("{i}-{input}-{label}.{extension}"));
            std::fs::write(&file, &out.bytes).expect("write the result");
            files.push(file);
            let mode = expected_mode(pillow_format, *grey, *alpha);
            expected.push(Expected {
                what,
                format: pillow_format,
                mode,
                size: (out.width, out.height),
                lossless: as_mode(&lossless, mode),
                bound,
                grey: *grey,
            });
        }
    }
    for (decoded, expected) in pillow_decode(&dir, &files).into_iter().zip(expected) {
        let Expected {
            what,
            format,
            mode,
            size,
            lossless,
            bound,
            grey,
        } = expected;
        assert_eq!(
            decoded.format, format,
            "{what}: the format Pillow recognises"
        );
        assert_eq!(
            (decoded.width, decoded.height),
            size,
            "{what}: the size Pillow decodes"
        );
        assert_eq!(decoded.mode, mode, "{what}: the mode Pillow decodes");
        let diff = Diff::between(&what, &decoded.image, &lossless);
        eprintln!("{what}: Pillow's decode against the lossless result: {diff}");
        match bound {
            None => assert_eq!(
                diff.max, 0.0,
                "{what}: a lossless format changed pixels: {diff}"
            ),
            Some(mean) => assert!(diff.mean <= mean, "{what}: {diff} (bound: mean {mean})"),
        }
        if grey && matches!(mode, "RGB" | "RGBA") {
            let spread = greyness(&decoded.image);
            // Grey stored as colour: lossy chroma may round to a level off grey, no more.
            let allowed = if bound.is_some() { 2 } else { 0 };
            assert!(
                spread <= allowed,
                "{what}: a grey result decodes with colour (channels {spread} apart)"
            );
        }
    }
}
