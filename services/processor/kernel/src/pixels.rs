//! The image a chain works on: 8-bit pixels in one of four layouts, rows top to bottom, no
//! padding. Every decoder's output is converted to one of these, so each step handles four
//! cases, not `image`'s dozen.

use image::{DynamicImage, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

use super::luma::Luma;

/// The channels of a pixel, in memory order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Grey.
    L,
    /// Grey and alpha.
    La,
    Rgb,
    Rgba,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Layout::L => 1,
            Layout::La => 2,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }

    pub fn has_alpha(self) -> bool {
        matches!(self, Layout::La | Layout::Rgba)
    }

    pub fn is_grey(self) -> bool {
        matches!(self, Layout::L | Layout::La)
    }
}

/// An upright image, `width × height × channels` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub data: Vec<u8>,
}

impl Pixels {
    /// `None` when `data` is not exactly `width × height` pixels of `layout`.
    pub fn new(width: u32, height: u32, layout: Layout, data: Vec<u8>) -> Option<Self> {
        let expected = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(layout.channels())?;
        (data.len() == expected).then_some(Self {
            width,
            height,
            layout,
            data,
        })
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Other pixels of the same size and layout (an op's output).
    pub(crate) fn with_data(&self, data: Vec<u8>) -> Self {
        Self {
            width: self.width,
            height: self.height,
            layout: self.layout,
            data,
        }
    }

    /// Bytes in one row.
    pub fn stride(&self) -> usize {
        self.width as usize * self.layout.channels()
    }

    /// Any decoded image, as 8-bit pixels of the nearest layout (16-bit and float images are
    /// scaled to 8 bits, as every output format here stores 8).
    pub fn from_dynamic(image: DynamicImage) -> Self {
        let (width, height) = (image.width(), image.height());
        let (layout, data) = match image {
            DynamicImage::ImageLuma8(img) => (Layout::L, img.into_raw()),
            DynamicImage::ImageLumaA8(img) => (Layout::La, img.into_raw()),
            DynamicImage::ImageRgb8(img) => (Layout::Rgb, img.into_raw()),
            DynamicImage::ImageRgba8(img) => (Layout::Rgba, img.into_raw()),
            other => {
                let colour = other.color();
                match (colour.has_color(), colour.has_alpha()) {
                    (false, false) => (Layout::L, other.into_luma8().into_raw()),
                    (false, true) => (Layout::La, other.into_luma_alpha8().into_raw()),
                    (true, false) => (Layout::Rgb, other.into_rgb8().into_raw()),
                    (true, true) => (Layout::Rgba, other.into_rgba8().into_raw()),
                }
            }
        };
        Self {
            width,
            height,
            layout,
            data,
        }
    }

    /// The same pixels as an `image` buffer (moved, not copied), for its encoders.
    pub fn into_dynamic(self) -> DynamicImage {
        let Self {
            width,
            height,
            layout,
            data,
        } = self;
        // `Pixels` keeps its length right, so these never fail; an empty image is the
        // harmless answer if one did.
        match layout {
            Layout::L => GrayImage::from_raw(width, height, data).map(DynamicImage::ImageLuma8),
            Layout::La => {
                GrayAlphaImage::from_raw(width, height, data).map(DynamicImage::ImageLumaA8)
            }
            Layout::Rgb => RgbImage::from_raw(width, height, data).map(DynamicImage::ImageRgb8),
            Layout::Rgba => RgbaImage::from_raw(width, height, data).map(DynamicImage::ImageRgba8),
        }
        .unwrap_or_default()
    }
}

/// Pixels borrowed, for the encoders: what they read, whoever owns it.
#[derive(Debug, Clone, Copy)]
pub struct PixelsRef<'a> {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub data: &'a [u8],
}

impl Pixels {
    pub fn as_ref(&self) -> PixelsRef<'_> {
        PixelsRef {
            width: self.width,
            height: self.height,
            layout: self.layout,
            data: &self.data,
        }
    }
}

impl<'a> From<&'a Luma> for PixelsRef<'a> {
    fn from(luma: &'a Luma) -> Self {
        let (width, height) = luma.dimensions();
        let (layout, data) = match luma {
            Luma::Opaque(grey) => (Layout::L, grey.as_raw().as_slice()),
            Luma::WithAlpha(grey) => (Layout::La, grey.as_raw().as_slice()),
        };
        Self {
            width,
            height,
            layout,
            data,
        }
    }
}

impl From<Luma> for Pixels {
    fn from(luma: Luma) -> Self {
        let (width, height) = luma.dimensions();
        let (layout, data) = match luma {
            Luma::Opaque(grey) => (Layout::L, grey.into_raw()),
            Luma::WithAlpha(grey) => (Layout::La, grey.into_raw()),
        };
        Self {
            width,
            height,
            layout,
            data,
        }
    }
}
