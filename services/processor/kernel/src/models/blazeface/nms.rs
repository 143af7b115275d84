//! MediaPipe's weighted non-maximum suppression: overlapping detections of one face are
//! blended, weighted by score, instead of the best alone being kept; it steadies the box.

use super::decode::{Detection, KEYPOINTS};

/// Detections overlapping the best by more than this are the same face (MediaPipe's 0.3).
const SAME_FACE_IOU: f32 = 0.3;

/// One detection per face, best score first.
pub(super) fn weighted_nms(mut detections: Vec<Detection>) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut faces = Vec::new();
    while let Some(best) = detections.first().copied() {
        let (same, rest): (Vec<_>, Vec<_>) = detections
            .into_iter()
            .partition(|d| best.iou(d) > SAME_FACE_IOU || *d == best);
        faces.push(blend(best.score, &same));
        detections = rest;
    }
    faces
}

/// The score-weighted mean of a group's geometry, with the best's score.
fn blend(score: f32, group: &[Detection]) -> Detection {
    if let [alone] = group {
        return *alone;
    }
    let total: f32 = group.iter().map(|d| d.score).sum();
    let mean = |value: &dyn Fn(&Detection) -> f32| {
        group.iter().map(|d| d.score * value(d)).sum::<f32>() / total
    };
    let mut keypoints = [(0.0, 0.0); KEYPOINTS];
    for (k, point) in keypoints.iter_mut().enumerate() {
        *point = (mean(&|d| d.keypoints[k].0), mean(&|d| d.keypoints[k].1));
    }
    Detection {
        score,
        centre: (mean(&|d| d.centre.0), mean(&|d| d.centre.1)),
        size: (mean(&|d| d.size.0), mean(&|d| d.size.1)),
        keypoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(score: f32, x: f32) -> Detection {
        Detection {
            score,
            centre: (x, 0.5),
            size: (0.2, 0.2),
            keypoints: [(x, 0.5); KEYPOINTS],
        }
    }

    #[test]
    fn overlapping_detections_blend_by_score_and_apart_ones_stay() {
        let faces = weighted_nms(vec![at(0.6, 0.32), at(0.9, 0.3), at(0.8, 0.8)]);
        assert_eq!(faces.len(), 2);
        assert_eq!(faces[0].score, 0.9);
        let blended = (0.9 * 0.3 + 0.6 * 0.32) / 1.5;
        assert!((faces[0].centre.0 - blended).abs() < 1e-6);
        assert!((faces[0].keypoints[3].0 - blended).abs() < 1e-6);
        assert_eq!(faces[1], at(0.8, 0.8));
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(weighted_nms(Vec::new()).is_empty());
    }
}
