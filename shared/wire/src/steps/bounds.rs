//! The numeric bounds of every step parameter, the one place they are defined. The
//! `validator` attributes in `types` repeat them for the OpenAPI document, checked by a test.

pub const MIN_SIGMA: f32 = 0.1;
pub const MAX_BLUR_SIGMA: f32 = 50.0;
pub const MAX_SHARPEN_SIGMA: f32 = 10.0;
pub const MAX_SHARPEN_AMOUNT: f32 = 10.0;
pub const MIN_QUALITY: u8 = 1;
pub const MAX_QUALITY: u8 = 100;
/// Default of `MAX_DELAY_MS`, the largest `delay`.
pub const DEFAULT_MAX_DELAY_MS: u64 = 60_000;
/// Default of `MAX_STEPS`.
pub const DEFAULT_MAX_STEPS: usize = 16;
/// Longest `steps` field accepted, in bytes.
pub const MAX_STEPS_BYTES: usize = 16 * 1024;
/// Default `min_score` of the face steps: BlazeFace's scores on the test photographs
/// are 0.92 for a clear face and under 0.4 for none (the README, "Models").
pub const DEFAULT_MIN_FACE_SCORE: f32 = 0.75;
/// Default `padding` of `blur_faces`, a fraction of the box's side added on each side:
/// BlazeFace's box holds the eyes, nose and mouth, not the hair, ears and chin.
pub const DEFAULT_FACE_PADDING: f32 = 0.25;
/// Largest `padding` of `blur_faces`.
pub const MAX_FACE_PADDING: f32 = 1.0;
