//! An image made into a declared model's input tensor: fitted to its size (`fill`, `contain`,
//! `cover`), its channels in the declared order and layout, normalised for float32.
//!
//! The scaling is bilinear and antialiased (fast_image_resize's convolution, each output
//! pixel averaging the source pixels it covers), as Pillow's `BILINEAR` and torchvision's
//! `Resize(antialias=True)` do, so a model sees what its Python preprocessing gave it within
//! a grey level. Grey images are repeated into the three channels; alpha is ignored (the
//! colour under it is what the model sees).

use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};
use imagepipe_shared::models::{ChannelOrder, InputDtype, InputFit, InputSpec, TensorLayout};

use super::onnx::InputValues;
use crate::{KernelError, Layout, PixelsRef};

/// A model's input, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    pub shape: [i64; 4],
    pub values: TensorValues,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TensorValues {
    F32(Vec<f32>),
    U8(Vec<u8>),
}

impl InputTensor {
    pub fn values(&self) -> InputValues<'_> {
        match &self.values {
            TensorValues::F32(values) => InputValues::F32(values),
            TensorValues::U8(values) => InputValues::U8(values),
        }
    }
}

/// Where the scaled image goes in the input, and which part of the image it shows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placement {
    /// The scaled image's size and its top-left corner in the input.
    scaled: (u32, u32),
    offset: (u32, u32),
    /// The part of the image scaled (left, top, width, height), in its pixels.
    source: (f64, f64, f64, f64),
}

fn place(image: (u32, u32), input: (u32, u32), fit: InputFit) -> Placement {
    let (iw, ih) = (f64::from(image.0), f64::from(image.1));
    let (tw, th) = (f64::from(input.0), f64::from(input.1));
    let whole = (0.0, 0.0, iw, ih);
    match fit {
        InputFit::Fill => Placement {
            scaled: input,
            offset: (0, 0),
            source: whole,
        },
        InputFit::Contain => {
            let scale = (tw / iw).min(th / ih);
            let side =
                |length: f64, target: u32| ((length * scale).round() as u32).clamp(1, target);
            let scaled = (side(iw, input.0), side(ih, input.1));
            Placement {
                scaled,
                offset: ((input.0 - scaled.0) / 2, (input.1 - scaled.1) / 2),
                source: whole,
            }
        }
        InputFit::Cover => {
            let scale = (tw / iw).max(th / ih);
            let (cw, ch) = (tw / scale, th / scale);
            Placement {
                scaled: input,
                offset: (0, 0),
                source: ((iw - cw) / 2.0, (ih - ch) / 2.0, cw, ch),
            }
        }
    }
}

/// The input tensor `spec` declares, of `pixels`.
pub fn tensor(pixels: PixelsRef<'_>, spec: &InputSpec) -> Result<InputTensor, KernelError> {
    let placement = place(
        (pixels.width, pixels.height),
        (spec.width, spec.height),
        spec.fit,
    );
    let scaled = scale(pixels, &placement)?;
    let channels = pixels.layout.channels();
    let (width, height) = (spec.width as usize, spec.height as usize);
    let plane = width * height;
    // The tensor's channel `c` comes from the image's channel `order[c]`.
    let order = match spec.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let index = |x: usize, y: usize, c: usize| match spec.layout {
        TensorLayout::Nchw => c * plane + y * width + x,
        TensorLayout::Nhwc => (y * width + x) * 3 + c,
    };
    // Every pixel's three values, the padding's included, by position in the input.
    let mut levels = vec![spec.pad; plane * 3];
    let (sw, sh) = (placement.scaled.0 as usize, placement.scaled.1 as usize);
    let (ox, oy) = (placement.offset.0 as usize, placement.offset.1 as usize);
    for y in 0..sh {
        for x in 0..sw {
            let source = &scaled[(y * sw + x) * channels..][..channels];
            let rgb = if pixels.layout.is_grey() {
                [source[0]; 3]
            } else {
                [source[0], source[1], source[2]]
            };
            for (c, from) in order.into_iter().enumerate() {
                levels[index(x + ox, y + oy, c)] = rgb[from];
            }
        }
    }
    let shape = spec.tensor_shape();
    let values = match spec.dtype {
        InputDtype::Uint8 => TensorValues::U8(levels),
        InputDtype::Float32 => {
            let channel_of = |i: usize| match spec.layout {
                TensorLayout::Nchw => i / plane,
                TensorLayout::Nhwc => i % 3,
            };
            TensorValues::F32(
                levels
                    .iter()
                    .enumerate()
                    .map(|(i, &level)| {
                        let c = channel_of(i);
                        (f32::from(level) / 255.0 - spec.mean[c]) / spec.std[c]
                    })
                    .collect(),
            )
        }
    };
    Ok(InputTensor { shape, values })
}

