//! `resize` against Pillow's `Image.resize(LANCZOS)`, and its sizes against `plan_resize`.
//!
//! Why Pillow's Lanczos is the reference: the kernel resizes with fast_image_resize's
//! Lanczos-3 convolution, whose support widens with the shrink factor so a reduction is
//! antialiased; Pillow's LANCZOS is that same filter (fast_image_resize's convolution follows
//! Pillow's design), premultiplying alpha around it as ours does. OpenCV's `INTER_LANCZOS4`
//! is a fixed 8×8 window that does not widen when shrinking (it aliases), and `INTER_AREA` is
//! a box filter: both are further from what the kernel promises than Pillow is.

use std::path::Path;

use imagepipe_shared::steps::{Chain, Presets, Step, output_size, plan_resize};
use serde_json::{Value, json};

use crate::harness::{
    Diff, Reference, TRANSPARENT, load, references, run_to_png, scratch, steps, test_image,
};

/// The size a chain leaves on `path`, step by step as ingest computes it (`output_size`,
/// which is `plan_resize` for a resize).
fn planned(path: &Path, chain: &[Step]) -> (u32, u32) {
    let mut size = image::image_dimensions(path).expect("readable dimensions");
    for step in chain {
        size = output_size(step, size);
    }
    size
}

/// Our result of each chain against its reference, with the sizes checked against the plan.
fn compare(test: &str, cases: &[(&str, &str, Value)]) -> Vec<Diff> {
    let dir = scratch(test);
    let mut ours = Vec::new();
    let mut refs = Vec::new();
    for (image, label, chain) in cases {
        let name = format!("{image}-{label}");
        let path = test_image(image);
        let chain = steps(chain.clone());
        let result = load(&run_to_png(&dir, &name, &path, &chain));
        assert_eq!(
            (result.width(), result.height()),
            planned(&path, &chain),
            "{name}: the size plan_resize gives"
        );
        ours.push((name.clone(), result));
        refs.push(Reference::of(&name, &path, &chain));
    }
    ours.iter()
        .zip(references(&dir, &refs))
        .map(|((name, ours), reference)| {
            let diff = Diff::between(name, ours, &load(&reference));
            eprintln!("{name}: {diff}");
            diff
        })
        .collect()
}

/// PNG inputs, so no decoder difference enters: contain by width, by height and by both,
/// fill (aspect ignored), enlarge, and real transparency (premultiplied on both sides).
/// Both compute the same filter in different fixed-point arithmetic: bound mean 0.5 and
/// 99th percentile 2 levels. A bilinear or box filter in place of Lanczos-3 is 1-3 levels
/// off on average on these sharp-edged images; a sampling grid off by half a pixel, more.
#[test]
fn resize_is_pillows_lanczos() {
    let cases = [
        (
            "chelsea.png",
            "w200",
            json!([{"op": "resize", "width": 200}]),
        ),
        (
            "chelsea.png",
            "h250",
            json!([{"op": "resize", "height": 250}]),
        ),
        (
            "chelsea.png",
            "fill",
            json!([{"op": "resize", "width": 300, "height": 100, "fit": "fill"}]),
        ),
        (
            TRANSPARENT,
            "box137",
            json!([{"op": "resize", "width": 137, "height": 137}]),
        ),
        ("logo.png", "w123", json!([{"op": "resize", "width": 123}])),
        (
            "camera.png",
            "h100",
            json!([{"op": "resize", "height": 100}]),
        ),
        (
            "coffee.png",
            "enlarge",
            json!([{"op": "resize", "width": 900, "enlarge": true}]),
        ),
    ];
    for ((image, label, _), diff) in cases.iter().zip(compare("resize", &cases)) {
        assert!(
            diff.mean <= 0.5 && diff.p99 <= 2.0,
            "{image} {label}: {diff} (bound: mean 0.5, p99 2)"
        );
    }
}

