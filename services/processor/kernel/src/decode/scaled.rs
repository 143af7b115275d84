//! Shrink on load: a JPEG decoded already reduced by libjpeg-turbo's DCT scaling (1/2, 1/4
//! or 1/8 of each side), for a chain that starts by making it smaller. Only the low
//! frequencies of each 8×8 block are transformed back, so the decode of a 12 MP photograph
//! for a thumbnail costs a fraction of a full one, and the resize that follows works on a
//! sixty-fourth of the pixels. sharp and libvips call it shrink-on-load, imgproxy
//! `scale_on_load`.
//!
//! This is the one path on which untrusted bytes are parsed by C rather than by safe Rust
//! (every other JPEG goes through `zune-jpeg`). Why that is acceptable: libjpeg-turbo is the
//! most fuzzed JPEG decoder there is (continuously on OSS-Fuzz, with its own fuzz targets for
//! exactly this decompress-with-scaling call), it is what browsers, OpenCV and libvips run on
//! the same untrusted uploads; by the time it sees the bytes, they have passed `inspect`
//! (a JPEG, within the pixel limits, EXIF read by Rust) and the end-of-image check; the
//! sizes are checked again on its own header before anything is allocated; and a scan limit
//! bounds the work a hostile progressive file can make it do. [`jpeg_scaled`] is a small
//! public function of bytes so that it can be a fuzz target of its own.

use image::{ImageFormat, metadata::Orientation};
use imagepipe_shared::image_rules::{DecodeLimits, Rejection, inspect};
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor};

use crate::{KernelError, Layout, Pixels, decode::jpeg_is_complete, ops::orient};

/// Most scans a progressive JPEG may have: the fuzzers' and browsers' kind of bound (a
/// camera's progressive file has about ten; thousands of tiny scans are an attack on CPU).
const MAX_SCANS: u32 = 500;

/// What a shrink-on-load decode must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkTarget {
    /// The smallest upright size (after EXIF orientation) the decode may produce: the size the
    /// chain's first resize scales to, so that the resize only ever shrinks what it gets.
    pub at_least: (u32, u32),
    /// Decode the luma plane alone (the chain's output is grey).
    pub grey: bool,
}

/// How many times smaller (1, 2, 4 or 8) a JPEG of `stored` size (as stored, before
/// `orientation`) can be decoded and still be at least `at_least` (upright) on both sides.
/// libjpeg-turbo rounds a scaled side up, `ceil(side / factor)`.
pub fn shrink_factor(stored: (u32, u32), orientation: Orientation, at_least: (u32, u32)) -> u32 {
    let upright = match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (stored.1, stored.0),
        _ => stored,
    };
    [8, 4, 2]
        .into_iter()
        .find(|&factor| {
            upright.0.div_ceil(factor) >= at_least.0 && upright.1.div_ceil(factor) >= at_least.1
        })
        .unwrap_or(1)
}

/// The part of a reduced decode that shows the original, in the reduced (upright) image's
/// pixels. libjpeg-turbo rounds a reduced side up: a 427-row JPEG at 1/2 decodes to 214 rows,
/// of which 213.5 are the image and the rest the partial block beyond its edge. A resize that
/// took all 214 rows for the original would misregister by up to half a reduced pixel.
/// The partial block lies past the stored image's right and bottom edges, wherever the EXIF
/// orientation turns those.
pub fn covered_box(
    stored: (u32, u32),
    orientation: Orientation,
    factor: u32,
) -> fast_image_resize::CropBox {
    let f = f64::from(factor);
    let (exact_w, exact_h) = (f64::from(stored.0) / f, f64::from(stored.1) / f);
    let (spare_w, spare_h) = (
        f64::from(stored.0.div_ceil(factor)) - exact_w,
        f64::from(stored.1.div_ceil(factor)) - exact_h,
    );
    // Upright: (width, height, spare columns first?, spare rows first?).
    let (width, height, left, top) = match orientation {
        Orientation::NoTransforms => (exact_w, exact_h, None, None),
        Orientation::FlipHorizontal => (exact_w, exact_h, Some(spare_w), None),
        Orientation::Rotate180 => (exact_w, exact_h, Some(spare_w), Some(spare_h)),
        Orientation::FlipVertical => (exact_w, exact_h, None, Some(spare_h)),
        // A quarter turn clockwise puts the stored bottom on the left.
        Orientation::Rotate90 => (exact_h, exact_w, Some(spare_h), None),
        Orientation::Rotate270 => (exact_h, exact_w, None, Some(spare_w)),
        Orientation::Rotate90FlipH => (exact_h, exact_w, None, None),
        Orientation::Rotate270FlipH => (exact_h, exact_w, Some(spare_h), Some(spare_w)),
    };
    fast_image_resize::CropBox {
        left: left.unwrap_or(0.0),
        top: top.unwrap_or(0.0),
        width,
        height,
    }
}

