//! What ingest and the processor agree an acceptable image is: the formats, decided from the
//! bytes (magic numbers) and never from a name or a client's Content-Type, and the size
//! limits, read from the header before any pixel is decoded.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};

use image::{ImageDecoder, ImageFormat, ImageReader, metadata::Orientation};

use crate::messages::ErrorCode;

/// How big an image may be. Checked against the header before decoding, and enforced again
/// by the decoder's own limits, so a file whose header lies still cannot exhaust memory.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_pixels: u64,
    pub max_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            max_side: 16_384,
        }
    }
}

impl DecodeLimits {
    /// Limits for `image`'s decoders: the sides, and an allocation ceiling of the largest
    /// buffer an accepted image needs (RGBA at 16 bits per channel: 8 bytes a pixel).
    pub fn decoder_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(self.max_pixels.saturating_mul(8));
        limits
    }
}

/// The formats imagepipe accepts.
pub const ACCEPTED_FORMATS: [ImageFormat; 6] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::WebP,
    ImageFormat::Gif,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
];

/// Why an image is refused. All are permanent: retrying cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the file is empty")]
    Empty,
    #[error("the bytes are not an image in an accepted format (JPEG, PNG, WebP, GIF, BMP, TIFF)")]
    Unsupported,
    #[error(
        "image is {width}x{height} pixels, over the limit of {max_pixels} pixels or {max_side} per side"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    #[error("image cannot be decoded: {0}")]
    Undecodable(String),
}

impl Rejection {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Empty => ErrorCode::EmptyFile,
            Self::Unsupported => ErrorCode::UnsupportedMediaType,
            Self::TooLarge { .. } => ErrorCode::ImageTooLarge,
            Self::Undecodable(_) => ErrorCode::UndecodableImage,
        }
    }
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: ImageFormat,
    /// As stored, before the EXIF orientation is applied.
    pub width: u32,
    pub height: u32,
    /// The EXIF orientation the pixels get before any step (`NoTransforms` without one).
    pub orientation: Orientation,
}

impl Header {
    pub fn media_type(&self) -> &'static str {
        self.format.to_mime_type()
    }

    /// The size the image has once upright: what the first step of a chain is given.
    pub fn oriented_size(&self) -> (u32, u32) {
        match self.orientation {
            Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH => (self.height, self.width),
            Orientation::NoTransforms
            | Orientation::Rotate180
            | Orientation::FlipHorizontal
            | Orientation::FlipVertical => (self.width, self.height),
        }
    }
}

/// Sniff the format and read the dimensions from the header, without decoding pixels.
pub fn inspect(bytes: &[u8], limits: DecodeLimits) -> Result<Header, Rejection> {
    inspect_reader(Cursor::new(bytes), limits)
}

/// [`inspect`] for an image that is not in memory (a spooled upload): reads its first bytes
/// and its header only.
pub fn inspect_reader<R: BufRead + Seek>(
    mut reader: R,
    limits: DecodeLimits,
) -> Result<Header, Rejection> {
    let undecodable = |e: std::io::Error| Rejection::Undecodable(e.to_string());
    // Enough for every signature `image` knows.
    let mut magic = Vec::with_capacity(32);
    (&mut reader)
        .take(32)
        .read_to_end(&mut magic)
        .map_err(undecodable)?;
    reader.seek(SeekFrom::Start(0)).map_err(undecodable)?;
    if magic.is_empty() {
        return Err(Rejection::Empty);
    }
    let format = image::guess_format(&magic).map_err(|_| Rejection::Unsupported)?;
    if !ACCEPTED_FORMATS.contains(&format) {
        return Err(Rejection::Unsupported);
    }
    let undecodable = |e: image::ImageError| Rejection::Undecodable(e.to_string());
    let mut decoder = ImageReader::with_format(reader, format)
        .into_decoder()
        .map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    // A broken EXIF block is no reason to refuse an image the decoder can read: upright as is.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return Err(Rejection::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    Ok(Header {
        format,
        width,
        height,
        orientation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::DynamicImage::new_rgb8(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn reads_format_and_size_from_the_header() {
        let header = inspect(&png(7, 3), DecodeLimits::default()).unwrap();
        assert_eq!(
            (header.format, header.width, header.height),
            (ImageFormat::Png, 7, 3)
        );
        assert_eq!(header.media_type(), "image/png");
    }

    #[test]
    fn refuses_empty_text_and_oversized_images() {
        let limits = DecodeLimits {
            max_pixels: 20,
            max_side: 5,
        };
        assert_eq!(inspect(b"", limits), Err(Rejection::Empty));
        assert_eq!(
            inspect(b"plain text, not pixels", limits),
            Err(Rejection::Unsupported)
        );
        assert!(matches!(
            inspect(&png(6, 1), limits),
            Err(Rejection::TooLarge { width: 6, .. })
        ));
        assert!(matches!(
            inspect(&png(5, 5), limits),
            Err(Rejection::TooLarge { .. })
        ));
        assert!(inspect(&png(5, 4), limits).is_ok());
    }
}
