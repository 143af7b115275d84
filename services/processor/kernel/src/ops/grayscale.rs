//! `grayscale`: BT.601 luma, alpha kept.

use crate::{Layout, Pixels, luma::bt601};

/// Grey pixels of the same image; grey ones come back as they are. (A chain with a
/// `grayscale` step is usually decoded as luma already, which makes this a no-op.)
pub fn grayscale(pixels: Pixels) -> Pixels {
    let (layout, data) = match pixels.layout {
        Layout::L | Layout::La => return pixels,
        Layout::Rgb => (
            Layout::L,
            pixels
                .data
                .chunks_exact(3)
                .map(|px| bt601(px[0], px[1], px[2]))
                .collect(),
        ),
        Layout::Rgba => (
            Layout::La,
            pixels
                .data
                .chunks_exact(4)
                .flat_map(|px| [bt601(px[0], px[1], px[2]), px[3]])
                .collect(),
        ),
    };
    Pixels {
        layout,
        data,
        ..pixels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::{at, numbered};

    #[test]
    fn colour_becomes_luma_with_alpha_kept() {
        let rgba = numbered(5, 3, Layout::Rgba);
        let grey = grayscale(rgba.clone());
        assert_eq!(grey.layout, Layout::La);
        for y in 0..3 {
            for x in 0..5 {
                let px = at(&rgba, x, y);
                assert_eq!(at(&grey, x, y), [bt601(px[0], px[1], px[2]), px[3]]);
            }
        }
        let l = numbered(5, 3, Layout::L);
        assert_eq!(grayscale(l.clone()), l);
    }
}
