//! Bytes to upright pixels, under the size limits. Grey: a JPEG through its luma plane
//! ([`jpeg`], `zune-jpeg`), everything else (and the rare JPEG that is not YCbCr) through
//! `image`. Colour: through `image` (whose JPEG decoder is `zune-jpeg` too). A JPEG the chain
//! starts by shrinking: libjpeg-turbo's DCT-scaled decode ([`scaled`]), the one place
//! untrusted bytes reach C (the reasons are in that module).

mod jpeg;
mod scaled;
mod truncation;

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use imagepipe_shared::image_rules::{DecodeLimits, Header, Rejection, inspect};

pub use scaled::{ShrinkTarget, covered_box, jpeg_scaled, shrink_factor};
pub(super) use truncation::jpeg_is_complete;

use super::{
    KernelError, Pixels,
    luma::{Luma, to_bt601_luma},
    plan::Plan,
};

/// An original turned into upright grayscale pixels, before encoding.
pub struct Decoded {
    pub luma: Luma,
    /// The original's format, which decides the result's.
    pub format: ImageFormat,
}

/// Decode under `limits`, apply the EXIF orientation and convert to BT.601 luma.
pub fn decode_luma(bytes: &[u8], limits: DecodeLimits) -> Result<Decoded, KernelError> {
    let header = checked_header(bytes, limits)?;
    if header.format == ImageFormat::Jpeg
        && let Some(luma) = jpeg::jpeg_luma(bytes, limits)?
    {
        return Ok(Decoded {
            luma: Luma::Opaque(luma),
            format: header.format,
        });
    }
    Ok(Decoded {
        luma: to_bt601_luma(decode_upright(bytes, &header, limits)?),
        format: header.format,
    })
}

/// Decode as the plan says: only luma when the chain ends grey, already reduced when it
/// starts by shrinking a JPEG, in colour otherwise; always upright, always 8-bit.
pub(crate) fn decode_planned(
    bytes: &[u8],
    limits: DecodeLimits,
    plan: &Plan,
) -> Result<Pixels, KernelError> {
    if let Some(at_least) = plan.shrink_to {
        let target = ShrinkTarget {
            at_least,
            grey: plan.luma,
        };
        match jpeg_scaled(bytes, limits, target) {
            Ok(Some(pixels)) => return Ok(pixels),
            Ok(None) => {}
            // libjpeg-turbo fails on what it only warns about (extraneous bytes before a
            // marker, a corrupt segment), where `zune-jpeg`, like browsers, decodes what it
            // can: such a file takes the full-size path and gets its verdict there, the same
            // as without the resize. Sizes over the limits are refused here and now.
            Err(KernelError::Rejected(Rejection::Undecodable(_))) => {}
            Err(other) => return Err(other),
        }
    }
    if plan.luma {
        return Ok(decode_luma(bytes, limits)?.luma.into());
    }
    let header = checked_header(bytes, limits)?;
    Ok(Pixels::from_dynamic(decode_upright(
        bytes, &header, limits,
    )?))
}

/// The header, checked against the limits, of an original that is whole.
fn checked_header(bytes: &[u8], limits: DecodeLimits) -> Result<Header, KernelError> {
    // Defence in depth: ingest checked the header already, but the job could come from
    // anywhere that can publish.
    let header = inspect(bytes, limits)?;
    if header.format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // `image`'s JPEG decoder fills a truncated scan with grey instead of failing; a cut-off
        // upload must fail, not produce a half-grey result.
        return Err(Rejection::Undecodable(
            "the JPEG data ends before its end-of-image marker (truncated file)".into(),
        )
        .into());
    }
    Ok(header)
}

/// Any format `image` reads, under the limits, turned upright by its EXIF orientation.
fn decode_upright(
    bytes: &[u8],
    header: &Header,
    limits: DecodeLimits,
) -> Result<DynamicImage, KernelError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), header.format);
    reader.limits(limits.decoder_limits());
    let undecodable = |e: image::ImageError| Rejection::Undecodable(e.to_string());
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // `from_decoder` does not check the allocation limit itself: refuse here what would not fit.
    if decoder.total_bytes() > limits.max_pixels.saturating_mul(8) {
        let (width, height) = decoder.dimensions();
        return Err(Rejection::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        }
        .into());
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{grayscale, test_images::testdata};

    #[test]
    fn hostile_files_are_refused_with_the_right_reason() {
        let read = |name: &str| std::fs::read(testdata("bad").join(name)).unwrap();
        let code = |name: &str| match grayscale(&read(name), DecodeLimits::default()) {
            Err(KernelError::Rejected(rejection)) => rejection.code().as_str(),
            other => panic!("{name}: expected a rejection, got {other:?}"),
        };
        assert_eq!(code("empty.png"), "empty_file");
        assert_eq!(code("not-an-image.jpg"), "unsupported_media_type");
        assert_eq!(code("truncated.jpg"), "undecodable_image");
        assert_eq!(code("bomb-30000x30000.png"), "image_too_large");
    }
}
