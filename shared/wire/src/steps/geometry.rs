//! The sizes a chain produces, computed from the image's size alone. Ingest uses them to
//! refuse a chain before anything is stored; the processor uses the same numbers to run it,
//! so the two can never disagree on what a step makes.

use super::types::{Fit, Gravity, Resize, Rotate, Step};

/// A rectangle in an image's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// What a `resize` does to an image of a given size: scale to `scaled`, then (for `cover`)
/// cut out `crop` of the scaled image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizePlan {
    pub scaled: (u32, u32),
    pub crop: Option<Rect>,
}

impl ResizePlan {
    /// The size the step leaves.
    pub fn output(&self) -> (u32, u32) {
        match self.crop {
            Some(rect) => (rect.width, rect.height),
            None => self.scaled,
        }
    }
}

/// A side scaled by `factor`, rounded to the nearest integer, at least 1.
fn scale_side(side: u32, factor: f64) -> u32 {
    let scaled = (f64::from(side) * factor).round();
    // The bounds of every factor keep this far inside u32; clamp anyway rather than wrap.
    scaled.clamp(1.0, f64::from(u32::MAX)) as u32
}

/// Plan a resize of a `width` × `height` image. `resize` must name at least one side, and
/// both for `cover` and `fill` (the chain check makes sure before anyone calls this).
pub fn plan_resize(width: u32, height: u32, resize: &Resize) -> ResizePlan {
    let along_width = resize.width.map(|w| f64::from(w) / f64::from(width));
    let along_height = resize.height.map(|h| f64::from(h) / f64::from(height));
    let keep_small = |factor: f64| {
        if resize.enlarge {
            factor
        } else {
            factor.min(1.0)
        }
    };
    match (resize.fit, resize.width, resize.height) {
        (Fit::Fill, Some(w), Some(h)) => {
            let (w, h) = if resize.enlarge {
                (w, h)
            } else {
                (w.min(width), h.min(height))
            };
            ResizePlan {
                scaled: (w, h),
                crop: None,
            }
        }
        (Fit::Cover, Some(w), Some(h)) => {
            let factor = keep_small(along_width.unwrap_or(1.0).max(along_height.unwrap_or(1.0)));
            let scaled = (scale_side(width, factor), scale_side(height, factor));
            let (crop_w, crop_h) = (w.min(scaled.0), h.min(scaled.1));
            let (x, y) = gravity_offset(resize.gravity, scaled, (crop_w, crop_h));
            ResizePlan {
                scaled,
                crop: Some(Rect {
                    x,
                    y,
                    width: crop_w,
                    height: crop_h,
                })
                .filter(|rect| (rect.width, rect.height) != scaled),
            }
        }
        // `contain`, and what the check refuses (a side missing for cover/fill) treated as it.
        _ => {
            let factor = match (along_width, along_height) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => 1.0,
            };
            let factor = keep_small(factor);
            ResizePlan {
                scaled: (scale_side(width, factor), scale_side(height, factor)),
                crop: None,
            }
        }
    }
}

/// Where a `crop`-sized window sits in a `scaled` image for `gravity`: centred along an
/// axis the gravity does not name (rounded down), flush with the edge it names.
fn gravity_offset(gravity: Gravity, scaled: (u32, u32), crop: (u32, u32)) -> (u32, u32) {
    let spare_x = scaled.0 - crop.0;
    let spare_y = scaled.1 - crop.1;
    let (x, y) = match gravity {
        Gravity::Centre => (spare_x / 2, spare_y / 2),
        Gravity::North => (spare_x / 2, 0),
        Gravity::South => (spare_x / 2, spare_y),
        Gravity::East => (spare_x, spare_y / 2),
        Gravity::West => (0, spare_y / 2),
        Gravity::NorthEast => (spare_x, 0),
        Gravity::NorthWest => (0, 0),
        Gravity::SouthEast => (spare_x, spare_y),
        Gravity::SouthWest => (0, spare_y),
    };
    (x, y)
}

