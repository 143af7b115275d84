//! The steps parser and the chain check, on a client's `steps` field: any bytes get steps or
//! problems with pointers, never a panic; a chain that passes the rules has a canonical text
//! that reads back as the same chain; sizes stay within the limits whatever the image's size.
#![no_main]

use imagepipe_wire::{
    image_rules::DecodeLimits,
    steps::{ChainRules, canonical, parse_steps},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first four bytes choose the image's size, the rest is the field.
    let Some((size, field)) = input.split_first_chunk::<4>() else {
        return;
    };
    let width = u32::from(u16::from_le_bytes([size[0], size[1]])).max(1);
    let height = u32::from(u16::from_le_bytes([size[2], size[3]])).max(1);
    let steps = match parse_steps(field) {
        Ok(steps) => steps,
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(problems.iter().all(|p| p.pointer.starts_with("/steps")));
            return;
        }
    };
    let rules = ChainRules {
        max_steps: 16,
        max_delay_ms: 60_000,
        limits: DecodeLimits {
            max_pixels: 40_000_000,
            max_side: 16_384,
        },
    };
    // A chain is only ever checked on an image that passed `inspect`, within the limits (the
    // first crash this target found was a 4096×61953 "original" with no steps).
    let limits = rules.limits;
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side
    {
        return;
    }
    // The canonical form is taken of checked chains only (ingest checks first): one that
    // passed reads back as itself. (Unchecked, a sigma too large for f32 is infinite, and
    // JSON writes that as null: the check refuses it, which is this target's second find.)
    if rules.check_steps(&steps, "/steps").is_ok() {
        let again = parse_steps(canonical(&steps).as_bytes()).expect("the canonical form parses");
        assert_eq!(canonical(&again), canonical(&steps));
    }
    if let Ok((out_w, out_h)) = rules.check(&steps, (width, height), "/steps") {
        assert!(u64::from(out_w) * u64::from(out_h) <= rules.limits.max_pixels);
        assert!(out_w >= 1 && out_h >= 1);
    }
});
