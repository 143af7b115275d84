//! AVIF results, by `ravif` over rav1e (an AV1 encoder in Rust, its SIMD in assembly). 8-bit,
//! one thread (the processor's kernel pool decides how many images are encoded at once),
//! speed [`SPEED`].
//!
//! AVIF has a grey layout only in some decoders' eyes: grey pixels are widened to RGB, which
//! the encoder's YUV keeps grey.

use ravif::{BitDepth, Encoder, Img, RGB8, RGBA8};

use super::widen_to_colour;
use crate::{KernelError, PixelsRef};

/// rav1e's speed, 1 (slowest, smallest) to 10. ravif's default of 4 is meant for encoding
/// ahead of time; a task waits on this one. At 8, measured on one core (release build): a
/// 256×256 thumbnail of `photo-12mp.jpg` in about 0.1 s, a 1024×768 result in about 0.7 s.
const SPEED: u8 = 8;

pub(crate) fn encode_avif(pixels: PixelsRef<'_>, quality: u8) -> Result<Vec<u8>, KernelError> {
    let widened;
    let data = if pixels.layout.is_grey() {
        widened = widen_to_colour(pixels);
        widened.as_slice()
    } else {
        pixels.data
    };
    let (width, height) = (pixels.width as usize, pixels.height as usize);
    let encoder = Encoder::new()
        .with_quality(f32::from(quality))
        .with_speed(SPEED)
        .with_bit_depth(BitDepth::Eight)
        .with_num_threads(Some(1));
    let failed = |e: ravif::Error| KernelError::Encode(format!("avif: {e}"));
    let encoded = if pixels.layout.has_alpha() {
        let rgba: Vec<RGBA8> = data
            .chunks_exact(4)
            .map(|p| RGBA8::new(p[0], p[1], p[2], p[3]))
            .collect();
        encoder
            .encode_rgba(Img::new(rgba.as_slice(), width, height))
            .map_err(failed)?
    } else {
        let rgb: Vec<RGB8> = data
            .chunks_exact(3)
            .map(|p| RGB8::new(p[0], p[1], p[2]))
            .collect();
        encoder
            .encode_rgb(Img::new(rgb.as_slice(), width, height))
            .map_err(failed)?
    };
    Ok(encoded.avif_file)
}