/// Decode a JPEG reduced by the largest DCT scaling that keeps it at least
/// `target.at_least`, upright, grey or RGB. `Ok(None)`: not a JPEG libjpeg-turbo turns into
/// these (CMYK, YCCK), for the caller's general path. Any bytes are safe to pass.
pub fn jpeg_scaled(
    bytes: &[u8],
    limits: DecodeLimits,
    target: ShrinkTarget,
) -> Result<Option<Pixels>, KernelError> {
    let header = inspect(bytes, limits)?;
    if header.format != ImageFormat::Jpeg {
        return Ok(None);
    }
    if !jpeg_is_complete(bytes) {
        return Err(Rejection::Undecodable(
            "the JPEG data ends before its end-of-image marker (truncated file)".into(),
        )
        .into());
    }
    let undecodable = |e: turbojpeg::Error| Rejection::Undecodable(e.to_string());
    let mut decompressor = Decompressor::new().map_err(undecodable)?;
    let jpeg = decompressor.read_header(bytes).map_err(undecodable)?;
    if matches!(jpeg.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return Ok(None);
    }
    // Its own reading of the size, checked before it allocates (`inspect` read the header with
    // another parser; a file that tells the two different sizes gets the stricter answer).
    let (width, height) = (
        u32::try_from(jpeg.width).unwrap_or(u32::MAX),
        u32::try_from(jpeg.height).unwrap_or(u32::MAX),
    );
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side
    {
        return Err(Rejection::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        }
        .into());
    }
    let factor = shrink_factor((width, height), header.orientation, target.at_least);
    let scaling = ScalingFactor::new(1, factor as usize);
    decompressor
        .set_scaling_factor(scaling)
        .map_err(undecodable)?;
    decompressor
        .set_scan_limit(MAX_SCANS)
        .map_err(undecodable)?;
    let scaled = jpeg.scaled(scaling);
    let (layout, format) = if target.grey {
        (Layout::L, PixelFormat::GRAY)
    } else {
        (Layout::Rgb, PixelFormat::RGB)
    };
    let pitch = scaled.width * layout.channels();
    let mut data = vec![0u8; pitch * scaled.height];
    decompressor
        .decompress(
            bytes,
            Image {
                pixels: data.as_mut_slice(),
                width: scaled.width,
                pitch,
                height: scaled.height,
                format,
            },
        )
        .map_err(undecodable)?;
    let pixels = Pixels::new(scaled.width as u32, scaled.height as u32, layout, data)
        .ok_or_else(|| Rejection::Undecodable("JPEG decoded to the wrong size".into()))?;
    Ok(Some(orient(pixels, header.orientation)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_images::{card, jpeg_of, with_exif_orientation};

    #[test]
    fn the_largest_reduction_that_still_covers_the_target() {
        let none = Orientation::NoTransforms;
        assert_eq!(shrink_factor((4000, 3000), none, (256, 192)), 8);
        assert_eq!(shrink_factor((4000, 3000), none, (500, 375)), 8);
        assert_eq!(shrink_factor((4000, 3000), none, (501, 375)), 4);
        assert_eq!(shrink_factor((4000, 3000), none, (2000, 1500)), 2);
        assert_eq!(shrink_factor((4000, 3000), none, (2001, 1500)), 1);
        // Rounded up: 4001 / 8 decodes to 501 columns.
        assert_eq!(shrink_factor((4001, 3000), none, (501, 375)), 8);
        // A quarter turn swaps the sides the target is compared with.
        assert_eq!(
            shrink_factor((4000, 3000), Orientation::Rotate90, (375, 500)),
            8
        );
        assert_eq!(
            shrink_factor((4000, 3000), Orientation::Rotate90, (500, 375)),
            4
        );
    }

    #[test]
    fn the_covered_box_leaves_out_the_partial_block() {
        let upright = covered_box((427, 641), Orientation::NoTransforms, 2);
        assert_eq!(
            (upright.left, upright.top, upright.width, upright.height),
            (0.0, 0.0, 213.5, 320.5)
        );
        // Turned half round, the partial block is on the left and at the top.
        let turned = covered_box((427, 641), Orientation::Rotate180, 2);
        assert_eq!((turned.left, turned.top), (0.5, 0.5));
        // A quarter turn clockwise: the stored bottom (rows) becomes the left.
        let quarter = covered_box((427, 640), Orientation::Rotate90, 2);
        assert_eq!(
            (quarter.left, quarter.top, quarter.width, quarter.height),
            (0.0, 0.0, 320.0, 213.5)
        );
        let quarter = covered_box((428, 641), Orientation::Rotate90, 2);
        assert_eq!((quarter.left, quarter.width), (0.5, 320.5));
    }

    #[test]
    fn decodes_reduced_and_upright() {
        let jpeg = with_exif_orientation(&jpeg_of(&card()), 6);
        // 96×64 stored, 64×96 upright; at least 30×40 allows a half (32×48).
        let target = ShrinkTarget {
            at_least: (30, 40),
            grey: false,
        };
        let pixels = jpeg_scaled(&jpeg, DecodeLimits::default(), target)
            .unwrap()
            .unwrap();
        assert_eq!(
            (pixels.dimensions(), pixels.layout),
            ((32, 48), Layout::Rgb)
        );
        let grey = jpeg_scaled(
            &jpeg,
            DecodeLimits::default(),
            ShrinkTarget {
                grey: true,
                ..target
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!((grey.dimensions(), grey.layout), ((32, 48), Layout::L));
    }

    #[test]
    fn hostile_bytes_are_refused_not_decoded() {
        let read =
            |name: &str| std::fs::read(crate::test_images::testdata("bad").join(name)).unwrap();
        let target = ShrinkTarget {
            at_least: (1, 1),
            grey: false,
        };
        for name in ["empty.png", "not-an-image.jpg", "truncated.jpg"] {
            assert!(
                jpeg_scaled(&read(name), DecodeLimits::default(), target).is_err(),
                "{name}"
            );
        }
        let mut garbage = jpeg_of(&card());
        let n = garbage.len();
        for b in &mut garbage[n / 3..n - 2] {
            *b = 0x5A;
        }
        // Either refused or decoded to its size: never a crash.
        if let Ok(Some(pixels)) = jpeg_scaled(&garbage, DecodeLimits::default(), target) {
            assert_eq!(pixels.dimensions(), (12, 8));
        }
    }
}
