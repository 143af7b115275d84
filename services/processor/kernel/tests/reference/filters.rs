//! `grayscale`, `blur` and `sharpen` compute new values, so two correct implementations may
//! round differently: each is held within a tolerance of OpenCV's, stated with its reason.
//! Each bound is also shown to be tight enough to matter: the same op with a parameter off
//! by a little (a "control") lands outside it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{
    Diff, Reference, TRANSPARENT, load, references, run_to_png, scratch, steps, test_image,
};

/// One comparison: our result of `chain` on `input`, the reference of the same chain, and
/// optionally the reference of a slightly wrong chain that must fall outside the bound.
struct Case {
    name: String,
    input: &'static str,
    chain: Value,
    control: Option<Value>,
}

fn case(input: &'static str, label: &str, chain: Value, control: Option<Value>) -> Case {
    Case {
        name: format!("{input}-{label}"),
        input,
        chain,
        control,
    }
}

/// Run every case; each result's distance to its reference and (if any) to its control.
/// The reference starts from the kernel's own decode of a JPEG (the op alone is compared;
/// `decode.rs` bounds the decode) and from Pillow's decode of anything else, which is
/// exactly the kernel's (`decode.rs`).
fn measure(test: &str, cases: &[Case], from_pillow_decode: bool) -> Vec<(Diff, Option<Diff>)> {
    let dir = scratch(test);
    let mut refs = Vec::new();
    let mut ours: Vec<PathBuf> = Vec::new();
    for case in cases {
        let input = test_image(case.input);
        let start = |name: &str, chain: &[_]| {
            if case.input.ends_with(".jpg") && !from_pillow_decode {
                let decoded = dir.join(format!("{}.noop.png", case.input));
                if !decoded.exists() {
                    run_to_png(&dir, &format!("{}.noop", case.input), &input, &[]);
                }
                Reference::on_decoded(name, &decoded, chain)
            } else {
                Reference::of(name, &input, chain)
            }
        };
        let chain = steps(case.chain.clone());
        ours.push(run_to_png(&dir, &case.name, &input, &chain));
        refs.push(start(&case.name, &chain));
        if let Some(control) = &case.control {
            refs.push(start(
                &format!("{}.control", case.name),
                &steps(control.clone()),
            ));
        }
    }
    let outs = references(&dir, &refs);
    let mut outs = outs.iter();
    cases
        .iter()
        .zip(&ours)
        .map(|(case, ours)| {
            let ours = load(ours);
            let reference = outs.next().expect("a reference per case");
            let diff = Diff::between(&case.name, &ours, &load(reference));
            let control = case.control.as_ref().map(|_| {
                let control = outs.next().expect("a control");
                Diff::between(&case.name, &ours, &load(Path::new(control)))
            });
            eprintln!(
                "{}: {diff}{}",
                case.name,
                control.map_or(String::new(), |c| format!("; against the control: {c}"))
            );
            (diff, control)
        })
        .collect()
}

/// BT.601 luma, against OpenCV's `cvtColor(RGB2GRAY)` of Pillow's RGB decode. On a PNG both
/// compute 0.299 R + 0.587 G + 0.114 B and round, OpenCV in 14-bit fixed point: they may
/// disagree by one level where the exact value sits near a half, never by more, so: max 1,
/// mean 0.1. A JPEG's grey result is the decoder's luma plane, never converted to RGB and
/// back, while the reference goes through RGB with upsampled chroma and rounding at each
/// stage: mean 1.0, 99th percentile 4 (a wrong weighting, BT.709's 0.2126/0.7152/0.0722,
/// is ~3-6 levels off on these photographs, and an unweighted mean far more).
#[test]
fn grayscale_is_bt601_luma_as_opencv_computes_it() {
    let grey = || json!([{"op": "grayscale"}]);
    let cases = [
        case("chelsea.png", "grey", grey(), None),
        case("logo.png", "grey", grey(), None),
        case(TRANSPARENT, "grey", grey(), None),
        case("camera.png", "grey", grey(), None),
        case("rocket.jpg", "grey", grey(), None),
        case("photo-2mp.jpg", "grey", grey(), None),
    ];
    for (case, (diff, _)) in cases.iter().zip(measure("grayscale", &cases, true)) {
        if case.input.ends_with(".png") {
            assert!(diff.max <= 1.0 && diff.mean <= 0.1, "{}: {diff}", case.name);
        } else {
            assert!(diff.mean <= 1.0 && diff.p99 <= 4.0, "{}: {diff}", case.name);
        }
    }
}

