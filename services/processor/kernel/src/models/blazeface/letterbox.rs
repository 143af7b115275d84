//! The image fitted into the model's square input, and detections mapped back to it.
//!
//! The whole image is scaled (aspect kept) so its longer side is the input's 128 pixels,
//! centred, and the rest padded with 0.0, mid-grey in the model's [-1, 1] range: nothing is
//! cut off, and no face is stretched (BlazeFace was trained on undistorted faces). The cost:
//! faces narrower than about 12% of the longer side (15 input pixels) are too small for the model
//! (the README's "Models" section has the measurement). The scaling is bilinear and antialiased (each
//! output pixel averages the source pixels it covers), like Pillow's `BILINEAR`, which the
//! reference uses.

use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};

use super::decode::INPUT_SIDE;
use crate::{KernelError, Layout, PixelsRef};

/// Where the image lies in the input: its top-left corner and its scaled size, in input
/// pixels, and the image's own size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Letterbox {
    pub offset: (u32, u32),
    pub scaled: (u32, u32),
    pub image: (u32, u32),
}

impl Letterbox {
    pub(super) fn for_image(width: u32, height: u32) -> Self {
        let side = INPUT_SIDE as f64;
        let scale = side / f64::from(width.max(height));
        let fit =
            |length: u32| ((f64::from(length) * scale).round() as u32).clamp(1, INPUT_SIDE as u32);
        let scaled = (fit(width), fit(height));
        Self {
            offset: (
                (INPUT_SIDE as u32 - scaled.0) / 2,
                (INPUT_SIDE as u32 - scaled.1) / 2,
            ),
            scaled,
            image: (width, height),
        }
    }

    /// A point in units of the input's side to the image's pixels. Each axis by its own
    /// rounded scale, so the scaled image's edges map to the image's edges exactly.
    pub(super) fn point_in_image(self, (x, y): (f32, f32)) -> (f32, f32) {
        let axis = |unit: f32, offset: u32, scaled: u32, image: u32| {
            (unit * INPUT_SIDE as f32 - offset as f32) * (image as f32 / scaled as f32)
        };
        (
            axis(x, self.offset.0, self.scaled.0, self.image.0),
            axis(y, self.offset.1, self.scaled.1, self.image.1),
        )
    }

    /// A length along x and y in units of the input's side, in the image's pixels.
    pub(super) fn size_in_image(self, (w, h): (f32, f32)) -> (f32, f32) {
        (
            w * INPUT_SIDE as f32 * (self.image.0 as f32 / self.scaled.0 as f32),
            h * INPUT_SIDE as f32 * (self.image.1 as f32 / self.scaled.1 as f32),
        )
    }
}

/// The model's input for `pixels`: float32 NHWC, 128×128 RGB in [-1, 1] (grey repeated into
/// the three channels, alpha ignored), and where the image is in it.
pub(super) fn fit(pixels: PixelsRef<'_>) -> Result<(Vec<f32>, Letterbox), KernelError> {
    let letterbox = Letterbox::for_image(pixels.width, pixels.height);
    let pixel_type = match pixels.layout {
        Layout::L => PixelType::U8,
        Layout::La => PixelType::U8x2,
        Layout::Rgb => PixelType::U8x3,
        Layout::Rgba => PixelType::U8x4,
    };
    let failed = |e: &dyn std::fmt::Display| KernelError::Process(format!("face detector: {e}"));
    let src = images::ImageRef::new(pixels.width, pixels.height, pixels.data, pixel_type)
        .map_err(|e| failed(&e))?;
    let (w, h) = letterbox.scaled;
    let mut dst = images::Image::new(w, h, pixel_type);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .use_alpha(false);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| failed(&e))?;
    let channels = pixels.layout.channels();
    let mut tensor = vec![0.0_f32; INPUT_SIDE * INPUT_SIDE * 3];
    let scaled = dst.buffer();
    let to_unit = |v: u8| f32::from(v) / 127.5 - 1.0;
    for y in 0..h as usize {
        for x in 0..w as usize {
            let source = &scaled[(y * w as usize + x) * channels..][..channels];
            let rgb = if pixels.layout.is_grey() {
                [source[0]; 3]
            } else {
                [source[0], source[1], source[2]]
            };
            let at =
                ((y + letterbox.offset.1 as usize) * INPUT_SIDE + x + letterbox.offset.0 as usize)
                    * 3;
            for (slot, value) in tensor[at..at + 3].iter_mut().zip(rgb) {
                *slot = to_unit(value);
            }
        }
    }
    Ok((tensor, letterbox))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pixels;

    #[test]
    fn a_wide_image_is_centred_with_grey_bands_above_and_below() {
        let white = Pixels::new(400, 200, Layout::Rgb, vec![255; 400 * 200 * 3]).unwrap();
        let (tensor, letterbox) = fit(white.as_ref()).unwrap();
        assert_eq!(letterbox.scaled, (128, 64));
        assert_eq!(letterbox.offset, (0, 32));
        let at = |x: usize, y: usize| tensor[(y * INPUT_SIDE + x) * 3];
        assert_eq!(at(0, 31), 0.0);
        assert_eq!(at(0, 32), 1.0);
        assert_eq!(at(127, 95), 1.0);
        assert_eq!(at(127, 96), 0.0);
    }

    #[test]
    fn the_scaled_image_maps_back_onto_the_whole_image() {
        let letterbox = Letterbox::for_image(300, 1000);
        assert_eq!(letterbox.scaled, (38, 128));
        assert_eq!(letterbox.offset, (45, 0));
        let unit = |px: u32| px as f32 / INPUT_SIDE as f32;
        assert_eq!(letterbox.point_in_image((unit(45), 0.0)), (0.0, 0.0));
        let (right, bottom) = letterbox.point_in_image((unit(45 + 38), 1.0));
        assert!((right - 300.0).abs() < 1e-3 && (bottom - 1000.0).abs() < 1e-3);
        let (w, h) = letterbox.size_in_image((unit(38), 0.5));
        assert!((w - 300.0).abs() < 1e-3 && (h - 500.0).abs() < 1e-3);
    }
}
