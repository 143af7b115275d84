//! WebP results, lossy or lossless, by libwebp (the `webp` crate over `libwebp-sys`, which
//! builds Google's C library from source). Why C here: there is no pure-Rust lossy WebP
//! encoder of libwebp's quality (`image` encodes WebP losslessly only), and libwebp is the
//! reference every browser decodes against. It only ever reads a pixel buffer of ours.
//!
//! WebP has no grey layout: grey pixels are widened to RGB (or RGBA) first, which libwebp's
//! YUV conversion turns back into a grey picture.

use webp::{Encoder, PixelLayout};

use super::widen_to_colour;
use crate::{KernelError, Layout, PixelsRef};

/// libwebp's own default effort for lossless (0 fastest … 100 smallest).
const LOSSLESS_EFFORT: f32 = 75.0;

pub(crate) fn encode_webp(
    pixels: PixelsRef<'_>,
    quality: Option<u8>,
    lossless: bool,
) -> Result<Vec<u8>, KernelError> {
    let widened;
    let (data, layout) = if pixels.layout.is_grey() {
        widened = widen_to_colour(pixels);
        let layout = if pixels.layout.has_alpha() {
            Layout::Rgba
        } else {
            Layout::Rgb
        };
        (widened.as_slice(), layout)
    } else {
        (pixels.data, pixels.layout)
    };
    let layout = if layout.has_alpha() {
        PixelLayout::Rgba
    } else {
        PixelLayout::Rgb
    };
    let level = if lossless {
        LOSSLESS_EFFORT
    } else {
        f32::from(quality.unwrap_or(80))
    };
    let encoded = Encoder::new(data, layout, pixels.width, pixels.height)
        .encode_simple(lossless, level)
        .map_err(|e| KernelError::Encode(format!("webp: {e:?}")))?;
    Ok(encoded.to_vec())
}
