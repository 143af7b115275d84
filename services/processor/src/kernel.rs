//! The pixel work: decode under limits, apply EXIF orientation, convert to BT.601 luma,
//! encode. Pure and synchronous; callers run it off the async runtime.

use std::io::Cursor;

use image::{
    DynamicImage, GrayAlphaImage, GrayImage, ImageDecoder, ImageFormat, ImageReader,
    codecs::{
        jpeg::JpegEncoder,
        png::{CompressionType, FilterType, PngEncoder},
    },
};
use imagepipe_shared::image_rules::{DecodeLimits, Rejection, inspect};

/// JPEG quality of results: 95, what OpenCV's `imencode` uses by default, so results match
/// the seed's output. At 90, noisy photographs (the Hubble deep field) drift more than two
/// grey levels on average from the exact luma; at 95 they stay well within.
pub const JPEG_QUALITY: u8 = 95;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("result cannot be encoded: {0}")]
    Encode(String),
}

/// A processed image, ready to store.
#[derive(Debug)]
pub struct Processed {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Encoder settings. The product uses [`Settings::default`]; the benchmark sets the JPEG
/// quality OpenCV is compared at.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub jpeg_quality: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            jpeg_quality: JPEG_QUALITY,
        }
    }
}

/// Decode, orient, convert to grayscale and encode one image.
pub fn grayscale(bytes: &[u8], limits: DecodeLimits) -> Result<Processed, KernelError> {
    grayscale_with(bytes, limits, Settings::default())
}

/// [`grayscale`] with chosen encoder settings.
pub fn grayscale_with(
    bytes: &[u8],
    limits: DecodeLimits,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let decoded = decode_luma(bytes, limits)?;
    encode(&decoded.luma, decoded.format, settings)
}

/// An original turned into upright grayscale pixels, before encoding.
pub struct Decoded {
    pub luma: Luma,
    /// The original's format, which decides the result's.
    pub format: ImageFormat,
}

/// Decode under `limits`, apply the EXIF orientation and convert to BT.601 luma.
pub fn decode_luma(bytes: &[u8], limits: DecodeLimits) -> Result<Decoded, KernelError> {
    // Defence in depth: ingest checked the header already, but the job could come from
    // anywhere that can publish.
    let header = inspect(bytes, limits)?;
    if header.format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // `image`'s JPEG decoder fills a truncated scan with grey instead of failing; a cut-off
        // upload must fail, not produce a half-grey result.
        return Err(Rejection::Undecodable(
            "the JPEG data ends before its end-of-image marker (truncated file)".into(),
        )
        .into());
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), header.format);
    reader.limits(limits.decoder_limits());
    let undecodable = |e: image::ImageError| Rejection::Undecodable(e.to_string());
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // `from_decoder` does not check the allocation limit itself: refuse here what would not fit.
    if decoder.total_bytes() > limits.max_pixels.saturating_mul(8) {
        let (width, height) = decoder.dimensions();
        return Err(Rejection::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        }
        .into());
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(Decoded {
        luma: to_bt601_luma(&image),
        format: header.format,
    })
}

/// Whether a JPEG's entropy-coded data is followed by its end-of-image marker.
///
/// Walks the marker segments up to the first start-of-scan, then looks for EOI (`FF D9`)
/// after it. Inside scan data a `0xFF` byte is always followed by `0x00` (stuffing) or a
/// restart marker, so `FF D9` there can only be the real end; walking the segments first
/// skips an EXIF thumbnail's own EOI in the header.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    let mut pos = 2; // after SOI
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return false;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if marker == SOS {
            let scan = &bytes[(pos + 2 + length).min(bytes.len())..];
            return scan.windows(2).any(|w| w == [0xFF, EOI]);
        }
        pos += 2 + length;
    }
    false
}

/// Grayscale pixels, with the alpha channel kept when the original has one.
pub enum Luma {
    Opaque(GrayImage),
    WithAlpha(GrayAlphaImage),
}

impl Luma {
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Luma::Opaque(gray) => gray.dimensions(),
            Luma::WithAlpha(gray) => gray.dimensions(),
        }
    }

    /// The grey plane alone, one byte a pixel, row by row (alpha dropped).
    pub fn grey_plane(&self) -> Vec<u8> {
        match self {
            Luma::Opaque(gray) => gray.as_raw().clone(),
            Luma::WithAlpha(gray) => gray.as_raw().iter().step_by(2).copied().collect(),
        }
    }
}

/// BT.601 luma, bit-exact with OpenCV's `COLOR_RGB2GRAY`: the same 14-bit fixed-point
/// coefficients and rounding. (`image`'s own `to_luma8` uses BT.709 weights, which give a
/// visibly different grey for saturated colours.)
pub fn to_bt601_luma(image: &DynamicImage) -> Luma {
    match image {
        DynamicImage::ImageLuma8(gray) => Luma::Opaque(gray.clone()),
        DynamicImage::ImageLumaA8(gray) => Luma::WithAlpha(gray.clone()),
        other if other.color().has_alpha() => {
            let rgba = other.to_rgba8();
            let (w, h) = rgba.dimensions();
            let mut out = Vec::with_capacity(rgba.as_raw().len() / 2);
            for px in rgba.as_raw().chunks_exact(4) {
                out.push(bt601(px[0], px[1], px[2]));
                out.push(px[3]);
            }
            Luma::WithAlpha(GrayAlphaImage::from_vec(w, h, out).unwrap_or_default())
        }
        other => {
            let rgb = other.to_rgb8();
            let (w, h) = rgb.dimensions();
            let out = rgb
                .as_raw()
                .chunks_exact(3)
                .map(|px| bt601(px[0], px[1], px[2]))
                .collect();
            Luma::Opaque(GrayImage::from_vec(w, h, out).unwrap_or_default())
        }
    }
}

