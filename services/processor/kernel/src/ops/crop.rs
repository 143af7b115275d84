//! `crop`: cut out a rectangle, exactly.

use imagepipe_shared::steps::Rect;

use crate::Pixels;

/// The pixels of `rect`, which lies inside the image (the chain check makes sure; a rect
/// reaching past an edge is cut at it rather than read out of bounds).
pub fn crop(pixels: &Pixels, rect: Rect) -> Pixels {
    let x = rect.x.min(pixels.width);
    let y = rect.y.min(pixels.height);
    let width = rect.width.min(pixels.width - x);
    let height = rect.height.min(pixels.height - y);
    let channels = pixels.layout.channels();
    let stride = pixels.stride();
    let row_bytes = width as usize * channels;
    let mut data = Vec::with_capacity(row_bytes * height as usize);
    for row in pixels
        .data
        .chunks_exact(stride)
        .skip(y as usize)
        .take(height as usize)
    {
        let start = x as usize * channels;
        data.extend_from_slice(&row[start..start + row_bytes]);
    }
    Pixels {
        width,
        height,
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
    fn every_pixel_comes_from_its_offset() {
        for layout in [Layout::L, Layout::La, Layout::Rgb, Layout::Rgba] {
            let pixels = numbered(13, 9, layout);
            let rect = Rect {
                x: 3,
                y: 2,
                width: 6,
                height: 5,
            };
            let out = crop(&pixels, rect);
            assert_eq!(out.dimensions(), (6, 5));
            for y in 0..5 {
                for x in 0..6 {
                    assert_eq!(at(&out, x, y), at(&pixels, x + 3, y + 2), "{layout:?}");
                }
            }
        }
    }

    #[test]
    fn the_whole_image_is_itself() {
        let pixels = numbered(5, 4, Layout::Rgb);
        let rect = Rect {
            x: 0,
            y: 0,
            width: 5,
            height: 4,
        };
        assert_eq!(crop(&pixels, rect), pixels);
    }
}
