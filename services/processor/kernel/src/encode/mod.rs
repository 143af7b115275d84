//! Pixels to the bytes stored as the result, one module per format: [`jpeg`] and [`webp`]
//! through C libraries that only ever read our own pixel buffers, [`png`] and [`avif`] in
//! Rust.
//!
//! Without an `encode` step the format follows the original's, as it always has: JPEG stays
//! JPEG (at [`Settings::jpeg_quality`]), everything else becomes PNG (WebP, GIF, BMP, TIFF):
//! lossless, keeps alpha, and every browser shows it. (`image` encodes WebP only losslessly,
//! where PNG is as good for grey and better supported, GIF only as a 256-colour palette and
//! animated GIFs lose their frames after the first either way; BMP and TIFF are not for the
//! web.)

mod avif;
mod jpeg;
mod png;
mod webp;

use image::ImageFormat;
use imagepipe_shared::steps::{Encode, OutputFormat};

use super::{KernelError, Layout, Luma, PixelsRef, Processed, Settings};

/// Encode grayscale pixels in the result format `input` calls for (the default chain's
/// encode; [`encode_result`] with no `encode` step, for grey pixels).
pub fn encode(
    luma: &Luma,
    input: ImageFormat,
    settings: Settings,
) -> Result<Processed, KernelError> {
    encode_result(PixelsRef::from(luma), input, None, settings)
}

/// Encode `pixels` as the chain's `encode` says, or by the original's format without one.
pub fn encode_result(
    pixels: PixelsRef<'_>,
    input: ImageFormat,
    chosen: Option<&Encode>,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let format = match chosen {
        Some(encode) => encode.format,
        // A JPEG original has no alpha, and no step adds one.
        None if input == ImageFormat::Jpeg && !pixels.layout.has_alpha() => OutputFormat::Jpeg,
        None => OutputFormat::Png,
    };
    let quality = chosen
        .and_then(|encode| encode.quality)
        .or_else(|| chosen.and_then(|encode| encode.format.default_quality()));
    let bytes = match format {
        OutputFormat::Jpeg => jpeg::encode_jpeg(pixels, quality.unwrap_or(settings.jpeg_quality))?,
        OutputFormat::Png => png::encode_png(pixels)?,
        OutputFormat::Webp => webp::encode_webp(
            pixels,
            quality,
            chosen.and_then(|encode| encode.lossless) == Some(true),
        )?,
        OutputFormat::Avif => avif::encode_avif(
            pixels,
            quality
                .or(OutputFormat::Avif.default_quality())
                .unwrap_or(70),
        )?,
    };
    Ok(Processed {
        bytes,
        extension: format.extension(),
        content_type: format.content_type(),
        width: pixels.width,
        height: pixels.height,
        analysis: Vec::new(),
        remote: Vec::new(),
    })
}

/// Grey (or grey and alpha) widened to RGB (or RGBA), for the formats without a grey layout.
fn widen_to_colour(pixels: PixelsRef<'_>) -> Vec<u8> {
    match pixels.layout {
        Layout::L => pixels.data.iter().flat_map(|&g| [g, g, g]).collect(),
        Layout::La => pixels
            .data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        Layout::Rgb | Layout::Rgba => pixels.data.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, Rgb, RgbImage};
    use imagepipe_shared::image_rules::DecodeLimits;

    use crate::{
        decode::jpeg_is_complete,
        grayscale,
        luma::bt601,
        test_images::{card, jpeg_of, with_exif_orientation},
    };

    use super::*;

    #[test]
    fn png_in_png_out_grayscale_same_size() {
        let img = RgbImage::from_fn(7, 5, |x, y| Rgb([x as u8 * 30, y as u8 * 40, 90]));
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let out = grayscale(&png, DecodeLimits::default()).unwrap();
        assert_eq!((out.extension, out.width, out.height), ("png", 7, 5));
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        let gray = decoded.as_luma8().expect("an 8-bit grayscale PNG");
        for (x, y, px) in img.enumerate_pixels() {
            assert_eq!(gray.get_pixel(x, y)[0], bt601(px[0], px[1], px[2]));
        }
    }

    #[test]
    fn jpeg_stays_a_grayscale_jpeg_without_the_originals_metadata() {
        let jpeg = with_exif_orientation(&jpeg_of(&card()), 1);
        assert!(jpeg.windows(6).any(|w| w == b"Exif\0\0"));
        let out = grayscale(&jpeg, DecodeLimits::default()).unwrap();
        assert_eq!((out.extension, out.content_type), ("jpg", "image/jpeg"));
        assert_eq!(image::guess_format(&out.bytes).unwrap(), ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        assert_eq!(decoded.color(), image::ColorType::L8);
        assert_eq!((decoded.width(), decoded.height()), (96, 64));
        assert!(
            !out.bytes.windows(4).any(|w| w == b"Exif"),
            "EXIF must not be copied"
        );
        assert!(jpeg_is_complete(&out.bytes));
    }

    #[test]
    fn other_formats_become_png() {
        let img = DynamicImage::ImageRgb8(card());
        for format in [ImageFormat::Bmp, ImageFormat::Tiff, ImageFormat::Gif] {
            let mut bytes = Vec::new();
            img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
            let out = grayscale(&bytes, DecodeLimits::default()).unwrap();
            assert_eq!(
                (out.extension, out.content_type, out.width, out.height),
                ("png", "image/png", 96, 64),
                "{format:?}"
            );
            assert_eq!(image::guess_format(&out.bytes).unwrap(), ImageFormat::Png);
        }
    }
}
