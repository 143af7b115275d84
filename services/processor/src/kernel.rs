//! The pixel work: decode under limits, apply EXIF orientation, convert to BT.601 luma,
//! encode. Pure and synchronous; callers run it off the async runtime.
//!
//! JPEG, the common case, has its own path: `zune-jpeg` decodes only the luma plane (the
//! untrusted bytes are parsed by safe Rust; its `unsafe` is confined to SIMD kernels), and
//! libjpeg-turbo (through the `turbojpeg` crate) encodes the grayscale result, three times
//! faster than the pure-Rust encoders measured; it only ever reads a pixel buffer of ours.
//! Other formats decode with `image` and encode as PNG. Numbers and reasons:
//! `docs/performance.md`.

use std::io::Cursor;

use image::{
    DynamicImage, GrayAlphaImage, GrayImage, ImageDecoder, ImageFormat, ImageReader,
    codecs::png::{CompressionType, FilterType, PngEncoder},
    metadata::Orientation,
};
use imagepipe_shared::image_rules::{DecodeLimits, Rejection, inspect};
use zune_jpeg::{
    JpegDecoder,
    zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions},
};

/// JPEG quality of results: 95, OpenCV's `imencode` default, as the seed's output had.
/// Measured on the test photographs (mean |result - float BT.601 luma|): the Hubble deep
/// field, all fine noise, is at 2.24 grey levels at quality 90, 1.83 at 92 and 0.88 at 95;
/// the other photographs stay under 0.7 at any of these. 95 keeps every photograph well inside
/// the 2-level tolerance for about a third more bytes than 90 and ~10% more encoding time.
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

    if header.format == ImageFormat::Jpeg
        && let Some(luma) = jpeg_luma(bytes, limits)?
    {
        return Ok(Decoded {
            luma: Luma::Opaque(luma),
            format: header.format,
        });
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
        luma: to_bt601_luma(image),
        format: header.format,
    })
}

/// A YCbCr or grayscale JPEG's luma, straight from its Y plane, turned upright; `None` for
/// the rare JPEGs whose components are not luma first (CMYK, YCCK, RGB), which take the
/// general path.
///
/// The Y plane *is* BT.601 luma: a JFIF encoder computed it from the RGB pixels with the same
/// weights. Decoding only it skips the chroma planes' inverse DCT, their upsampling and the
/// colour conversion, two thirds of a 4:4:4 decode's work (the entropy-coded chroma data must
/// still be read, it is interleaved with the luma). It is what libjpeg (and so OpenCV's
/// `IMREAD_GRAYSCALE`) does too.
fn jpeg_luma(bytes: &[u8], limits: DecodeLimits) -> Result<Option<GrayImage>, KernelError> {
    let undecodable = |e: zune_jpeg::errors::DecodeErrors| Rejection::Undecodable(e.to_string());
    let side = usize::try_from(limits.max_side).unwrap_or(usize::MAX);
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        // Any size a JPEG can say: the limits are checked below, to refuse as too large
        // rather than as undecodable.
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        // Lenient like `image`'s decoder, so the same files decode; truncation is refused
        // before, by `jpeg_is_complete`.
        .set_strict_mode(false);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(undecodable)?;
    if !matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::Luma)
    ) {
        return Ok(None);
    }
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| Rejection::Undecodable("JPEG without dimensions".into()))?;
    let too_large = || Rejection::TooLarge {
        width: u32::try_from(width).unwrap_or(u32::MAX),
        height: u32::try_from(height).unwrap_or(u32::MAX),
        max_pixels: limits.max_pixels,
        max_side: limits.max_side,
    };
    // `inspect` read the same header; checked again here, on what this decoder will allocate
    // (one byte a pixel), before it allocates.
    let pixels = (width as u64).saturating_mul(height as u64);
    if pixels > limits.max_pixels || width > side || height > side {
        return Err(too_large().into());
    }
    let orientation = decoder
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(exif))
        .unwrap_or(Orientation::NoTransforms);
    let (w, h) = (
        u32::try_from(width).map_err(|_| too_large())?,
        u32::try_from(height).map_err(|_| too_large())?,
    );
    let grey = decoder.decode().map_err(undecodable)?;
    let grey = GrayImage::from_raw(w, h, grey).ok_or_else(|| {
        Rejection::Undecodable("JPEG decoded to fewer pixels than its size".into())
    })?;
    Ok(Some(orient(grey, orientation)))
}

