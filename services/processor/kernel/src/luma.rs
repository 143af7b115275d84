//! Colour to grey: BT.601 luma, with the alpha channel kept when there is one.

use image::{DynamicImage, GrayAlphaImage, GrayImage};

/// Grayscale pixels, with the alpha channel kept when the original has one.
pub enum Luma {
    Opaque(GrayImage),
    WithAlpha(GrayAlphaImage),
}

impl Luma {
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Luma::Opaque(gray) => gray.dimensions(),
            Luma::WithAlpha(gray) => gray.dimensions(),
        }
    }

    /// The grey plane alone, one byte a pixel, row by row (alpha dropped).
    pub fn grey_plane(&self) -> Vec<u8> {
        match self {
            Luma::Opaque(gray) => gray.as_raw().clone(),
            Luma::WithAlpha(gray) => gray.as_raw().iter().step_by(2).copied().collect(),
        }
    }
}

/// BT.601 luma, bit-exact with OpenCV's `COLOR_RGB2GRAY`: the same 14-bit fixed-point
/// coefficients and rounding. (`image`'s own `to_luma8` uses BT.709 weights, which give a
/// visibly different grey for saturated colours.)
pub(super) fn to_bt601_luma(image: DynamicImage) -> Luma {
    match image {
        DynamicImage::ImageLuma8(gray) => Luma::Opaque(gray),
        DynamicImage::ImageLumaA8(gray) => Luma::WithAlpha(gray),
        other if other.color().has_alpha() => {
            let rgba = other.to_rgba8();
            let (w, h) = rgba.dimensions();
            let mut out = Vec::with_capacity(rgba.as_raw().len() / 2);
            for px in rgba.as_raw().chunks_exact(4) {
                out.push(bt601(px[0], px[1], px[2]));
                out.push(px[3]);
            }
            Luma::WithAlpha(GrayAlphaImage::from_vec(w, h, out).unwrap_or_default())
        }
        other => {
            let rgb = other.to_rgb8();
            let (w, h) = rgb.dimensions();
            let out = rgb
                .as_raw()
                .chunks_exact(3)
                .map(|px| bt601(px[0], px[1], px[2]))
                .collect();
            Luma::Opaque(GrayImage::from_vec(w, h, out).unwrap_or_default())
        }
    }
}

/// One pixel of BT.601 luma: 0.299 R + 0.587 G + 0.114 B in OpenCV's fixed point.
#[inline]
pub(super) fn bt601(r: u8, g: u8, b: u8) -> u8 {
    const R: u32 = 4899;
    const G: u32 = 9617;
    const B: u32 = 1868;
    // The weights sum to 2^14, so the result is at most 255 and the cast cannot truncate.
    ((u32::from(r) * R + u32::from(g) * G + u32::from(b) * B + (1 << 13)) >> 14) as u8
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::ImageFormat;
    use imagepipe_shared::image_rules::DecodeLimits;

    use super::*;
    use crate::grayscale;

    #[test]
    fn bt601_matches_the_reference_weights() {
        for (r, g, b) in [
            (255, 0, 0),
            (0, 255, 0),
            (0, 0, 255),
            (12, 200, 99),
            (255, 255, 255),
        ] {
            let reference = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
            let got = f64::from(bt601(r, g, b));
            assert!(
                (got - reference).abs() <= 0.5 + 1e-9,
                "{r},{g},{b}: {got} vs {reference}"
            );
        }
        assert_eq!(bt601(255, 255, 255), 255);
        assert_eq!(bt601(0, 0, 0), 0);
    }

    #[test]
    fn alpha_is_kept_as_grey_and_alpha() {
        let img =
            image::RgbaImage::from_fn(5, 4, |x, y| image::Rgba([200, 10, 30, (x * y * 10) as u8]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img.clone())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let out = grayscale(&png, DecodeLimits::default()).unwrap();
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        let gray = decoded.as_luma_alpha8().expect("8-bit grey + alpha");
        for (x, y, px) in img.enumerate_pixels() {
            assert_eq!(gray.get_pixel(x, y).0, [bt601(200, 10, 30), px[3]]);
        }
    }
}
