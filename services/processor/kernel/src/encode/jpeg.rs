//! JPEG results, by libjpeg-turbo (through `turbojpeg`): three times faster than the
//! pure-Rust encoders measured, and it only ever reads a pixel buffer of ours.
//!
//! Grey pixels make a one-component (grayscale) JPEG, colour a 4:2:0 one, as cameras and
//! browsers write them. Baseline, standard Huffman tables (one pass over the pixels; optimised
//! tables would need a second for a few percent of size), the IJG quality scaling of the
//! Annex K tables, so `quality` means what it means to libjpeg and OpenCV. Only a JFIF
//! header: nothing of the original's metadata.
//!
//! **Alpha.** JPEG has none. An image with an alpha channel is flattened over white first
//! (`out = a × colour + (1 − a) × 255`, rounded), as imgproxy does by default and as a browser
//! shows a transparent PNG on a white page: transparent areas become white, not the arbitrary
//! colour stored under them (often black).

use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

use crate::{KernelError, Layout, PixelsRef};

pub(crate) fn encode_jpeg(pixels: PixelsRef<'_>, quality: u8) -> Result<Vec<u8>, KernelError> {
    let flattened;
    let pixels = if pixels.layout.has_alpha() {
        flattened = flatten_over_white(pixels);
        PixelsRef {
            layout: if pixels.layout.is_grey() {
                Layout::L
            } else {
                Layout::Rgb
            },
            data: &flattened,
            ..pixels
        }
    } else {
        pixels
    };
    let encode_err = |e: turbojpeg::Error| KernelError::Encode(e.to_string());
    let (format, subsamp) = if pixels.layout.is_grey() {
        (PixelFormat::GRAY, Subsamp::Gray)
    } else {
        (PixelFormat::RGB, Subsamp::Sub2x2)
    };
    let mut compressor = Compressor::new().map_err(encode_err)?;
    compressor
        .set_quality(i32::from(quality))
        .map_err(encode_err)?;
    compressor.set_subsamp(subsamp).map_err(encode_err)?;
    let width = pixels.width as usize;
    compressor
        .compress_to_vec(Image {
            pixels: pixels.data,
            width,
            pitch: width * pixels.layout.channels(),
            height: pixels.height as usize,
            format,
        })
        .map_err(encode_err)
}

/// Grey-and-alpha or RGBA over a white background, without the alpha.
fn flatten_over_white(pixels: PixelsRef<'_>) -> Vec<u8> {
    let channels = pixels.layout.channels();
    let colours = channels - 1;
    let mut out = Vec::with_capacity(pixels.data.len() / channels * colours);
    for px in pixels.data.chunks_exact(channels) {
        let alpha = u32::from(px[colours]);
        for &c in &px[..colours] {
            // Exact rounding of (c·a + 255·(255 − a)) / 255.
            let mixed = u32::from(c) * alpha + 255 * (255 - alpha);
            out.push(((mixed + 127) / 255) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_becomes_white_and_opaque_stays() {
        let rgba = [10, 20, 30, 255, 10, 20, 30, 0, 0, 0, 0, 128];
        let flat = flatten_over_white(PixelsRef {
            width: 3,
            height: 1,
            layout: Layout::Rgba,
            data: &rgba,
        });
        assert_eq!(flat, [10, 20, 30, 255, 255, 255, 127, 127, 127]);
    }
}
