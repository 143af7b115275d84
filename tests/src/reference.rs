//! An independent reference for what a result must look like, computed in floating point
//! from the original, so the tests do not grade the kernel with the kernel.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

/// The original decoded and turned upright by its EXIF orientation.
pub fn upright(bytes: &[u8]) -> DynamicImage {
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .expect("readable")
        .into_decoder()
        .expect("decodable original");
    let orientation = decoder.orientation().expect("orientation readable");
    let mut image = DynamicImage::from_decoder(decoder).expect("decodable original");
    image.apply_orientation(orientation);
    image
}

/// BT.601 luma of every pixel, 0.299 R + 0.587 G + 0.114 B, unrounded.
pub fn bt601_reference(image: &DynamicImage) -> Vec<f64> {
    image
        .to_rgb8()
        .pixels()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect()
}

/// Mean absolute difference between a result's grey levels and the reference.
pub fn mean_abs_diff(result: &DynamicImage, reference: &[f64]) -> f64 {
    let grey = result.to_luma8();
    assert_eq!(
        grey.as_raw().len(),
        reference.len(),
        "same number of pixels"
    );
    let total: f64 = grey
        .as_raw()
        .iter()
        .zip(reference)
        .map(|(got, want)| (f64::from(*got) - want).abs())
        .sum();
    total / reference.len() as f64
}
