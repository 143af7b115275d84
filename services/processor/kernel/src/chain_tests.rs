//! [`run`](super::run) on whole chains and real photographs: the sizes `shared::steps`
//! plans, every output format, shrink-on-load against a full decode, and the default chain
//! against [`grayscale`](super::grayscale).

use image::{GenericImageView, ImageFormat, Rgb, RgbImage};
use imagepipe_shared::{
    image_rules::DecodeLimits,
    steps::{
        Encode, Fit, Gravity, Grayscale, OutputFormat, Resize, Step, default_chain, plan_resize,
    },
};

use super::{
    Processed, grayscale, run,
    test_images::{jpeg_of, testdata},
};

fn photo(name: &str) -> Vec<u8> {
    let path = testdata("good").join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{} (set IMAGEPIPE_SHARED_DIR?): {e}", path.display()))
}

fn resize(width: u32, height: u32, fit: Fit, gravity: Gravity) -> Step {
    Step::Resize(Resize {
        width: Some(width),
        height: Some(height),
        fit,
        gravity,
        enlarge: false,
    })
}

fn encode(format: OutputFormat) -> Step {
    Step::Encode(Encode {
        format,
        quality: None,
        lossless: None,
    })
}

fn decoded(out: &Processed) -> image::DynamicImage {
    image::load_from_memory(&out.bytes).expect("the result decodes")
}

#[test]
fn every_fit_and_gravity_gives_the_planned_size() {
    let bytes = photo("rocket.jpg"); // 640×427
    let gravities = [
        Gravity::Centre,
        Gravity::North,
        Gravity::South,
        Gravity::East,
        Gravity::West,
        Gravity::NorthEast,
        Gravity::NorthWest,
        Gravity::SouthEast,
        Gravity::SouthWest,
    ];
    for fit in [Fit::Contain, Fit::Cover, Fit::Fill] {
        for gravity in gravities {
            for (w, h) in [(200, 200), (300, 100), (90, 400)] {
                let step = resize(w, h, fit, gravity);
                let Step::Resize(params) = &step else {
                    unreachable!()
                };
                let expected = plan_resize(640, 427, params).output();
                let out = run(
                    &bytes,
                    &[step.clone(), encode(OutputFormat::Png)],
                    DecodeLimits::default(),
                )
                .unwrap_or_else(|e| panic!("{fit:?} {gravity:?} {w}x{h}: {e}"));
                assert_eq!(
                    (out.width, out.height),
                    expected,
                    "{fit:?} {gravity:?} {w}x{h}"
                );
                assert_eq!(
                    decoded(&out).dimensions(),
                    expected,
                    "{fit:?} {gravity:?} {w}x{h}"
                );
            }
        }
    }
}

#[test]
fn every_output_format_decodes_at_the_stated_size() {
    let bytes = photo("logo.png"); // 500×500 RGBA
    let small = resize(120, 80, Fit::Contain, Gravity::Centre);
    for (format, image_format) in [
        (OutputFormat::Jpeg, Some(ImageFormat::Jpeg)),
        (OutputFormat::Png, Some(ImageFormat::Png)),
        (OutputFormat::Webp, Some(ImageFormat::WebP)),
        (OutputFormat::Avif, None),
    ] {
        for grey in [false, true] {
            let mut steps = vec![small.clone()];
            if grey {
                steps.push(Step::Grayscale(Grayscale {}));
            }
            steps.push(encode(format));
            let out = run(&bytes, &steps, DecodeLimits::default())
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((out.width, out.height), (80, 80), "{format:?}");
            assert_eq!(out.extension, format.extension());
            assert_eq!(out.content_type, format.content_type());
            match image_format {
                Some(expected) => {
                    assert_eq!(image::guess_format(&out.bytes).unwrap(), expected);
                    assert_eq!(decoded(&out).dimensions(), (80, 80), "{format:?}");
                }
                // `image` has no AVIF decoder here: the box structure says what it is.
                None => assert_eq!(&out.bytes[4..12], b"ftypavif"),
            }
        }
    }
    // Lossless WebP gives back the pixels it was given.
    let lossless = Step::Encode(Encode {
        format: OutputFormat::Webp,
        quality: None,
        lossless: Some(true),
    });
    let png = run(
        &bytes,
        &[small.clone(), encode(OutputFormat::Png)],
        DecodeLimits::default(),
    )
    .unwrap();
    let webp = run(&bytes, &[small, lossless], DecodeLimits::default()).unwrap();
    assert_eq!(decoded(&webp).to_rgba8(), decoded(&png).to_rgba8());
}

