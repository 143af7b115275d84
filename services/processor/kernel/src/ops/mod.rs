//! One module per step, each a pure function from pixels to pixels, in the spirit of
//! imgproxy's `processing/`. The sizes they produce are the ones `shared::steps` computes
//! (the planner hands them over), so the processor never disagrees with ingest's check.

mod blur;
mod crop;
mod flip;
mod grayscale;
mod hide_faces;
mod resize;
mod rotate;
mod sharpen;

pub use blur::blur;
pub use crop::crop;
pub use flip::flip;
pub use grayscale::grayscale;
pub use hide_faces::{hide_faces, padded_area};
pub use resize::resize;
pub use rotate::rotate;
pub use sharpen::sharpen;

use image::metadata::Orientation;
use imagepipe_shared::steps::Axis;

use super::Pixels;

/// Turn an image upright by its EXIF orientation, as `image`'s `apply_orientation` does
/// (a quarter turn clockwise for `Rotate90`, then the mirror for the `…FlipH` ones).
pub fn orient(pixels: Pixels, orientation: Orientation) -> Pixels {
    match orientation {
        Orientation::NoTransforms => pixels,
        Orientation::Rotate90 => rotate(&pixels, 90),
        Orientation::Rotate180 => rotate(&pixels, 180),
        Orientation::Rotate270 => rotate(&pixels, 270),
        Orientation::FlipHorizontal => flip(pixels, Axis::Horizontal),
        Orientation::FlipVertical => flip(pixels, Axis::Vertical),
        Orientation::Rotate90FlipH => flip(rotate(&pixels, 90), Axis::Horizontal),
        Orientation::Rotate270FlipH => flip(rotate(&pixels, 270), Axis::Horizontal),
    }
}

#[cfg(test)]
pub(super) mod test_support {
    use crate::{Layout, Pixels};

    /// A `width × height` image of `layout` whose every byte tells where it came from.
    pub(crate) fn numbered(width: u32, height: u32, layout: Layout) -> Pixels {
        let channels = layout.channels();
        let data = (0..width as usize * height as usize * channels)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        Pixels::new(width, height, layout, data).expect("right length")
    }

    /// The pixel at (`x`, `y`).
    pub(crate) fn at(pixels: &Pixels, x: u32, y: u32) -> &[u8] {
        let c = pixels.layout.channels();
        let start = (y as usize * pixels.width as usize + x as usize) * c;
        &pixels.data[start..start + c]
    }
}

#[cfg(test)]
mod tests {
    use super::{test_support::numbered, *};
    use crate::Layout;

    #[test]
    fn orientation_matches_the_image_crates() {
        let pixels = numbered(7, 4, Layout::Rgb);
        for orientation in [
            Orientation::NoTransforms,
            Orientation::Rotate90,
            Orientation::Rotate180,
            Orientation::Rotate270,
            Orientation::FlipHorizontal,
            Orientation::FlipVertical,
            Orientation::Rotate90FlipH,
            Orientation::Rotate270FlipH,
        ] {
            let mut reference = pixels.clone().into_dynamic();
            reference.apply_orientation(orientation);
            let ours = orient(pixels.clone(), orientation);
            assert_eq!(ours, Pixels::from_dynamic(reference), "{orientation:?}");
        }
    }
}
