//! PNG results: lossless, every layout kept as it is (grey, grey + alpha, RGB, RGBA).

use image::{
    ExtendedColorType, ImageEncoder,
    codecs::png::{CompressionType, FilterType, PngEncoder},
};

use crate::{KernelError, Layout, PixelsRef};

pub(crate) fn encode_png(pixels: PixelsRef<'_>) -> Result<Vec<u8>, KernelError> {
    let mut bytes = Vec::new();
    // `png`'s Fast level (the fdeflate compressor) with adaptive filtering. Measured on the
    // test images: the smallest files of all the combinations tried (Fast, Balanced, zlib
    // levels 1 and 3 × adaptive, none, sub, up, paeth), 30 times faster than Balanced, which
    // is even slightly larger. PNGs are dominated by their decode anyway.
    let encoder =
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Adaptive);
    let colour = match pixels.layout {
        Layout::L => ExtendedColorType::L8,
        Layout::La => ExtendedColorType::La8,
        Layout::Rgb => ExtendedColorType::Rgb8,
        Layout::Rgba => ExtendedColorType::Rgba8,
    };
    encoder
        .write_image(pixels.data, pixels.width, pixels.height, colour)
        .map_err(|e| KernelError::Encode(e.to_string()))?;
    Ok(bytes)
}