/// Turn a grey plane upright. The identity (nearly every photograph) costs nothing.
fn orient(grey: GrayImage, orientation: Orientation) -> GrayImage {
    if orientation == Orientation::NoTransforms {
        return grey;
    }
    let mut image = DynamicImage::ImageLuma8(grey);
    image.apply_orientation(orientation);
    image.into_luma8()
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
            // From the end: the marker is (nearly) always the last two bytes, so a complete
            // file is answered at once instead of after a pass over megabytes of scan data.
            return scan.windows(2).rev().any(|w| w == [0xFF, EOI]);
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
pub fn to_bt601_luma(image: DynamicImage) -> Luma {
    match image {
        DynamicImage::ImageLuma8(gray) => Luma::Opaque(gray),
        DynamicImage::ImageLumaA8(gray) => Luma::WithAlpha(gray),
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
/// JPEG stays JPEG (grayscale, [`Settings::jpeg_quality`]; JPEG has no alpha). PNG stays PNG,
/// and so does everything else become PNG (WebP, GIF, BMP, TIFF): lossless, keeps alpha as
/// grey + alpha, and every browser shows it. (`image` encodes WebP only losslessly, where PNG
/// is as good for grey and better supported, GIF only as a 256-colour palette and animated
/// GIFs lose their frames after the first either way; BMP and TIFF are not for the web.)
pub fn encode(
    luma: &Luma,
    input: ImageFormat,
    settings: Settings,
) -> Result<Processed, KernelError> {
    let (width, height) = luma.dimensions();
    let mut bytes = Vec::new();
    let encode_err = |e: image::ImageError| KernelError::Encode(e.to_string());
    if let (ImageFormat::Jpeg, Luma::Opaque(gray)) = (input, luma) {
        return Ok(Processed {
            bytes: encode_jpeg(gray, settings.jpeg_quality)?,
            extension: "jpg",
            content_type: "image/jpeg",
            width,
            height,
        });
    }
    // `png`'s Fast level (the fdeflate compressor) with adaptive filtering. Measured on the
    // test images: the smallest files of all the combinations tried (Fast, Balanced, zlib
    // levels 1 and 3 × adaptive, none, sub, up, paeth), 30 times faster than Balanced, which is
    // even slightly larger. PNGs are dominated by their decode anyway.
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

/// A one-component (grayscale) baseline JPEG by libjpeg-turbo: no chroma to subsample or
/// code, standard Huffman tables (one pass over the pixels; optimised tables would need a
/// second for a few percent of size), the IJG quality scaling of the Annex K table, so
/// `quality` means what it means to libjpeg and OpenCV. Only a JFIF header: nothing of the
/// original's metadata.
fn encode_jpeg(gray: &GrayImage, quality: u8) -> Result<Vec<u8>, KernelError> {
    let encode_err = |e: turbojpeg::Error| KernelError::Encode(e.to_string());
    let (width, height) = gray.dimensions();
    let mut compressor = turbojpeg::Compressor::new().map_err(encode_err)?;
    compressor
        .set_quality(i32::from(quality))
        .map_err(encode_err)?;
    compressor
        .set_subsamp(turbojpeg::Subsamp::Gray)
        .map_err(encode_err)?;
    let image = turbojpeg::Image {
        pixels: gray.as_raw().as_slice(),
        width: width as usize,
        pitch: width as usize,
        height: height as usize,
        format: turbojpeg::PixelFormat::GRAY,
    };
    compressor.compress_to_vec(image).map_err(encode_err)
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

    /// A colour JPEG of `img`, by libjpeg-turbo (4:2:0, as cameras write them).
    fn jpeg_of(img: &RgbImage) -> Vec<u8> {
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
    fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
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
    fn mean_abs_diff(a: &GrayImage, b: &GrayImage) -> f64 {
        assert_eq!(a.dimensions(), b.dimensions());
        let total: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        total as f64 / a.as_raw().len() as f64
    }

    /// A smooth colour test card, wider than tall, so a rotation shows in the size.
    fn card() -> RgbImage {
        RgbImage::from_fn(96, 64, |x, y| {
            Rgb([(x * 2) as u8, (y * 3) as u8, (255 - x - y) as u8])
        })
    }

    #[test]
    fn jpeg_luma_plane_is_bt601_of_the_decoded_colours() {
        let jpeg = jpeg_of(&card());
        let Luma::Opaque(fast) = decode_luma(&jpeg, DecodeLimits::default()).unwrap().luma else {
            panic!("a JPEG has no alpha");
        };
        // The general path: decode to RGB, then BT.601.
        let rgb = image::load_from_memory(&jpeg).unwrap();
        let Luma::Opaque(slow) = to_bt601_luma(rgb) else {
            panic!("RGB has no alpha");
        };
        let diff = mean_abs_diff(&fast, &slow);
        assert!(diff < 1.0, "Y plane vs BT.601 of RGB: {diff}");
    }

    #[test]
    fn exif_orientation_is_applied_to_the_luma_plane() {
        let upright = card();
        let plain = jpeg_of(&upright);
        let Luma::Opaque(reference) = decode_luma(&plain, DecodeLimits::default()).unwrap().luma
        else {
            panic!("a JPEG has no alpha");
        };
        // 6: stored rotated a quarter turn anticlockwise; shown upright by turning it clockwise.
        for (orientation, expected) in [
            (1, reference.clone()),
            (3, image::imageops::rotate180(&reference)),
            (6, image::imageops::rotate90(&reference)),
            (8, image::imageops::rotate270(&reference)),
            (2, image::imageops::flip_horizontal(&reference)),
        ] {
            let jpeg = with_exif_orientation(&plain, orientation);
            let out = grayscale(&jpeg, DecodeLimits::default()).unwrap();
            assert_eq!(
                (out.width, out.height),
                expected.dimensions(),
                "orientation {orientation}"
            );
            let Luma::Opaque(got) = decode_luma(&jpeg, DecodeLimits::default()).unwrap().luma
            else {
                panic!("a JPEG has no alpha");
            };
            assert_eq!(got, expected, "orientation {orientation}");
        }
    }

    #[test]
    fn jpeg_stays_a_grayscale_jpeg_without_the_originals_metadata() {
        let jpeg = with_exif_orientation(&jpeg_of(&card()), 1);
        assert!(jpeg.windows(6).any(|w| w == b"Exif\0\0"));
        let out = grayscale(&jpeg, DecodeLimits::default()).unwrap();
        assert_eq!((out.extension, out.content_type), ("jpg", "image/jpeg"));
        assert_eq!(image::guess_format(&out.bytes).unwrap(), ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        assert_eq!(decoded.color(), image::ColorType::L8);
        assert_eq!((decoded.width(), decoded.height()), (96, 64));
        assert!(
            !out.bytes.windows(4).any(|w| w == b"Exif"),
            "EXIF must not be copied"
        );
        assert!(jpeg_is_complete(&out.bytes));
    }

    #[test]
    fn a_jpeg_over_the_limits_is_refused_before_decoding() {
        let jpeg = jpeg_of(&card());
        for limits in [
            DecodeLimits {
                max_pixels: 96 * 64 - 1,
                max_side: 1000,
            },
            DecodeLimits {
                max_pixels: 1_000_000,
                max_side: 95,
            },
        ] {
            match grayscale(&jpeg, limits) {
                Err(KernelError::Rejected(Rejection::TooLarge { width: 96, .. })) => {}
                other => panic!("{limits:?}: expected too large, got {other:?}"),
            }
            // The luma path checks on its own too, whatever was checked before it.
            match jpeg_luma(&jpeg, limits) {
                Err(KernelError::Rejected(Rejection::TooLarge { .. })) => {}
                other => panic!("{limits:?}: expected too large, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_corrupt_jpeg_scan_is_undecodable_not_a_crash() {
        let mut jpeg = jpeg_of(&card());
        // Garbage over the middle of the entropy-coded data, the end marker left in place.
        let n = jpeg.len();
        for b in &mut jpeg[n / 2..n - 2] {
            *b = 0xFF;
        }
        match grayscale(&jpeg, DecodeLimits::default()) {
            Ok(out) => assert_eq!((out.width, out.height), (96, 64)), // lenient, like libjpeg
            Err(KernelError::Rejected(Rejection::Undecodable(_))) => {}
            Err(other) => panic!("expected undecodable, got {other:?}"),
        }
    }

    #[test]
    fn a_cmyk_jpeg_takes_the_general_path() {
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_subsamp(turbojpeg::Subsamp::None).unwrap();
        let cmyk = vec![40u8; 32 * 16 * 4];
        let jpeg = compressor
            .compress_to_vec(turbojpeg::Image {
                pixels: cmyk.as_slice(),
                width: 32,
                pitch: 32 * 4,
                height: 16,
                format: turbojpeg::PixelFormat::CMYK,
            })
            .unwrap();
        assert!(jpeg_luma(&jpeg, DecodeLimits::default()).unwrap().is_none());
        let out = grayscale(&jpeg, DecodeLimits::default()).unwrap();
        assert_eq!((out.extension, out.width, out.height), ("jpg", 32, 16));
    }

    #[test]
    fn alpha_is_kept_as_grey_and_alpha() {
        let img =
            image::RgbaImage::from_fn(5, 4, |x, y| image::Rgba([200, 10, 30, (x * y * 10) as u8]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img.clone())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let out = grayscale(&png, DecodeLimits::default()).unwrap();
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        let gray = decoded.as_luma_alpha8().expect("8-bit grey + alpha");
        for (x, y, px) in img.enumerate_pixels() {
            assert_eq!(gray.get_pixel(x, y).0, [bt601(200, 10, 30), px[3]]);
        }
    }

    #[test]
    fn other_formats_become_png() {
        let img = DynamicImage::ImageRgb8(card());
        for format in [ImageFormat::Bmp, ImageFormat::Tiff, ImageFormat::Gif] {
            let mut bytes = Vec::new();
            img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
            let out = grayscale(&bytes, DecodeLimits::default()).unwrap();
            assert_eq!(
                (out.extension, out.content_type, out.width, out.height),
                ("png", "image/png", 96, 64),
                "{format:?}"
            );
            assert_eq!(image::guess_format(&out.bytes).unwrap(), ImageFormat::Png);
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