/// `cover` fills the box and crops the overflow where `gravity` says, for every gravity, on
/// a landscape image and (turned first) a portrait one. The reference scales the whole
/// image with Pillow and crops it: flush with the edge the gravity names, centred (rounded
/// down) on an axis it does not name. The kernel takes the crop from the source instead
/// (the same sampling positions, without making the larger image), so the bound is that of
/// a plain resize: mean 0.5, 99th percentile 2. The control, the reference with the
/// gravity across the image, must be far outside (it keeps another part of the photograph:
/// 30+ levels), and gravities that agree on the cropped axis (north, centre and south on a
/// landscape image, whose overflow is only left and right) must give identical pixels.
#[test]
fn cover_keeps_the_part_its_gravity_names() {
    let resize = |gravity: &str| json!({"op": "resize", "width": 150, "height": 150, "fit": "cover", "gravity": gravity});
    let cover = |gravity: &str| json!([resize(gravity)]);
    let turned = |gravity: &str| json!([{"op": "rotate", "degrees": 90}, resize(gravity)]);
    // (gravity, one across the image from it on the cropped axis)
    let landscape = [
        ("centre", "west"),
        ("north", "east"),
        ("south", "west"),
        ("east", "west"),
        ("west", "east"),
        ("north_east", "south_west"),
        ("north_west", "north_east"),
        ("south_east", "north_west"),
        ("south_west", "south_east"),
    ];
    let portrait = [
        ("north", "south"),
        ("south", "north"),
        ("centre", "north"),
        ("east", "south_east"),
        ("north_west", "south_west"),
    ];
    let mut cases = Vec::new();
    for (gravity, opposite) in landscape {
        cases.push((gravity.to_owned(), cover(gravity), cover(opposite)));
    }
    for (gravity, opposite) in portrait {
        cases.push((
            format!("turned-{gravity}"),
            turned(gravity),
            turned(opposite),
        ));
    }
    let dir = scratch("cover");
    let path = test_image("chelsea.png");
    let (w, h) = image::image_dimensions(&path).expect("dimensions");
    let mut ours = Vec::new();
    let mut refs = Vec::new();
    for (label, chain, opposite) in &cases {
        let chain = steps(chain.clone());
        let result = load(&run_to_png(&dir, label, &path, &chain));
        let Some(Step::Resize(resize)) = chain.last() else {
            panic!("{label}: a chain ending in resize");
        };
        let upright = if label.starts_with("turned") {
            (h, w)
        } else {
            (w, h)
        };
        let size = (result.width(), result.height());
        assert_eq!(
            size,
            plan_resize(upright.0, upright.1, resize).output(),
            "{label}"
        );
        assert_eq!(size, (150, 150), "{label}: cover fills the box");
        ours.push(result);
        refs.push(Reference::of(label, &path, &chain));
        refs.push(Reference::of(
            &format!("{label}.control"),
            &path,
            &steps(opposite.clone()),
        ));
    }
    let refs = references(&dir, &refs);
    for (i, (label, _, _)) in cases.iter().enumerate() {
        let diff = Diff::between(label, &ours[i], &load(&refs[2 * i]));
        let control = Diff::between(label, &ours[i], &load(&refs[2 * i + 1]));
        eprintln!("{label}: {diff}; against the gravity across: {control}");
        assert!(
            diff.mean <= 0.5 && diff.p99 <= 2.0,
            "{label}: {diff} (bound: mean 0.5, p99 2)"
        );
        assert!(
            control.mean > 5.0,
            "{label}: the gravity across the image is not told apart: {control}"
        );
    }
    // Along the axis with nothing to crop, the gravity makes no difference.
    let by_label = |l: &str| &ours[cases.iter().position(|c| c.0 == l).expect("a case")];
    for same in ["north", "south"] {
        assert_eq!(
            by_label(same).as_bytes(),
            by_label("centre").as_bytes(),
            "{same} = centre on a landscape image"
        );
    }
    assert_eq!(
        by_label("north_west").as_bytes(),
        by_label("west").as_bytes(),
        "north_west = west on a landscape image"
    );
}

/// The `thumbnail` preset's resize (cover 256×256, centre) on JPEG photographs, against two
/// references from the full-resolution decode: Pillow's scale-then-crop (the definition),
/// within the shrink-on-load bound below; and Pillow's own `ImageOps.fit(…, (256, 256),
/// LANCZOS)`, the usual way to make such a thumbnail. `ImageOps.fit` centres its crop at
/// fractional coordinates while the plan crops whole pixels of the scaled image, rounding
/// the offset down (photo-2mp.jpg: 42 of 85.3 spare columns instead of 42.67), so the two
/// may sit up to a pixel apart and differ by several levels on a detailed photograph. What
/// must hold: ours is no further from `ImageOps.fit` than Pillow's own scale-then-crop is,
/// give or take the shrink-on-load allowance (1 level on average) — the difference is the
/// crop's rounding and nothing of ours.
#[test]
fn the_thumbnail_preset_is_scale_then_crop_and_agrees_with_imageops_fit() {
    let presets = Presets::builtin();
    let Some(Chain::Steps(thumbnail)) = presets.get("thumbnail") else {
        panic!("the thumbnail preset ships");
    };
    let resize = thumbnail[..1].to_vec();
    assert_eq!(
        serde_json::to_value(&resize).expect("steps serialize"),
        json!([{"op": "resize", "width": 256, "height": 256, "fit": "cover", "gravity": "centre", "enlarge": false}])
    );
    let dir = scratch("thumbnail");
    let images = [
        "photo-2mp.jpg",
        "rocket.jpg",
        "retina.jpg",
        "photo-12mp.jpg",
    ];
    let mut refs = Vec::new();
    let mut ours = Vec::new();
    for image in images {
        let path = test_image(image);
        let result = load(&run_to_png(&dir, image, &path, &resize));
        assert_eq!((result.width(), result.height()), (256, 256), "{image}");
        ours.push(result);
        refs.push(Reference::of(image, &path, &resize));
        refs.push(Reference {
            imageops_fit: true,
            ..Reference::of(&format!("{image}.fit"), &path, &resize)
        });
    }
    let refs = references(&dir, &refs);
    for (i, image) in images.iter().enumerate() {
        let (scale_crop, fit) = (load(&refs[2 * i]), load(&refs[2 * i + 1]));
        let diff = Diff::between(image, &ours[i], &scale_crop);
        let ours_fit = Diff::between(image, &ours[i], &fit);
        let pillow_fit = Diff::between(image, &scale_crop, &fit);
        eprintln!(
            "{image}: against scale-then-crop {diff}; against ImageOps.fit {ours_fit} \
             (Pillow's scale-then-crop against ImageOps.fit: {pillow_fit})"
        );
        assert!(
            diff.mean <= 1.5 && diff.p99 <= 12.0,
            "{image}: {diff} (bound: mean 1.5, p99 12)"
        );
        assert!(
            ours_fit.mean <= pillow_fit.mean + 1.0,
            "{image}: further from ImageOps.fit ({ours_fit}) than Pillow's scale-then-crop \
             ({pillow_fit}) by more than a level"
        );
    }
}

