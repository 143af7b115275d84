//! A job's analysis, bounded before its result is stored: larger than `MAX_ANALYSIS_BYTES`
//! as JSON, it would make every event, row, API answer and webhook that carries it as large,
//! so the task fails instead (`analysis_too_large`). The same image and chain find the same
//! again, so the failure is permanent, and nothing of the task is kept: no result object.

use imagepipe_shared::{
    analysis::Analysis,
    messages::{ErrorCode, TaskFailure},
};

/// The analysis a COMPLETED event carries: `None` when the chain found nothing to report (it
/// has no model step), the analysis itself when its JSON is at most `max_bytes` long, and the
/// task's failure when it is longer.
pub(crate) fn bounded(
    analysis: Analysis,
    max_bytes: usize,
) -> Result<Option<Analysis>, TaskFailure> {
    if analysis.is_empty() {
        return Ok(None);
    }
    let size = json_size(&analysis).map_err(|err| TaskFailure {
        code: ErrorCode::ProcessingFailed,
        message: format!("the analysis cannot be written as JSON: {err}"),
    })?;
    if size > max_bytes {
        return Err(TaskFailure {
            code: ErrorCode::AnalysisTooLarge,
            message: format!(
                "the analysis of {} model steps is {size} bytes of JSON, more than MAX_ANALYSIS_BYTES ({max_bytes})",
                analysis.len()
            ),
        });
    }
    Ok(Some(analysis))
}

/// The length of `analysis` as the event will carry it (compact JSON), counted without
/// keeping the text.
fn json_size(analysis: &Analysis) -> serde_json::Result<usize> {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, analysis)?;
    Ok(counter.0)
}

#[cfg(test)]
mod tests {
    use imagepipe_shared::analysis::{AnalysisEntry, Face, FaceBox, Point};

    use super::*;

    fn faces(n: usize) -> Analysis {
        let face = Face {
            bounds: FaceBox {
                x: 178.5,
                y: 81.0,
                width: 94.0,
                height: 94.0,
            },
            score: 0.92,
            keypoints: vec![Point { x: 200.0, y: 110.0 }; 6],
        };
        vec![AnalysisEntry {
            step: 0,
            op: "detect_faces".into(),
            model: "blazeface-front-128".into(),
            faces: Some(vec![face; n]),
            outputs: None,
            classes: None,
        }]
    }

    #[test]
    fn no_model_step_means_no_analysis_whatever_the_limit() {
        assert_eq!(bounded(Vec::new(), 0), Ok(None));
    }

    #[test]
    fn the_limit_is_the_compact_json_length_inclusive() {
        let analysis = faces(3);
        let size = serde_json::to_vec(&analysis).unwrap().len();
        assert_eq!(json_size(&analysis).unwrap(), size);
        assert_eq!(bounded(analysis.clone(), size), Ok(Some(analysis.clone())));
        let failure = bounded(analysis, size - 1).expect_err("one byte over");
        assert_eq!(failure.code, ErrorCode::AnalysisTooLarge);
        assert!(
            failure.message.contains(&format!("{size} bytes"))
                && failure.message.contains("MAX_ANALYSIS_BYTES"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn the_default_limit_holds_hundreds_of_faces_but_not_thousands() {
        use imagepipe_shared::analysis::DEFAULT_MAX_ANALYSIS_BYTES;
        assert!(bounded(faces(100), DEFAULT_MAX_ANALYSIS_BYTES).is_ok());
        let failure = bounded(faces(2000), DEFAULT_MAX_ANALYSIS_BYTES).expect_err("too many");
        assert_eq!(failure.code.as_str(), "analysis_too_large");
    }
}
