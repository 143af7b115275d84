//! The kernel's pixels against independent references: each op of a chain run by
//! `kernel::run` on real test photographs, its result written losslessly (PNG), and compared
//! with the same op done by Pillow, OpenCV or NumPy (`tests/reference/*.py`), exactly where
//! the op is exact and within a stated tolerance where two correct filters may round
//! differently. And every output format decoded by Pillow, an independent decoder.
//!
//! The inputs: `rocket.jpg` (a colour JPEG photograph), `chelsea.png` (colour PNG, no alpha),
//! `logo.png` (colour with alpha), `camera.png` (grey), and the 2 and 12 MP JPEG photographs
//! for shrink-on-load. One test binary (see the README on test binaries), several tests.

mod decode;
mod exact;
mod faces;
mod filters;
mod formats;
mod harness;
mod resize;
