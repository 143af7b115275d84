//! `rotate`: quarter turns clockwise, exactly.

use crate::Pixels;

/// Tiles keep both the rows read and the rows written in cache: a plain loop over the output
/// reads the input down its columns, a cache miss per pixel on a large photograph.
const TILE: usize = 64;

/// `pixels` turned clockwise by `degrees` (90, 180 or 270; anything else leaves it as it is).
pub fn rotate(pixels: &Pixels, degrees: u32) -> Pixels {
    match pixels.layout.channels() {
        1 => rotate_n::<1>(pixels, degrees),
        2 => rotate_n::<2>(pixels, degrees),
        3 => rotate_n::<3>(pixels, degrees),
        _ => rotate_n::<4>(pixels, degrees),
    }
}

fn rotate_n<const C: usize>(pixels: &Pixels, degrees: u32) -> Pixels {
    let (w, h) = (pixels.width as usize, pixels.height as usize);
    let src = &pixels.data;
    let (out_w, out_h) = match degrees {
        90 | 270 => (h, w),
        _ => (w, h),
    };
    // Where the output pixel (x, y) comes from.
    let source = |x: usize, y: usize| -> usize {
        match degrees {
            90 => (h - 1 - x) * w + y,
            180 => (h - 1 - y) * w + (w - 1 - x),
            270 => x * w + (w - 1 - y),
            _ => y * w + x,
        }
    };
    let mut data = vec![0u8; out_w * out_h * C];
    for tile_y in (0..out_h).step_by(TILE) {
        for tile_x in (0..out_w).step_by(TILE) {
            for y in tile_y..(tile_y + TILE).min(out_h) {
                let row = &mut data[y * out_w * C..(y + 1) * out_w * C];
                for x in tile_x..(tile_x + TILE).min(out_w) {
                    let from = source(x, y) * C;
                    row[x * C..x * C + C].copy_from_slice(&src[from..from + C]);
                }
            }
        }
    }
    Pixels {
        width: out_w as u32,
        height: out_h as u32,
        layout: pixels.layout,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Layout,
        ops::test_support::{at, numbered},
    };

    #[test]
    fn quarter_turns_by_index() {
        for layout in [Layout::L, Layout::La, Layout::Rgb, Layout::Rgba] {
            // Larger than a tile, and sides that are not multiples of it.
            let (w, h) = (131, 70);
            let pixels = numbered(w, h, layout);
            let quarter = rotate(&pixels, 90);
            let half = rotate(&pixels, 180);
            let three = rotate(&pixels, 270);
            assert_eq!(quarter.dimensions(), (h, w));
            assert_eq!(half.dimensions(), (w, h));
            assert_eq!(three.dimensions(), (h, w));
            for y in 0..h {
                for x in 0..w {
                    let px = at(&pixels, x, y);
                    // Clockwise: the left column becomes the top row.
                    assert_eq!(at(&quarter, h - 1 - y, x), px, "{layout:?}");
                    assert_eq!(at(&half, w - 1 - x, h - 1 - y), px, "{layout:?}");
                    assert_eq!(at(&three, y, w - 1 - x), px, "{layout:?}");
                }
            }
        }
    }
}