/// The part of `pixels` the placement shows, scaled to its size, in the pixels' layout.
fn scale(pixels: PixelsRef<'_>, placement: &Placement) -> Result<Vec<u8>, KernelError> {
    let pixel_type = match pixels.layout {
        Layout::L => PixelType::U8,
        Layout::La => PixelType::U8x2,
        Layout::Rgb => PixelType::U8x3,
        Layout::Rgba => PixelType::U8x4,
    };
    let failed = |e: &dyn std::fmt::Display| KernelError::Process(format!("infer input: {e}"));
    let src = images::ImageRef::new(pixels.width, pixels.height, pixels.data, pixel_type)
        .map_err(|e| failed(&e))?;
    let (w, h) = placement.scaled;
    let mut dst = images::Image::new(w, h, pixel_type);
    let (left, top, width, height) = placement.source;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(left, top, width, height)
        .use_alpha(false);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| failed(&e))?;
    Ok(dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pixels;

    fn spec(width: u32, height: u32, fit: InputFit) -> InputSpec {
        InputSpec {
            tensor: "x".into(),
            width,
            height,
            fit,
            layout: TensorLayout::Nchw,
            dtype: InputDtype::Uint8,
            channels: ChannelOrder::Rgb,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad: 7,
        }
    }

    /// A `width` × `height` RGB image, left half red, right half blue.
    fn halves(width: u32, height: u32) -> Pixels {
        let data = (0..height)
            .flat_map(|_| {
                (0..width).flat_map(move |x| {
                    if x < width / 2 {
                        [255, 0, 0]
                    } else {
                        [0, 0, 255]
                    }
                })
            })
            .collect();
        Pixels::new(width, height, Layout::Rgb, data).unwrap()
    }

    fn u8s(tensor: &InputTensor) -> &[u8] {
        match &tensor.values {
            TensorValues::U8(v) => v,
            TensorValues::F32(_) => panic!("float"),
        }
    }

    #[test]
    fn the_fits_place_the_image_as_declared() {
        assert_eq!(
            place((400, 200), (100, 100), InputFit::Contain),
            Placement {
                scaled: (100, 50),
                offset: (0, 25),
                source: (0.0, 0.0, 400.0, 200.0)
            }
        );
        assert_eq!(
            place((400, 200), (100, 100), InputFit::Cover),
            Placement {
                scaled: (100, 100),
                offset: (0, 0),
                source: (100.0, 0.0, 200.0, 200.0)
            }
        );
        assert_eq!(place((400, 200), (10, 30), InputFit::Fill).scaled, (10, 30));
    }

    #[test]
    fn contain_pads_cover_crops_fill_stretches() {
        let image = halves(40, 20);
        // contain 8×8: the image is 8×4 in rows 2..6, the padding's grey around it.
        let t = tensor(image.as_ref(), &spec(8, 8, InputFit::Contain)).unwrap();
        assert_eq!(t.shape, [1, 3, 8, 8]);
        let v = u8s(&t);
        let red = |x: usize, y: usize| v[y * 8 + x];
        let blue = |x: usize, y: usize| v[2 * 64 + y * 8 + x];
        assert_eq!(
            (red(0, 0), red(0, 1), red(0, 2), red(0, 5), red(0, 6)),
            (7, 7, 255, 255, 7)
        );
        assert_eq!((blue(7, 3), red(7, 3)), (255, 0));
        // cover 4×4 of a 40×20: the middle 20×20, half red, half blue still.
        let t = tensor(image.as_ref(), &spec(4, 4, InputFit::Cover)).unwrap();
        let v = u8s(&t);
        assert_eq!((v[0], v[3], v[32 + 3]), (255, 0, 255));
        // cover 2×4 of a 40×20: only the middle 10×20, red then blue (the filter reaching a
        // little past the edge between them, as Pillow's does).
        let t = tensor(image.as_ref(), &spec(2, 4, InputFit::Cover)).unwrap();
        let v = u8s(&t);
        assert!(
            v[0] > 200 && v[1] < 40 && v[16] < 40 && v[17] > 200,
            "{v:?}"
        );
        // fill 2×3 of a 2×1: stretched, no padding.
        let t = tensor(halves(2, 1).as_ref(), &spec(2, 3, InputFit::Fill)).unwrap();
        assert_eq!(t.shape, [1, 3, 3, 2]);
        assert_eq!(&u8s(&t)[..6], [255, 0, 255, 0, 255, 0]);
        assert_eq!(&u8s(&t)[12..], [0, 255, 0, 255, 0, 255]);
    }

    #[test]
    fn layouts_channel_orders_and_normalisation() {
        let image = halves(2, 1);
        let mut declared = spec(2, 1, InputFit::Fill);
        declared.layout = TensorLayout::Nhwc;
        declared.channels = ChannelOrder::Bgr;
        let t = tensor(image.as_ref(), &declared).unwrap();
        assert_eq!(t.shape, [1, 1, 2, 3]);
        // Pixel by pixel, blue first: red is (0, 0, 255), blue (255, 0, 0).
        assert_eq!(u8s(&t), [0, 0, 255, 255, 0, 0]);

        declared.dtype = InputDtype::Float32;
        declared.mean = [0.5, 0.0, 0.25];
        declared.std = [0.5, 1.0, 0.25];
        let t = tensor(image.as_ref(), &declared).unwrap();
        let TensorValues::F32(values) = &t.values else {
            panic!("float")
        };
        // Each channel by its own mean and std, in the tensor's (blue, green, red) order.
        assert_eq!(values, &[-1.0, 0.0, 3.0, 1.0, 0.0, -1.0]);

        let grey = Pixels::new(1, 1, Layout::La, vec![9, 0]).unwrap();
        let t = tensor(grey.as_ref(), &spec(1, 1, InputFit::Fill)).unwrap();
        assert_eq!(u8s(&t), [9, 9, 9]);
    }
}
