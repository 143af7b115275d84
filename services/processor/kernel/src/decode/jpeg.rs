//! A JPEG's grey pixels straight from its luma plane, by `zune-jpeg`, turned upright by its
//! EXIF orientation.

use image::{DynamicImage, GrayImage, metadata::Orientation};
use imagepipe_shared::image_rules::{DecodeLimits, Rejection};
use zune_jpeg::{
    JpegDecoder,
    zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions},
};

use crate::KernelError;

/// A YCbCr or grayscale JPEG's luma, straight from its Y plane, turned upright; `None` for
/// the rare JPEGs whose components are not luma first (CMYK, YCCK, RGB), which take the
/// general path.
///
/// The Y plane *is* BT.601 luma: a JFIF encoder computed it from the RGB pixels with the same
/// weights. Decoding only it skips the chroma planes' inverse DCT, their upsampling and the
/// colour conversion, two thirds of a 4:4:4 decode's work (the entropy-coded chroma data must
/// still be read, it is interleaved with the luma). It is what libjpeg (and so OpenCV's
/// `IMREAD_GRAYSCALE`) does too.
pub(super) fn jpeg_luma(
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<Option<GrayImage>, KernelError> {
    let undecodable = |e: zune_jpeg::errors::DecodeErrors| Rejection::Undecodable(e.to_string());
    let side = usize::try_from(limits.max_side).unwrap_or(usize::MAX);
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        // Any size a JPEG can say: the limits are checked below, to refuse as too large
        // rather than as undecodable.
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        // Lenient like `image`'s decoder, so the same files decode; truncation is refused
        // before, by `jpeg_is_complete`.
        .set_strict_mode(false);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(undecodable)?;
    if !matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::Luma)
    ) {
        return Ok(None);
    }
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| Rejection::Undecodable("JPEG without dimensions".into()))?;
    let too_large = || Rejection::TooLarge {
        width: u32::try_from(width).unwrap_or(u32::MAX),
        height: u32::try_from(height).unwrap_or(u32::MAX),
        max_pixels: limits.max_pixels,
        max_side: limits.max_side,
    };
    // `inspect` read the same header; checked again here, on what this decoder will allocate
    // (one byte a pixel), before it allocates.
    let pixels = (width as u64).saturating_mul(height as u64);
    if pixels > limits.max_pixels || width > side || height > side {
        return Err(too_large().into());
    }
    let orientation = decoder
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(exif))
        .unwrap_or(Orientation::NoTransforms);
    let (w, h) = (
        u32::try_from(width).map_err(|_| too_large())?,
        u32::try_from(height).map_err(|_| too_large())?,
    );
    let grey = decoder.decode().map_err(undecodable)?;
    let grey = GrayImage::from_raw(w, h, grey).ok_or_else(|| {
        Rejection::Undecodable("JPEG decoded to fewer pixels than its size".into())
    })?;
    Ok(Some(orient(grey, orientation)))
}

/// Turn a grey plane upright. The identity (nearly every photograph) costs nothing.
fn orient(grey: GrayImage, orientation: Orientation) -> GrayImage {
    if orientation == Orientation::NoTransforms {
        return grey;
    }
    let mut image = DynamicImage::ImageLuma8(grey);
    image.apply_orientation(orientation);
    image.into_luma8()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Luma, decode_luma, grayscale,
        luma::to_bt601_luma,
        test_images::{card, jpeg_of, mean_abs_diff, with_exif_orientation},
    };

    #[test]
    fn jpeg_luma_plane_is_bt601_of_the_decoded_colours() {
        let jpeg = jpeg_of(&card());
        let Luma::Opaque(fast) = decode_luma(&jpeg, DecodeLimits::default()).unwrap().luma else {
            panic!("a JPEG has no alpha");
        };
        // The general path: decode to RGB, then BT.601.
        let rgb = image::load_from_memory(&jpeg).unwrap();
        let Luma::Opaque(slow) = to_bt601_luma(rgb) else {
            panic!("RGB has no alpha");
        };
        let diff = mean_abs_diff(&fast, &slow);
        assert!(diff < 1.0, "Y plane vs BT.601 of RGB: {diff}");
    }

    #[test]
    fn exif_orientation_is_applied_to_the_luma_plane() {
        let upright = card();
        let plain = jpeg_of(&upright);
        let Luma::Opaque(reference) = decode_luma(&plain, DecodeLimits::default()).unwrap().luma
        else {
            panic!("a JPEG has no alpha");
        };
        // 6: stored rotated a quarter turn anticlockwise; shown upright by turning it clockwise.
        for (orientation, expected) in [
            (1, reference.clone()),
            (3, image::imageops::rotate180(&reference)),
            (6, image::imageops::rotate90(&reference)),
            (8, image::imageops::rotate270(&reference)),
            (2, image::imageops::flip_horizontal(&reference)),
        ] {
            let jpeg = with_exif_orientation(&plain, orientation);
            let out = grayscale(&jpeg, DecodeLimits::default()).unwrap();
            assert_eq!(
                (out.width, out.height),
                expected.dimensions(),
                "orientation {orientation}"
            );
            let Luma::Opaque(got) = decode_luma(&jpeg, DecodeLimits::default()).unwrap().luma
            else {
                panic!("a JPEG has no alpha");
            };
            assert_eq!(got, expected, "orientation {orientation}");
        }
    }

    #[test]
    fn a_jpeg_over_the_limits_is_refused_before_decoding() {
        let jpeg = jpeg_of(&card());
        for limits in [
            DecodeLimits {
                max_pixels: 96 * 64 - 1,
                max_side: 1000,
            },
            DecodeLimits {
                max_pixels: 1_000_000,
                max_side: 95,
            },
        ] {
            match grayscale(&jpeg, limits) {
                Err(KernelError::Rejected(Rejection::TooLarge { width: 96, .. })) => {}
                other => panic!("{limits:?}: expected too large, got {other:?}"),
            }
            // The luma path checks on its own too, whatever was checked before it.
            match jpeg_luma(&jpeg, limits) {
                Err(KernelError::Rejected(Rejection::TooLarge { .. })) => {}
                other => panic!("{limits:?}: expected too large, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_corrupt_jpeg_scan_is_undecodable_not_a_crash() {
        let mut jpeg = jpeg_of(&card());
        // Garbage over the middle of the entropy-coded data, the end marker left in place.
        let n = jpeg.len();
        for b in &mut jpeg[n / 2..n - 2] {
            *b = 0xFF;
        }
        match grayscale(&jpeg, DecodeLimits::default()) {
            Ok(out) => assert_eq!((out.width, out.height), (96, 64)), // lenient, like libjpeg
            Err(KernelError::Rejected(Rejection::Undecodable(_))) => {}
            Err(other) => panic!("expected undecodable, got {other:?}"),
        }
    }

    #[test]
    fn a_cmyk_jpeg_takes_the_general_path() {
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_subsamp(turbojpeg::Subsamp::None).unwrap();
        let cmyk = vec![40u8; 32 * 16 * 4];
        let jpeg = compressor
            .compress_to_vec(turbojpeg::Image {
                pixels: cmyk.as_slice(),
                width: 32,
                pitch: 32 * 4,
                height: 16,
                format: turbojpeg::PixelFormat::CMYK,
            })
            .unwrap();
        assert!(jpeg_luma(&jpeg, DecodeLimits::default()).unwrap().is_none());
        let out = grayscale(&jpeg, DecodeLimits::default()).unwrap();
        assert_eq!((out.extension, out.width, out.height), ("jpg", 32, 16));
    }
}
