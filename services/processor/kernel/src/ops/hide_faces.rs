//! `blur_faces`' pixel work: each face's box, grown by the padding and cut at the image's
//! edges, blurred or pixelated in place; every pixel outside the boxes is left as it was.

use imagepipe_shared::{
    analysis::Face,
    steps::{FaceHiding, Rect, bounds::MAX_BLUR_SIGMA},
};

use super::{blur, crop};
use crate::{KernelError, Pixels};

/// The blur's sigma is this fraction of the box's longer side: features the size of an eye
/// are gone. Capped at `blur`'s own largest sigma, whose kernel (300 px wide) already
/// dissolves a face of any size past recognition while keeping the cost bounded.
const BLUR_SIGMA_PER_SIDE: f32 = 1.0 / 8.0;
/// Pixelation blocks per box side, along the longer side.
const BLOCKS_PER_SIDE: f32 = 8.0;

/// `pixels` with every face in `faces` hidden.
pub fn hide_faces(
    mut pixels: Pixels,
    faces: &[Face],
    hiding: FaceHiding,
    padding: f32,
) -> Result<Pixels, KernelError> {
    for face in faces {
        let Some(area) = padded_area(face, padding, pixels.dimensions()) else {
            continue;
        };
        let side = area.width.max(area.height) as f32;
        let hidden = match hiding {
            FaceHiding::Blur => blur(
                &crop(&pixels, area),
                (side * BLUR_SIGMA_PER_SIDE).clamp(1.0, MAX_BLUR_SIGMA),
            )?,
            FaceHiding::Pixelate => pixelate(
                crop(&pixels, area),
                (side / BLOCKS_PER_SIDE).ceil().max(1.0) as u32,
            ),
        };
        paste(&mut pixels, &hidden, area.x, area.y);
    }
    Ok(pixels)
}

/// The face's box grown by `padding` × its side on each side, in whole pixels covering it,
/// cut at the image's edges; `None` when nothing of it is inside the image.
pub fn padded_area(face: &Face, padding: f32, (width, height): (u32, u32)) -> Option<Rect> {
    let b = face.bounds;
    let padding = f64::from(padding);
    let (pad_x, pad_y) = (b.width * padding, b.height * padding);
    let clamp = |v: f64, max: u32| v.clamp(0.0, f64::from(max)) as u32;
    let left = clamp((b.x - pad_x).floor(), width);
    let top = clamp((b.y - pad_y).floor(), height);
    let right = clamp((b.x + b.width + pad_x).ceil(), width);
    let bottom = clamp((b.y + b.height + pad_y).ceil(), height);
    (right > left && bottom > top).then_some(Rect {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    })
}

/// Every `block` × `block` square (cut at the edges) filled with its mean colour.
fn pixelate(mut pixels: Pixels, block: u32) -> Pixels {
    let channels = pixels.layout.channels();
    let stride = pixels.stride();
    for top in (0..pixels.height).step_by(block as usize) {
        for left in (0..pixels.width).step_by(block as usize) {
            let rows = top as usize..(top + block).min(pixels.height) as usize;
            let columns =
                left as usize * channels..(left + block).min(pixels.width) as usize * channels;
            let mut sums = [0_u64; 4];
            for row in rows.clone() {
                for (i, &value) in pixels.data[row * stride..][columns.clone()]
                    .iter()
                    .enumerate()
                {
                    sums[i % channels] += u64::from(value);
                }
            }
            let count = (rows.len() * columns.len() / channels) as u64;
            let mean: Vec<u8> = sums[..channels]
                .iter()
                .map(|&sum| ((sum + count / 2) / count) as u8)
                .collect();
            for row in rows {
                for pixel in pixels.data[row * stride..][columns.clone()].chunks_exact_mut(channels)
                {
                    pixel.copy_from_slice(&mean);
                }
            }
        }
    }
    pixels
}

/// `patch` written over `pixels` with its top-left corner at (`x`, `y`); it lies inside.
fn paste(pixels: &mut Pixels, patch: &Pixels, x: u32, y: u32) {
    let channels = pixels.layout.channels();
    let stride = pixels.stride();
    let row_bytes = patch.width as usize * channels;
    for (i, row) in patch.data.chunks_exact(row_bytes).enumerate() {
        let start = (y as usize + i) * stride + x as usize * channels;
        pixels.data[start..start + row_bytes].copy_from_slice(row);
    }
}

#[cfg(test)]
mod tests {
    use imagepipe_shared::analysis::FaceBox;

    use super::*;
    use crate::{Layout, ops::test_support::numbered};

    fn face(x: f64, y: f64, width: f64, height: f64) -> Face {
        Face {
            bounds: FaceBox {
                x,
                y,
                width,
                height,
            },
            score: 0.9,
            keypoints: Vec::new(),
        }
    }

    #[test]
    fn the_padded_box_covers_the_face_and_stops_at_the_edges() {
        let area = padded_area(&face(10.5, 20.0, 20.0, 10.0), 0.25, (100, 100)).unwrap();
        assert_eq!((area.x, area.y, area.width, area.height), (5, 17, 31, 16));
        let cut = padded_area(&face(-10.0, 90.0, 30.0, 30.0), 0.0, (100, 100)).unwrap();
        assert_eq!((cut.x, cut.y, cut.width, cut.height), (0, 90, 20, 10));
        assert_eq!(
            padded_area(&face(200.0, 0.0, 10.0, 10.0), 0.0, (100, 100)),
            None
        );
    }

    #[test]
    fn only_the_faces_change() {
        let original = numbered(60, 40, Layout::Rgb);
        for hiding in [FaceHiding::Blur, FaceHiding::Pixelate] {
            let hidden = hide_faces(
                original.clone(),
                &[face(10.0, 10.0, 16.0, 16.0)],
                hiding,
                0.0,
            )
            .unwrap();
            let mut changed_inside = 0;
            for y in 0..40 {
                for x in 0..60 {
                    let at = (y * 60 + x) * 3;
                    let same = hidden.data[at..at + 3] == original.data[at..at + 3];
                    let inside = (10..26).contains(&x) && (10..26).contains(&y);
                    if inside {
                        changed_inside += usize::from(!same);
                    } else {
                        assert!(same, "{hiding:?}: ({x}, {y}) outside the face changed");
                    }
                }
            }
            assert!(
                changed_inside > 200,
                "{hiding:?}: {changed_inside} of 256 changed"
            );
        }
    }

    #[test]
    fn pixelated_blocks_hold_their_mean() {
        let pixels = Pixels::new(4, 2, Layout::L, vec![0, 10, 100, 100, 20, 30, 100, 101]).unwrap();
        let blocks = pixelate(pixels, 2);
        assert_eq!(blocks.data, vec![15, 15, 100, 100, 15, 15, 100, 100]);
    }
}