/// A chain that starts by shrinking a JPEG decodes it already reduced (libjpeg-turbo's DCT
/// scaling by 1/2, 1/4 or 1/8), then resizes the rest with Lanczos-3. DCT scaling is itself
/// a reduction filter (it keeps the low frequencies of each 8×8 block), softer than
/// Lanczos-3 but aligned with it: measured mean 0.9-1.3 and 99th percentile 7-10 against
/// Pillow's full-resolution decode and LANCZOS. Bound: mean 1.5, 99th percentile 12. What
/// it catches: the same results moved by one pixel are 6-9 levels off on average;
/// nearest-neighbour reduction (a decoder skipping pixels) several.
///
/// These sides are multiples of the DCT factor (4000 × 3000 by 8 and 4, 1920 × 1440 by 4),
/// so the reduced image covers exactly the original; an odd side is the next test's.
#[test]
fn shrink_on_load_stays_close_to_a_full_resolution_reduction() {
    let cases = [
        (
            "photo-12mp.jpg",
            "w500",
            json!([{"op": "resize", "width": 500}]),
        ),
        (
            "photo-12mp.jpg",
            "w1000",
            json!([{"op": "resize", "width": 1000}]),
        ),
        (
            "photo-12mp.jpg",
            "cover300x200",
            json!([{"op": "resize", "width": 300, "height": 200, "fit": "cover"}]),
        ),
        (
            "photo-2mp.jpg",
            "w400",
            json!([{"op": "resize", "width": 400}]),
        ),
    ];
    for ((image, label, _), diff) in cases.iter().zip(compare("shrink-on-load", &cases)) {
        assert!(
            diff.mean <= 1.5 && diff.p99 <= 12.0,
            "{image} {label}: {diff} (bound: mean 1.5, p99 12)"
        );
    }
}

/// A side that is not a multiple of the DCT factor: `rocket.jpg` is 640 × 427, and halving
/// it gives 214 rows that stand for 428 (the last one half past the image). Its planned
/// size is 320 × 214 (427 / 2 = 213.5, rounded up): mapping the reduced rows straight onto
/// the output puts the last row half an output pixel low, and every row in between off by
/// a part of that. The kernel must keep the original's geometry: resample the reduced image
/// as covering 213.5 rows, not 214. Measured against Pillow's full-resolution LANCZOS (and
/// simulated in Pillow: its own DCT-halved decode, `draft`, gives the kernel's pixels):
/// mapped straight, mean 2.0 and 99th percentile 25 (bottom 20 rows: 6.1 against 0.5 at the
/// top); resampled with the right geometry (`resize(…, box=(0, 0, 320, 213.5))`), 1.32 and
/// 13. This photograph's hard edges (a rocket against the sky) put its 99th percentile
/// above the aligned photographs' even when registered, so the bound is mean 1.5 and 99th
/// percentile 16.
///
/// It failed while `ops::resize` mapped the whole reduced image onto the plan: libjpeg-turbo
/// rounds a reduced side up, so the last reduced column covers only part of a block, and the
/// picture drifted by up to half a pixel. The resize now scales only the part that shows the
/// original (`decode::covered_box`).
#[test]
fn shrink_on_load_keeps_an_odd_sided_jpeg_registered() {
    let chain = steps(json!([{"op": "resize", "width": 320}]));
    let dir = scratch("shrink-odd");
    let path = test_image("rocket.jpg");
    let ours = load(&run_to_png(&dir, "rocket", &path, &chain));
    let reference = load(&references(&dir, &[Reference::of("rocket", &path, &chain)])[0]);
    assert_eq!((ours.width(), ours.height()), planned(&path, &chain));
    let diff = Diff::between("rocket.jpg to 320 wide", &ours, &reference);
    eprintln!("rocket.jpg to 320 wide: {diff}");
    assert!(
        diff.mean <= 1.5 && diff.p99 <= 16.0,
        "rocket.jpg to 320 wide: {diff} (bound: mean 1.5, p99 16)"
    );
}
