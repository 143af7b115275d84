//! The check that a JPEG is whole, which `image`'s decoder does not make.

/// Whether a JPEG's entropy-coded data is followed by its end-of-image marker.
///
/// Walks the marker segments up to the first start-of-scan, then looks for EOI (`FF D9`)
/// after it. Inside scan data a `0xFF` byte is always followed by `0x00` (stuffing) or a
/// restart marker, so `FF D9` there can only be the real end; walking the segments first
/// skips an EXIF thumbnail's own EOI in the header.
pub(crate) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    let mut pos = 2; // after SOI
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return false;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if marker == SOS {
            let scan = &bytes[(pos + 2 + length).min(bytes.len())..];
            // From the end: the marker is (nearly) always the last two bytes, so a complete
            // file is answered at once instead of after a pass over megabytes of scan data.
            return scan.windows(2).rev().any(|w| w == [0xFF, EOI]);
        }
        pos += 2 + length;
    }
    false
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
    use imagepipe_shared::image_rules::{DecodeLimits, Rejection};

    use super::*;
    use crate::{KernelError, grayscale};

    #[test]
    fn a_truncated_jpeg_is_undecodable() {
        let img = RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 7]));
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert!(jpeg_is_complete(&jpeg));
        jpeg.truncate(jpeg.len() / 3);
        assert!(!jpeg_is_complete(&jpeg));
        match grayscale(&jpeg, DecodeLimits::default()) {
            Err(KernelError::Rejected(Rejection::Undecodable(_))) => {}
            other => panic!("expected undecodable, got {other:?}"),
        }
    }
}
