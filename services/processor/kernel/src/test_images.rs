//! Images the kernel's unit tests are made of: small synthetic ones built here, and the real
//! photographs and hostile files in `<shared>/testdata`, where `<shared>` is the data folder
//! beside the repository (required): `IMAGEPIPE_SHARED_DIR`, by default
//! `<repository>/../shared`, as for the end-to-end tests.

use std::path::PathBuf;

use image::{GrayImage, Rgb, RgbImage};

/// A folder of `<shared>/testdata`: `good` or `bad`.
pub(super) fn testdata(kind: &str) -> PathBuf {
    std::env::var_os("IMAGEPIPE_SHARED_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"),
            PathBuf::from,
        )
        .join("testdata")
        .join(kind)
}

/// A smooth colour test card, wider than tall, so a rotation shows in the size.
pub(super) fn card() -> RgbImage {
    RgbImage::from_fn(96, 64, |x, y| {
        Rgb([(x * 2) as u8, (y * 3) as u8, (255 - x - y) as u8])
    })
}

/// A colour JPEG of `img`, by libjpeg-turbo (4:2:0, as cameras write them).
pub(super) fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(95).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    let (w, h) = img.dimensions();
    compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: img.as_raw().as_slice(),
            width: w as usize,
            pitch: 3 * w as usize,
            height: h as usize,
            format: turbojpeg::PixelFormat::RGB,
        })
        .unwrap()
}

/// `jpeg` with an EXIF segment saying `orientation`, right after SOI.
pub(super) fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec(); // little-endian, first IFD at 8
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Mean absolute difference of two grey planes of the same size.
pub(super) fn mean_abs_diff(a: &GrayImage, b: &GrayImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}
