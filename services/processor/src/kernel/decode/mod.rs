//! Bytes to upright grey pixels, under the size limits: JPEG through its luma plane
//! ([`jpeg`]), everything else (and the rare JPEG that is not YCbCr) through `image`.

mod jpeg;
mod truncation;

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use imagepipe_shared::image_rules::{DecodeLimits, Rejection, inspect};

pub(super) use truncation::jpeg_is_complete;

use super::{
    KernelError,
    luma::{Luma, to_bt601_luma},
};

/// An original turned into upright grayscale pixels, before encoding.
pub struct Decoded {
    pub luma: Luma,
    /// The original's format, which decides the result's.
    pub format: ImageFormat,
}

/// Decode under `limits`, apply the EXIF orientation and convert to BT.601 luma.
pub fn decode_luma(bytes: &[u8], limits: DecodeLimits) -> Result<Decoded, KernelError> {
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

    if header.format == ImageFormat::Jpeg
        && let Some(luma) = jpeg::jpeg_luma(bytes, limits)?
    {
        return Ok(Decoded {
            luma: Luma::Opaque(luma),
            format: header.format,
        });
    }

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
    Ok(Decoded {
        luma: to_bt601_luma(image),
        format: header.format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{grayscale, test_images::testdata};

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