/// One pixel of BT.601 luma: 0.299 R + 0.587 G + 0.114 B in OpenCV's fixed point.
#[inline]
pub fn bt601(r: u8, g: u8, b: u8) -> u8 {
    const R: u32 = 4899;
    const G: u32 = 9617;
    const B: u32 = 1868;
    // The weights sum to 2^14, so the result is at most 255 and the cast cannot truncate.
    ((u32::from(r) * R + u32::from(g) * G + u32::from(b) * B + (1 << 13)) >> 14) as u8
}

/// Encode grayscale pixels in the result format `input` calls for.
///
/// JPEG stays JPEG (JPEG has no alpha). Everything else becomes PNG: lossless, keeps alpha,
/// and every browser shows it. (`image` encodes WebP only losslessly and GIF only as a
/// palette, neither a good home for a grayscale photo.)
pub fn encode(
    luma: &Luma,
    input: ImageFormat,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let (width, height) = luma.dimensions();
    let mut bytes = Vec::new();
    let encode_err = |e: image::ImageError| KernelError::Encode(e.to_string());
    if let (ImageFormat::Jpeg, Luma::Opaque(gray)) = (input, luma) {
        JpegEncoder::new_with_quality(&mut bytes, settings.jpeg_quality)
            .encode_image(gray)
            .map_err(encode_err)?;
        return Ok(Processed {
            bytes,
            extension: "jpg",
            content_type: "image/jpeg",
            width,
            height,
        });
    }
    // Fast compression with adaptive filtering: close to the default level's size in a
    // fraction of its time.
    let encoder =
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Adaptive);
    match luma {
        Luma::Opaque(gray) => gray.write_with_encoder(encoder),
        Luma::WithAlpha(gray) => gray.write_with_encoder(encoder),
    }
    .map_err(encode_err)?;
    Ok(Processed {
        bytes,
        extension: "png",
        content_type: "image/png",
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn bt601_matches_the_reference_weights() {
        for (r, g, b) in [
            (255, 0, 0),
            (0, 255, 0),
            (0, 0, 255),
            (12, 200, 99),
            (255, 255, 255),
        ] {
            let reference = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
            let got = f64::from(bt601(r, g, b));
            assert!(
                (got - reference).abs() <= 0.5 + 1e-9,
                "{r},{g},{b}: {got} vs {reference}"
            );
        }
        assert_eq!(bt601(255, 255, 255), 255);
        assert_eq!(bt601(0, 0, 0), 0);
    }

    #[test]
    fn png_in_png_out_grayscale_same_size() {
        let img = RgbImage::from_fn(7, 5, |x, y| Rgb([x as u8 * 30, y as u8 * 40, 90]));
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let out = grayscale(&png, DecodeLimits::default()).unwrap();
        assert_eq!((out.extension, out.width, out.height), ("png", 7, 5));
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        let gray = decoded.as_luma8().expect("an 8-bit grayscale PNG");
        for (x, y, px) in img.enumerate_pixels() {
            assert_eq!(gray.get_pixel(x, y)[0], bt601(px[0], px[1], px[2]));
        }
    }

    #[test]
    fn a_truncated_jpeg_is_undecodable() {
        let img = RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 7]));
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert!(jpeg_is_complete(&jpeg));
        jpeg.truncate(jpeg.len() / 3);
        assert!(!jpeg_is_complete(&jpeg));
        match grayscale(&jpeg, DecodeLimits::default()) {
            Err(KernelError::Rejected(Rejection::Undecodable(_))) => {}
            other => panic!("expected undecodable, got {other:?}"),
        }
    }
}

/// The kernel against the real photographs and hostile inputs in `../shared/testdata`.
#[cfg(test)]
mod testdata {
    use std::path::PathBuf;

    use super::*;

    fn dir(kind: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata")
            .join(kind)
    }

    #[test]
    fn every_good_image_becomes_grayscale_of_the_same_size() {
        let mut seen = 0;
        for entry in std::fs::read_dir(dir("good")).expect("../shared/testdata/good exists") {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let out = grayscale(&bytes, DecodeLimits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let original = image::load_from_memory(&bytes).unwrap();
            let result = image::load_from_memory(&out.bytes).unwrap();
            assert!(
                matches!(result.color(), image::ColorType::L8 | image::ColorType::La8),
                "{}: {:?}",
                path.display(),
                result.color()
            );
            // No test image is rotated by EXIF, so sizes match the decoded original.
            assert_eq!(result.width(), original.width(), "{}", path.display());
            assert_eq!(result.height(), original.height(), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 10, "expected the test photographs, found {seen}");
    }

    #[test]
    fn hostile_files_are_refused_with_the_right_reason() {
        let read = |name: &str| std::fs::read(dir("bad").join(name)).unwrap();
        let code = |name: &str| match grayscale(&read(name), DecodeLimits::default()) {
            Err(KernelError::Rejected(rejection)) => rejection.code().as_str(),
            other => panic!("{name}: expected a rejection, got {other:?}"),
        };
        assert_eq!(code("empty.png"), "empty_file");
        assert_eq!(code("not-an-image.jpg"), "unsupported_media_type");
        assert_eq!(code("truncated.jpg"), "undecodable_image");
        assert_eq!(code("bomb-30000x30000.png"), "image_too_large");
    }
}
