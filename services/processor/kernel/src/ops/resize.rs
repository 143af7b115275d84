//! `resize`: Lanczos-3 convolution on `fast_image_resize`'s SIMD kernels, alpha premultiplied
//! before and divided out after (so transparent pixels' colours do not bleed into opaque
//! ones).

use fast_image_resize::{
    CropBox, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images,
};
use imagepipe_shared::steps::ResizePlan;

use crate::{KernelError, Layout, Pixels};

/// `pixels` scaled to `plan.scaled`, then cut to `plan.crop`, as `shared::steps::plan_resize`
/// planned it — from the image's size *before* any shrink-on-load, so the output's size never
/// depends on how the original was decoded.
///
/// A `cover` crop is taken from the source instead of from a scaled copy: the crop box is the
/// crop rectangle mapped back through the scale, so every output pixel samples the same
/// source positions with the same filter width as scale-then-crop would, without making the
/// larger image first.
///
/// `source` is the part of `pixels` that shows the image the plan was made for, when that is
/// not all of it (a reduced decode's partial block, [`covered_box`]); `None`: all of it.
///
/// [`covered_box`]: crate::decode::covered_box
pub fn resize(
    pixels: &Pixels,
    plan: &ResizePlan,
    source: Option<CropBox>,
) -> Result<Pixels, KernelError> {
    let (out_w, out_h) = plan.output();
    if plan.scaled == pixels.dimensions() && plan.crop.is_none() && source.is_none() {
        return Ok(pixels.clone());
    }
    let source = source.unwrap_or(CropBox {
        left: 0.0,
        top: 0.0,
        width: f64::from(pixels.width),
        height: f64::from(pixels.height),
    });
    let pixel_type = match pixels.layout {
        Layout::L => PixelType::U8,
        Layout::La => PixelType::U8x2,
        Layout::Rgb => PixelType::U8x3,
        Layout::Rgba => PixelType::U8x4,
    };
    let failed = |e: &dyn std::fmt::Display| KernelError::Process(format!("resize: {e}"));
    let src = images::ImageRef::new(pixels.width, pixels.height, &pixels.data, pixel_type)
        .map_err(|e| failed(&e))?;
    let mut dst = images::Image::new(out_w, out_h, pixel_type);
    let mut options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(pixels.layout.has_alpha());
    let x_scale = source.width / f64::from(plan.scaled.0);
    let y_scale = source.height / f64::from(plan.scaled.1);
    options = match plan.crop {
        Some(rect) => options.crop(
            source.left + f64::from(rect.x) * x_scale,
            source.top + f64::from(rect.y) * y_scale,
            f64::from(rect.width) * x_scale,
            f64::from(rect.height) * y_scale,
        ),
        None => options.crop(source.left, source.top, source.width, source.height),
    };
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| failed(&e))?;
    Pixels::new(out_w, out_h, pixels.layout, dst.into_vec())
        .ok_or_else(|| failed(&"the resizer returned the wrong number of pixels"))
}

#[cfg(test)]
mod tests {
    use imagepipe_shared::steps::{Fit, Gravity, Resize, plan_resize};

    use super::*;
    use crate::ops::crop;

    fn smooth(width: u32, height: u32) -> Pixels {
        let data = (0..height)
            .flat_map(|y| {
                (0..width).flat_map(move |x| {
                    [
                        (x * 255 / width) as u8,
                        (y * 255 / height) as u8,
                        ((x + y) % 256) as u8,
                    ]
                })
            })
            .collect();
        Pixels::new(width, height, Layout::Rgb, data).expect("right length")
    }

    #[test]
    fn cropping_at_the_source_is_scaling_then_cropping() {
        let pixels = smooth(400, 300);
        for gravity in [Gravity::Centre, Gravity::NorthWest, Gravity::SouthEast] {
            let step = Resize {
                width: Some(64),
                height: Some(100),
                fit: Fit::Cover,
                gravity,
                enlarge: false,
            };
            let plan = plan_resize(400, 300, &step);
            let direct = resize(&pixels, &plan, None).unwrap();
            let scaled = resize(
                &pixels,
                &ResizePlan {
                    scaled: plan.scaled,
                    crop: None,
                },
                None,
            )
            .unwrap();
            let two_steps = crop(&scaled, plan.crop.unwrap());
            assert_eq!(direct.dimensions(), (64, 100));
            let diff: u64 = direct
                .data
                .iter()
                .zip(&two_steps.data)
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum();
            let mean = diff as f64 / direct.data.len() as f64;
            assert!(mean < 0.5, "{gravity:?}: mean abs diff {mean}");
        }
    }

    #[test]
    fn the_same_size_is_a_copy() {
        let pixels = smooth(10, 8);
        let plan = ResizePlan {
            scaled: (10, 8),
            crop: None,
        };
        assert_eq!(resize(&pixels, &plan, None).unwrap(), pixels);
    }
}
