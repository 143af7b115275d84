//! `flip`: mirror left–right or top–bottom, exactly, in place.

use imagepipe_shared::steps::Axis;

use crate::Pixels;

pub fn flip(mut pixels: Pixels, axis: Axis) -> Pixels {
    let channels = pixels.layout.channels();
    let stride = pixels.stride();
    if stride == 0 {
        return pixels;
    }
    match axis {
        Axis::Horizontal => {
            for row in pixels.data.chunks_exact_mut(stride) {
                // Reversing the bytes reverses the pixels and each pixel's channels; reversing
                // each pixel back restores the channel order.
                row.reverse();
                if channels > 1 {
                    for pixel in row.chunks_exact_mut(channels) {
                        pixel.reverse();
                    }
                }
            }
        }
        Axis::Vertical => {
            let height = pixels.height as usize;
            let (top, bottom) = pixels.data.split_at_mut(stride * (height / 2));
            // The middle row of an odd height stays where it is.
            let bottom_start = bottom.len() - stride * (height / 2);
            let bottom = &mut bottom[bottom_start..];
            for (upper, lower) in top
                .chunks_exact_mut(stride)
                .zip(bottom.chunks_exact_mut(stride).rev())
            {
                upper.swap_with_slice(lower);
            }
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Layout,
        ops::test_support::{at, numbered},
    };

    #[test]
    fn mirrors_by_index() {
        for layout in [Layout::L, Layout::La, Layout::Rgb, Layout::Rgba] {
            for (w, h) in [(7, 5), (6, 4), (1, 1)] {
                let pixels = numbered(w, h, layout);
                let horizontal = flip(pixels.clone(), Axis::Horizontal);
                let vertical = flip(pixels.clone(), Axis::Vertical);
                for y in 0..h {
                    for x in 0..w {
                        assert_eq!(at(&horizontal, x, y), at(&pixels, w - 1 - x, y));
                        assert_eq!(at(&vertical, x, y), at(&pixels, x, h - 1 - y));
                    }
                }
            }
        }
    }
}
