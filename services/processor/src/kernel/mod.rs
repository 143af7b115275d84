//! The pixel work: decode under limits, apply EXIF orientation, convert to BT.601 luma,
//! encode. Pure and synchronous; callers run it off the async runtime.
//!
//! One module per stage, called in this order by [`grayscale_with`]: [`decode`](decode_luma)
//! turns the original's bytes into upright pixels (converting them with [`luma`](Luma) on
//! the way), and [`encode`] writes the result. JPEG, the common case, has its own path
//! through both: `zune-jpeg` decodes only the luma plane (the untrusted bytes are parsed by
//! safe Rust; its `unsafe` is confined to SIMD kernels), and libjpeg-turbo (through the
//! `turbojpeg` crate) encodes the grayscale result, three times faster than the pure-Rust
//! encoders measured; it only ever reads a pixel buffer of ours. Other formats decode with
//! `image` and encode as PNG. Numbers and reasons: `docs/performance.md`.

mod decode;
mod encode;
mod luma;
#[cfg(test)]
mod test_images;

use imagepipe_shared::image_rules::{DecodeLimits, Rejection};

pub use decode::{Decoded, decode_luma};
pub use encode::encode;
pub use luma::Luma;

/// JPEG quality of results: 95, OpenCV's `imencode` default.
/// Measured on the test photographs (mean |result - float BT.601 luma|): the Hubble deep
/// field, all fine noise, is at 2.24 grey levels at quality 90, 1.83 at 92 and 0.88 at 95;
/// the other photographs stay under 0.7 at any of these. 95 keeps every photograph well inside
/// the 2-level tolerance for about a third more bytes than 90 and ~10% more encoding time.
pub const JPEG_QUALITY: u8 = 95;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("result cannot be encoded: {0}")]
    Encode(String),
}

/// A processed image, ready to store.
#[derive(Debug)]
pub struct Processed {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Encoder settings. The product uses [`Settings::default`]; the benchmark sets the JPEG
/// quality OpenCV is compared at.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub jpeg_quality: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            jpeg_quality: JPEG_QUALITY,
        }
    }
}

/// Decode, orient, convert to grayscale and encode one image.
pub fn grayscale(bytes: &[u8], limits: DecodeLimits) -> Result<Processed, KernelError> {
    grayscale_with(bytes, limits, Settings::default())
}

/// [`grayscale`] with chosen encoder settings.
pub fn grayscale_with(
    bytes: &[u8],
    limits: DecodeLimits,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let decoded = decode_luma(bytes, limits)?;
    encode(&decoded.luma, decoded.format, settings)
}

#[cfg(test)]
mod tests {
    use super::{test_images::testdata, *};

    #[test]
    fn every_good_image_becomes_grayscale_of_the_same_size() {
        let mut seen = 0;
        let good = testdata("good");
        let entries = std::fs::read_dir(&good)
            .unwrap_or_else(|e| panic!("{} (set IMAGEPIPE_SHARED_DIR?): {e}", good.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let out = grayscale(&bytes, DecodeLimits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let original = image::load_from_memory(&bytes).unwrap();
            let result = image::load_from_memory(&out.bytes).unwrap();
            assert!(
                matches!(result.color(), image::ColorType::L8 | image::ColorType::La8),
                "{}: {:?}",
                path.display(),
                result.color()
            );
            // No test image is rotated by EXIF, so sizes match the decoded original.
            assert_eq!(result.width(), original.width(), "{}", path.display());
            assert_eq!(result.height(), original.height(), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 10, "expected the test photographs, found {seen}");
    }
}
