//! Header inspection (`image_rules::inspect`), what ingest runs on every upload before
//! anything is stored: any bytes get a verdict, never a panic, and an accepted header is
//! within the limits it was given.
#![no_main]

use imagepipe_wire::image_rules::{DecodeLimits, inspect};
use libfuzzer_sys::fuzz_target;

const LIMITS: DecodeLimits = DecodeLimits {
    max_pixels: 4_000_000,
    max_side: 4096,
};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(header) = inspect(bytes, LIMITS) {
        let (width, height) = header.oriented_size();
        assert!(u64::from(width) * u64::from(height) <= LIMITS.max_pixels);
        assert!(width <= LIMITS.max_side && height <= LIMITS.max_side);
    }
});