/// The size a step leaves, from the size it is given. `crop` must lie inside the image (the
/// chain check makes sure).
pub fn output_size(step: &Step, (width, height): (u32, u32)) -> (u32, u32) {
    match step {
        Step::Resize(resize) => plan_resize(width, height, resize).output(),
        Step::Crop(crop) => (crop.width, crop.height),
        Step::Rotate(Rotate { degrees: 90 | 270 }) => (height, width),
        Step::Rotate(_)
        | Step::Flip(_)
        | Step::Grayscale(_)
        | Step::Blur(_)
        | Step::Sharpen(_)
        | Step::Delay(_)
        | Step::Encode(_)
        | Step::DetectFaces(_)
        | Step::BlurFaces(_)
        | Step::Infer(_) => (width, height),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(width: Option<u32>, height: Option<u32>, fit: Fit) -> Resize {
        Resize {
            width,
            height,
            fit,
            gravity: Gravity::Centre,
            enlarge: false,
        }
    }

    #[test]
    fn contain_keeps_the_aspect_inside_the_box() {
        let plan = plan_resize(4000, 3000, &resize(Some(800), Some(800), Fit::Contain));
        assert_eq!(plan.output(), (800, 600));
        // One side alone scales the other with it, rounding to the nearest pixel.
        let plan = plan_resize(1001, 333, &resize(Some(500), None, Fit::Contain));
        assert_eq!(plan.output(), (500, 166));
        let plan = plan_resize(333, 1001, &resize(None, Some(500), Fit::Contain));
        assert_eq!(plan.output(), (166, 500));
    }

    #[test]
    fn nothing_is_enlarged_unless_asked() {
        let small = resize(Some(800), Some(800), Fit::Contain);
        assert_eq!(plan_resize(400, 300, &small).output(), (400, 300));
        let enlarged = Resize {
            enlarge: true,
            ..small
        };
        assert_eq!(plan_resize(400, 300, &enlarged).output(), (800, 600));
        let fill = resize(Some(800), Some(100), Fit::Fill);
        assert_eq!(plan_resize(400, 300, &fill).output(), (400, 100));
    }

    #[test]
    fn cover_fills_the_box_and_crops_by_gravity() {
        let cover = |gravity| Resize {
            gravity,
            ..resize(Some(256), Some(256), Fit::Cover)
        };
        // 4000×3000 → 341×256 (3000 → 256 sets the factor), 85 columns to cut.
        let plan = plan_resize(4000, 3000, &cover(Gravity::Centre));
        assert_eq!(plan.scaled, (341, 256));
        assert_eq!(plan.output(), (256, 256));
        let x_of = |gravity| plan_resize(4000, 3000, &cover(gravity)).crop.unwrap().x;
        assert_eq!(x_of(Gravity::Centre), 42);
        assert_eq!(x_of(Gravity::West), 0);
        assert_eq!(x_of(Gravity::East), 85);
        assert_eq!(x_of(Gravity::NorthEast), 85);
        assert_eq!(x_of(Gravity::North), 42);
        // A portrait image crops rows instead.
        let y_of = |gravity| plan_resize(3000, 4000, &cover(gravity)).crop.unwrap().y;
        assert_eq!(y_of(Gravity::North), 0);
        assert_eq!(y_of(Gravity::South), 85);
        assert_eq!(y_of(Gravity::SouthWest), 85);
        assert_eq!(y_of(Gravity::West), 42);
    }

    #[test]
    fn cover_of_a_small_image_keeps_at_most_its_own_sides() {
        let plan = plan_resize(200, 100, &resize(Some(256), Some(256), Fit::Cover));
        assert_eq!(plan.scaled, (200, 100));
        assert_eq!(plan.output(), (200, 100));
    }

    #[test]
    fn quarter_turns_swap_the_sides() {
        let turn = |degrees| output_size(&Step::Rotate(Rotate { degrees }), (30, 20));
        assert_eq!(turn(90), (20, 30));
        assert_eq!(turn(180), (30, 20));
        assert_eq!(turn(270), (20, 30));
    }
}
