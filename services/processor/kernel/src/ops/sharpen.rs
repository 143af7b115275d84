//! `sharpen`: unsharp mask, `out = img + amount × (img − gaussian(img, sigma))`, clamped to
//! 0–255 and rounded. The Gaussian is [`blur`](super::blur)'s. Alpha is kept as it is:
//! sharpening the coverage of an edge would only make a halo.

use crate::{KernelError, Pixels};

pub fn sharpen(pixels: &Pixels, sigma: f32, amount: f32) -> Result<Pixels, KernelError> {
    let blurred = super::blur(pixels, sigma)?;
    let channels = pixels.layout.channels();
    // The colour channels of each pixel; alpha, the last when there is one, is kept.
    let colours = if pixels.layout.has_alpha() {
        channels - 1
    } else {
        channels
    };
    let mut data = pixels.data.clone();
    for (px, soft) in data
        .chunks_exact_mut(channels)
        .zip(blurred.data.chunks_exact(channels))
    {
        for (value, soft) in px[..colours].iter_mut().zip(&soft[..colours]) {
            let original = f32::from(*value);
            let sharpened = original + amount * (original - f32::from(*soft));
            *value = sharpened.round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(pixels.with_data(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Layout, ops::test_support::numbered};

    #[test]
    fn follows_the_formula_and_keeps_alpha() {
        let pixels = numbered(20, 11, Layout::Rgba);
        let blurred = super::super::blur(&pixels, 1.5).unwrap();
        let out = sharpen(&pixels, 1.5, 2.0).unwrap();
        for (i, ((o, p), b)) in out
            .data
            .iter()
            .zip(&pixels.data)
            .zip(&blurred.data)
            .enumerate()
        {
            if i % 4 == 3 {
                assert_eq!(o, p);
            } else {
                let expected = (3.0 * f32::from(*p) - 2.0 * f32::from(*b)).round();
                assert_eq!(f32::from(*o), expected.clamp(0.0, 255.0));
            }
        }
        // Amount zero is the identity.
        assert_eq!(sharpen(&pixels, 1.0, 0.0).unwrap(), pixels);
    }
}
