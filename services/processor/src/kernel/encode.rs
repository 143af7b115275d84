//! Grey pixels to the bytes stored as the result: JPEG by libjpeg-turbo, everything else PNG.

use image::{
    GrayImage, ImageFormat,
    codecs::png::{CompressionType, FilterType, PngEncoder},
};

use super::{KernelError, Luma, Processed, Settings};

/// Encode grayscale pixels in the result format `input` calls for.
///
/// JPEG stays JPEG (grayscale, [`Settings::jpeg_quality`]; JPEG has no alpha). PNG stays PNG,
/// and so does everything else become PNG (WebP, GIF, BMP, TIFF): lossless, keeps alpha as
/// grey + alpha, and every browser shows it. (`image` encodes WebP only losslessly, where PNG
/// is as good for grey and better supported, GIF only as a 256-colour palette and animated
/// GIFs lose their frames after the first either way; BMP and TIFF are not for the web.)
pub fn encode(
    luma: &Luma,
    input: ImageFormat,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let (width, height) = luma.dimensions();
    let mut bytes = Vec::new();
    let encode_err = |e: image::ImageError| KernelError::Encode(e.to_string());
    if let (ImageFormat::Jpeg, Luma::Opaque(gray)) = (input, luma) {
        return Ok(Processed {
            bytes: encode_jpeg(gray, settings.jpeg_quality)?,
            extension: "jpg",
            content_type: "image/jpeg",
            width,
            height,
        });
    }
    // `png`'s Fast level (the fdeflate compressor) with adaptive filtering. Measured on the
    // test images: the smallest files of all the combinations tried (Fast, Balanced, zlib
    // levels 1 and 3 × adaptive, none, sub, up, paeth), 30 times faster than Balanced, which is
    // even slightly larger. PNGs are dominated by their decode anyway.
    let encoder =
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Adaptive);
    match luma {
        Luma::Opaque(gray) => gray.write_with_encoder(encoder),
        Luma::WithAlpha(gray) => gray.write_with_encoder(encoder),
    }
    .map_err(encode_err)?;
    Ok(Processed {
        bytes,
        extension: "png",
        content_type: "image/png",
        width,
        height,
    })
}

/// A one-component (grayscale) baseline JPEG by libjpeg-turbo: no chroma to subsample or
/// code, standard Huffman tables (one pass over the pixels; optimised tables would need a
/// second for a few percent of size), the IJG quality scaling of the Annex K table, so
/// `quality` means what it means to libjpeg and OpenCV. Only a JFIF header: nothing of the
/// original's metadata.
fn encode_jpeg(gray: &GrayImage, quality: u8) -> Result<Vec<u8>, KernelError> {
    let encode_err = |e: turbojpeg::Error| KernelError::Encode(e.to_string());
    let (width, height) = gray.dimensions();
    let mut compressor = turbojpeg::Compressor::new().map_err(encode_err)?;
    compressor
        .set_quality(i32::from(quality))
        .map_err(encode_err)?;
    compressor
        .set_subsamp(turbojpeg::Subsamp::Gray)
        .map_err(encode_err)?;
    let image = turbojpeg::Image {
        pixels: gray.as_raw().as_slice(),
        width: width as usize,
        pitch: width as usize,
        height: height as usize,
        format: turbojpeg::PixelFormat::GRAY,
    };
    compressor.compress_to_vec(image).map_err(encode_err)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, Rgb, RgbImage};
    use imagepipe_shared::image_rules::DecodeLimits;

    use crate::kernel::{
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
