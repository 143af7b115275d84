//! Shrink-on-load, the one path where untrusted JPEG bytes reach C (libjpeg-turbo's scaled
//! decode): any bytes get pixels or a rejection, never a crash, and pixels are never larger
//! than the limits allow.
#![no_main]

use imagepipe_kernel::decode::{ShrinkTarget, jpeg_scaled};
use imagepipe_wire::image_rules::DecodeLimits;
use libfuzzer_sys::fuzz_target;

const LIMITS: DecodeLimits = DecodeLimits {
    max_pixels: 4_000_000,
    max_side: 4096,
};

fuzz_target!(|input: &[u8]| {
    // The first two bytes choose the size to shrink towards and grey or colour.
    let Some((choice, bytes)) = input.split_first_chunk::<2>() else {
        return;
    };
    let side = u32::from(choice[0]).max(1) * 4;
    let target = ShrinkTarget {
        at_least: (side, side),
        grey: choice[1] & 1 == 1,
    };
    if let Ok(Some(pixels)) = jpeg_scaled(bytes, LIMITS, target) {
        let (width, height) = pixels.dimensions();
        assert!(u64::from(width) * u64::from(height) <= LIMITS.max_pixels);
    }
});
