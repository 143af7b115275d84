//! The model's raw outputs to detections, MediaPipe's way: a score through the sigmoid, a box
//! and six keypoints as offsets from the anchor's centre in pixels of the 128×128 input.

use super::anchors::Grid;

/// The model's input side, in pixels: the unit of its offsets.
pub(super) const INPUT_SIDE: usize = 128;
/// Values per anchor in the box outputs: centre x, y, width, height, then six (x, y).
pub(super) const BOX_VALUES: usize = 16;
pub(super) const KEYPOINTS: usize = 6;

/// A face the model sees, in units of the input's side (0 to 1), y downwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Detection {
    pub score: f32,
    pub centre: (f32, f32),
    pub size: (f32, f32),
    pub keypoints: [(f32, f32); KEYPOINTS],
}

impl Detection {
    /// Left, top, right, bottom.
    pub(super) fn edges(&self) -> (f32, f32, f32, f32) {
        let (half_w, half_h) = (self.size.0 / 2.0, self.size.1 / 2.0);
        (
            self.centre.0 - half_w,
            self.centre.1 - half_h,
            self.centre.0 + half_w,
            self.centre.1 + half_h,
        )
    }

    /// Intersection over union of the two boxes.
    pub(super) fn iou(&self, other: &Detection) -> f32 {
        let (al, at, ar, ab) = self.edges();
        let (bl, bt, br, bb) = other.edges();
        let inner = (ar.min(br) - al.max(bl)).max(0.0) * (ab.min(bb) - at.max(bt)).max(0.0);
        let union = self.size.0 * self.size.1 + other.size.0 * other.size.1 - inner;
        if union > 0.0 { inner / union } else { 0.0 }
    }
}

/// Every anchor of `grid` scoring at least `min_score`, decoded. `scores` holds one raw value
/// per anchor, `boxes` [`BOX_VALUES`] per anchor; shorter outputs are the caller's error.
pub(super) fn candidates(
    grid: Grid,
    scores: &[f32],
    boxes: &[f32],
    min_score: f32,
) -> Vec<Detection> {
    let unit = 1.0 / INPUT_SIDE as f32;
    grid.centres()
        .zip(scores)
        .zip(boxes.chunks_exact(BOX_VALUES))
        .filter_map(|((anchor, &raw), values)| {
            // Clipped as MediaPipe clips it, so that a huge logit stays finite.
            let score = 1.0 / (1.0 + (-raw.clamp(-100.0, 100.0)).exp());
            if score < min_score || !score.is_finite() {
                return None;
            }
            let at = |i: usize| (anchor.0 + values[i] * unit, anchor.1 + values[i + 1] * unit);
            let mut keypoints = [(0.0, 0.0); KEYPOINTS];
            for (k, point) in keypoints.iter_mut().enumerate() {
                *point = at(4 + 2 * k);
            }
            Some(Detection {
                score,
                centre: at(0),
                size: (values[2] * unit, values[3] * unit),
                keypoints,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::blazeface::anchors::GRIDS;

    #[test]
    fn offsets_are_input_pixels_from_the_anchor_and_scores_pass_the_sigmoid() {
        let grid = GRIDS[1];
        let mut scores = vec![-10.0; grid.len()];
        let mut boxes = vec![0.0; grid.len() * BOX_VALUES];
        // Anchor 6 is the second cell of the first row: centre (24, 8) px of the input.
        scores[6] = 2.0;
        let values = &mut boxes[6 * BOX_VALUES..7 * BOX_VALUES];
        values[..4].copy_from_slice(&[8.0, -4.0, 32.0, 16.0]);
        values[4] = 1.0;
        let found = candidates(grid, &scores, &boxes, 0.5);
        assert_eq!(found.len(), 1);
        let face = found[0];
        assert!((face.score - 0.880_797).abs() < 1e-5, "{}", face.score);
        assert_eq!(face.centre, (32.0 / 128.0, 4.0 / 128.0));
        assert_eq!(face.size, (0.25, 0.125));
        assert_eq!(face.keypoints[0], (25.0 / 128.0, 8.0 / 128.0));
        assert_eq!(
            face.edges(),
            (0.125, 4.0 / 128.0 - 0.0625, 0.375, 4.0 / 128.0 + 0.0625)
        );
    }

    #[test]
    fn iou_of_boxes() {
        let at = |x: f32, w: f32| Detection {
            score: 1.0,
            centre: (x, 0.5),
            size: (w, 0.2),
            keypoints: [(0.0, 0.0); KEYPOINTS],
        };
        assert!((at(0.5, 0.2).iou(&at(0.5, 0.2)) - 1.0).abs() < 1e-5);
        assert_eq!(at(0.2, 0.2).iou(&at(0.8, 0.2)), 0.0);
        // Half overlapping: 1/3.
        assert!((at(0.4, 0.2).iou(&at(0.5, 0.2)) - 1.0 / 3.0).abs() < 1e-5);
    }
}