#[test]
fn a_transparent_image_becomes_a_jpeg_over_white() {
    // Left half transparent (black underneath), right half opaque red.
    let rgba = image::RgbaImage::from_fn(32, 16, |x, _| {
        if x < 16 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([200, 0, 0, 255])
        }
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgba8(rgba)
        .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    let out = run(
        &bytes,
        &[encode(OutputFormat::Jpeg)],
        DecodeLimits::default(),
    )
    .unwrap();
    let jpeg = decoded(&out).to_rgb8();
    let white = jpeg.get_pixel(4, 8);
    let red = jpeg.get_pixel(28, 8);
    assert!(
        white.0.iter().all(|&c| c >= 245),
        "transparent became {white:?}"
    );
    assert!(
        red[0] > 180 && red[1] < 30 && red[2] < 30,
        "opaque red became {red:?}"
    );
}

#[test]
fn without_encode_a_jpeg_stays_jpeg_and_the_rest_becomes_png() {
    let step = [resize(100, 100, Fit::Contain, Gravity::Centre)];
    let jpeg = run(&photo("rocket.jpg"), &step, DecodeLimits::default()).unwrap();
    assert_eq!((jpeg.extension, jpeg.content_type), ("jpg", "image/jpeg"));
    assert_eq!(decoded(&jpeg).color(), image::ColorType::Rgb8);
    let webp = run(&photo("rocket.webp"), &step, DecodeLimits::default()).unwrap();
    assert_eq!((webp.extension, webp.content_type), ("png", "image/png"));
}

#[test]
fn shrink_on_load_is_close_to_a_full_decode_and_resize() {
    let bytes = photo("photo-2mp.jpg"); // 1920×1440
    // 1/4 and 1/8 decodes (480×360, 240×180 are still at least the target).
    for (w, h) in [(400, 300), (200, 150), (256, 256)] {
        for grey in [false, true] {
            let fit = if w == h { Fit::Cover } else { Fit::Contain };
            let step = resize(w, h, fit, Gravity::Centre);
            // A crop of 1 px off first makes the chain decode at full size.
            let full_first = Step::Crop(imagepipe_shared::steps::Crop {
                x: 0,
                y: 0,
                width: 1920,
                height: 1440,
            });
            let mut shrunk_steps = vec![step.clone(), encode(OutputFormat::Png)];
            let mut full_steps = vec![full_first, step, encode(OutputFormat::Png)];
            if grey {
                shrunk_steps.insert(0, Step::Grayscale(Grayscale {}));
                full_steps.insert(0, Step::Grayscale(Grayscale {}));
            }
            let shrunk = run(&bytes, &shrunk_steps, DecodeLimits::default()).unwrap();
            let full = run(&bytes, &full_steps, DecodeLimits::default()).unwrap();
            assert_eq!((shrunk.width, shrunk.height), (full.width, full.height));
            let (a, b) = (decoded(&shrunk).to_rgb8(), decoded(&full).to_rgb8());
            let diff: u64 = a
                .as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(x, y)| u64::from(x.abs_diff(*y)))
                .sum();
            let mean = diff as f64 / a.as_raw().len() as f64;
            // DCT scaling averages each block where Lanczos weighs a wider window: they
            // differ by a grey level or so on a photograph, much less than JPEG's own error.
            assert!(mean < 2.0, "{w}x{h} grey {grey}: mean abs diff {mean}");
        }
    }
}

#[test]
fn a_corrupt_jpeg_gets_the_same_verdict_with_or_without_shrink_on_load() {
    let card = RgbImage::from_fn(96, 64, |x, y| Rgb([(x * 2) as u8, (y * 3) as u8, 90]));
    let mut corrupt = jpeg_of(&card);
    // Garbage over the middle of the entropy-coded data, the end marker left in place: a
    // warning to libjpeg-turbo, which its TurboJPEG API reports as a failure, where
    // `zune-jpeg` decodes what it can.
    let n = corrupt.len();
    for b in &mut corrupt[n / 2..n - 2] {
        *b = 0x5A;
    }
    let target = super::decode::ShrinkTarget {
        at_least: (24, 16),
        grey: false,
    };
    assert!(super::decode::jpeg_scaled(&corrupt, DecodeLimits::default(), target).is_err());
    let shrunk = run(
        &corrupt,
        &[resize(24, 16, Fit::Contain, Gravity::Centre)],
        DecodeLimits::default(),
    );
    let whole = Step::Crop(imagepipe_shared::steps::Crop {
        x: 0,
        y: 0,
        width: 96,
        height: 64,
    });
    let full = run(
        &corrupt,
        &[whole, resize(24, 16, Fit::Contain, Gravity::Centre)],
        DecodeLimits::default(),
    );
    match (shrunk, full) {
        (Ok(a), Ok(b)) => assert_eq!((a.width, a.height), (b.width, b.height)),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("different verdicts: {a:?} against {b:?}"),
    }
}

#[test]
fn the_default_chain_is_byte_for_byte_grayscale() {
    let good = testdata("good");
    let mut seen = 0;
    for entry in std::fs::read_dir(&good).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let chain = run(&bytes, &default_chain(5000), DecodeLimits::default()).unwrap();
        let legacy = grayscale(&bytes, DecodeLimits::default()).unwrap();
        assert_eq!(chain.bytes, legacy.bytes, "{}", path.display());
        assert_eq!(
            (
                chain.extension,
                chain.content_type,
                chain.width,
                chain.height
            ),
            (
                legacy.extension,
                legacy.content_type,
                legacy.width,
                legacy.height
            ),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 10, "expected the test photographs, found {seen}");
}

#[test]
fn a_chain_that_outgrows_the_limits_is_refused_before_decoding() {
    let bytes = photo("rocket.jpg");
    let limits = DecodeLimits {
        max_pixels: 640 * 427,
        max_side: 1000,
    };
    let big = Step::Resize(Resize {
        width: Some(1280),
        height: None,
        fit: Fit::Contain,
        gravity: Gravity::Centre,
        enlarge: true,
    });
    match run(&bytes, &[big], limits) {
        Err(super::KernelError::Chain(err)) => {
            assert_eq!(err.code.as_str(), "output_too_large");
        }
        other => panic!("expected output_too_large, got {other:?}"),
    }
}