/// Gaussian blur against OpenCV's `GaussianBlur(ksize=(0, 0), sigmaX=σ)`: the same kernel
/// (OpenCV truncates it at ±3σ for 8-bit images) and border (reflect-101). Two correct 8-bit
/// implementations differ by rounding (OpenCV's 8-bit path is fixed point): at most a level
/// inside the image for σ up to 3, a few for σ = 12. At the image's outermost rows and
/// columns some pixels differ by more (up to ~13 levels measured: the two pad the border
/// differently in the last few pixels), too few to reach the 99th percentile. Measured:
/// mean ≤ 0.17, 99th percentile ≤ 3. Bound: mean 0.3, 99th percentile 3. With alpha, both
/// blur premultiplied colour (compared premultiplied). The control, σ × 1.25, must fall
/// outside the bound: the bound tells σ from a 25% error.
#[test]
fn blur_is_opencv_gaussian_blur() {
    let blur = |sigma: f64| json!([{"op": "blur", "sigma": sigma}]);
    let cases = [
        case("chelsea.png", "blur0.8", blur(0.8), Some(blur(1.0))),
        case("chelsea.png", "blur3", blur(3.0), Some(blur(3.75))),
        case(TRANSPARENT, "blur2", blur(2.0), Some(blur(2.5))),
        case("camera.png", "blur1.5", blur(1.5), Some(blur(1.875))),
        case("rocket.jpg", "blur2", blur(2.0), Some(blur(2.5))),
        case("rocket.jpg", "blur12", blur(12.0), Some(blur(15.0))),
    ];
    let within = |d: &Diff| d.mean <= 0.3 && d.p99 <= 3.0;
    for (case, (diff, control)) in cases.iter().zip(measure("blur", &cases, false)) {
        assert!(
            within(&diff),
            "{}: {diff} (bound: mean 0.3, p99 3)",
            case.name
        );
        let control = control.expect("a control");
        assert!(
            !within(&control),
            "{}: the bound cannot see a 25% error in σ: {control}",
            case.name
        );
    }
}

/// Unsharp mask, `img + amount × (img − gaussian(img, σ))`, against the same in float32 over
/// OpenCV's Gaussian, rounded once at the end. Whatever two Gaussians disagree by (see the
/// blur test: a level at the 99th percentile for these σ, more on the outermost pixels) is
/// multiplied by `amount` in the mask, and an implementation may round the blurred image to
/// 8 bits first (half a level, also multiplied): so the bound grows with the amount, mean
/// 0.3 + 0.25 × amount and 99th percentile 1 + 1.5 × amount, plus the final rounding's one
/// level. Measured: mean 0.23-0.60, 99th percentile 1-3, for amounts 0.5-2. The control,
/// amount + 0.5, must fall outside (mean 1.6-3.3 measured).
#[test]
fn sharpen_is_an_unsharp_mask_over_opencvs_gaussian() {
    let sharpen =
        |sigma: f64, amount: f64| json!([{"op": "sharpen", "sigma": sigma, "amount": amount}]);
    let cases = [
        case(
            "chelsea.png",
            "sharpen1-1.5",
            sharpen(1.0, 1.5),
            Some(sharpen(1.0, 2.0)),
        ),
        case(
            "chelsea.png",
            "sharpen3-0.5",
            sharpen(3.0, 0.5),
            Some(sharpen(3.0, 1.0)),
        ),
        case(
            TRANSPARENT,
            "sharpen1-1",
            sharpen(1.0, 1.0),
            Some(sharpen(1.0, 1.5)),
        ),
        case(
            "camera.png",
            "sharpen0.7-2",
            sharpen(0.7, 2.0),
            Some(sharpen(0.7, 2.5)),
        ),
        case(
            "rocket.jpg",
            "sharpen1-1.5",
            sharpen(1.0, 1.5),
            Some(sharpen(1.0, 2.0)),
        ),
    ];
    for (case, (diff, control)) in cases.iter().zip(measure("sharpen", &cases, false)) {
        let amount = case.chain[0]["amount"].as_f64().expect("an amount");
        let (mean, p99) = (0.3 + 0.25 * amount, 1.0 + 1.5 * amount);
        let within = |d: &Diff| d.mean <= mean && d.p99 <= p99;
        assert!(
            within(&diff),
            "{}: {diff} (bound: mean {mean}, p99 {p99})",
            case.name
        );
        let control = control.expect("a control");
        assert!(
            !within(&control),
            "{}: the bound cannot see amount + 0.5: {control}",
            case.name
        );
    }
}
