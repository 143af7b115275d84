//! A declared model's outputs as its report says: `raw` tensors, bounded, or `classes`, the
//! softmax's top k with their labels. A report that cannot be made as declared fails the
//! task (`inference_failed`): the same image would give the same outputs again.

use imagepipe_shared::{
    analysis::{AnalysisEntry, ClassScore, Tensor},
    models::{DeclaredModel, ReportSpec},
};

use super::onnx::Output;

/// What an `infer` step reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Outputs(Vec<Tensor>),
    Classes(Vec<ClassScore>),
}

/// The analysis entry of an `infer` step (chain step `step`) whose model gave `outputs`.
pub fn analysis_entry(
    spec: &DeclaredModel,
    step: usize,
    outputs: Vec<Output>,
) -> Result<AnalysisEntry, String> {
    let (outputs, classes) = match report(&spec.report, outputs)? {
        Report::Outputs(tensors) => (Some(tensors), None),
        Report::Classes(classes) => (None, Some(classes)),
    };
    Ok(AnalysisEntry {
        step: step as u32,
        op: "infer".to_owned(),
        model: spec.name.clone(),
        faces: None,
        outputs,
        classes,
    })
}

/// The report of `outputs` (every output of one run, in the model's order).
pub fn report(spec: &ReportSpec, outputs: Vec<Output>) -> Result<Report, String> {
    match spec {
        ReportSpec::Raw {
            outputs: chosen,
            max_values,
        } => {
            let picked: Vec<Output> = match chosen {
                None => outputs,
                Some(names) => names
                    .iter()
                    .map(|name| {
                        outputs
                            .iter()
                            .find(|o| &o.name == name)
                            .cloned()
                            .ok_or_else(|| format!("the model gave no output `{name}`"))
                    })
                    .collect::<Result<_, _>>()?,
            };
            picked
                .into_iter()
                .map(|output| {
                    if output.values.len() > *max_values {
                        return Err(format!(
                            "output `{}` has {} values, more than its max_values ({max_values})",
                            output.name,
                            output.values.len()
                        ));
                    }
                    finite(&output)?;
                    Ok(Tensor {
                        shape: output.shape.iter().map(|&d| d.max(0) as u64).collect(),
                        values: output.values.iter().copied().map(widened).collect(),
                        name: output.name,
                    })
                })
                .collect::<Result<_, _>>()
                .map(Report::Outputs)
        }
        ReportSpec::Classes {
            output,
            top_k,
            labels,
            softmax,
        } => {
            let scored = match output {
                Some(name) => outputs
                    .iter()
                    .find(|o| &o.name == name)
                    .ok_or_else(|| format!("the model gave no output `{name}`"))?,
                None => match outputs.as_slice() {
                    [only] => only,
                    _ => {
                        return Err(format!(
                            "the model gave {} outputs: name the one to score (report.output)",
                            outputs.len()
                        ));
                    }
                },
            };
            if scored.values.len() != labels.len() {
                return Err(format!(
                    "output `{}` has {} values for {} labels",
                    scored.name,
                    scored.values.len(),
                    labels.len()
                ));
            }
            finite(scored)?;
            let scores = if *softmax {
                softmax_of(&scored.values)
            } else {
                scored.values.iter().copied().map(widened).collect()
            };
            Ok(Report::Classes(top(&scores, labels, *top_k)))
        }
    }
}

fn finite(output: &Output) -> Result<(), String> {
    match output.values.iter().position(|v| !v.is_finite()) {
        Some(at) => Err(format!(
            "output `{}` has a value that is not a finite number at {at}: {}",
            output.name, output.values[at]
        )),
        None => Ok(()),
    }
}

/// A float32 as the f64 of its shortest decimal: the JSON shows `0.92`, not the
/// `0.9200000166893004` that widening gives, and reads back as the same float32.
fn widened(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// Softmax, in f64 from the largest value down so no exponential overflows, to 6 decimals.
fn softmax_of(values: &[f32]) -> Vec<f64> {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = values.iter().map(|&v| f64::from(v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum * 1e6).round() / 1e6).collect()
}

/// The `k` best scores with their labels, best first; equal scores in index order.
fn top(scores: &[f64], labels: &[String], k: usize) -> Vec<ClassScore> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|index| ClassScore {
            label: labels[index].clone(),
            index: index as u32,
            score: scores[index],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(name: &str, shape: &[i64], values: &[f32]) -> Output {
        Output {
            name: name.into(),
            shape: shape.to_vec(),
            values: values.to_vec(),
        }
    }

    fn classes(top_k: usize, softmax: bool) -> ReportSpec {
        ReportSpec::Classes {
            output: None,
            top_k,
            labels: ["red", "green", "blue", "grey"].map(String::from).to_vec(),
            softmax,
        }
    }

    #[test]
    fn classes_are_the_softmax_top_k_best_first() {
        let logits = output("logits", &[1, 4], &[1.0, 3.0, 2.0, 3.0]);
        let Report::Classes(best) = report(&classes(3, true), vec![logits]).unwrap() else {
            panic!("classes")
        };
        let e = [1f64, 3.0, 2.0, 3.0].map(f64::exp);
        let sum: f64 = e.iter().sum();
        let got: Vec<_> = best.iter().map(|c| (c.label.as_str(), c.index)).collect();
        // Equal scores in index order.
        assert_eq!(got, [("green", 1), ("grey", 3), ("blue", 2)]);
        for class in &best {
            let want = e[class.index as usize] / sum;
            assert!((class.score - want).abs() < 1e-6, "{class:?}");
        }
        // Large logits do not overflow.
        let large = output("logits", &[4], &[1000.0, 0.0, 0.0, 0.0]);
        let Report::Classes(best) = report(&classes(1, true), vec![large]).unwrap() else {
            panic!("classes")
        };
        assert_eq!((best[0].index, best[0].score), (0, 1.0));
        // Probabilities already: kept as they are; k larger than the classes: all of them.
        let probabilities = output("p", &[4], &[0.1, 0.2, 0.3, 0.4]);
        let Report::Classes(best) = report(&classes(10, false), vec![probabilities]).unwrap()
        else {
            panic!("classes")
        };
        assert_eq!(best.len(), 4);
        assert_eq!((best[0].label.as_str(), best[0].score), ("grey", 0.4));
    }

    #[test]
    fn classes_need_one_value_per_label_and_one_output_to_score() {
        let err = report(&classes(1, true), vec![output("l", &[3], &[0.0; 3])]).unwrap_err();
        assert!(err.contains("3 values for 4 labels"), "{err}");
        let two = vec![output("a", &[4], &[0.0; 4]), output("b", &[4], &[0.0; 4])];
        let err = report(&classes(1, true), two.clone()).unwrap_err();
        assert!(err.contains("report.output"), "{err}");
        let named = ReportSpec::Classes {
            output: Some("b".into()),
            top_k: 1,
            labels: vec!["w".into(), "x".into(), "y".into(), "z".into()],
            softmax: true,
        };
        assert!(report(&named, two).is_ok());
    }

    #[test]
    fn raw_outputs_are_reported_whole_within_their_bound() {
        let outputs = vec![
            output("mean", &[1, 3], &[0.5, 0.25, 0.125]),
            output("big", &[1, 5], &[0.0; 5]),
        ];
        let spec = |outputs: Option<Vec<String>>, max_values| ReportSpec::Raw {
            outputs,
            max_values,
        };
        let Report::Outputs(all) = report(&spec(None, 5), outputs.clone()).unwrap() else {
            panic!("raw")
        };
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].shape, [1, 3]);
        assert_eq!(all[0].values, [0.5, 0.25, 0.125]);
        // Widened by their shortest decimal.
        let tenths = vec![output("t", &[1], &[0.92])];
        let Report::Outputs(tenths) = report(&spec(None, 4), tenths).unwrap() else {
            panic!("raw")
        };
        assert_eq!(tenths[0].values, [0.92]);
        let err = report(&spec(None, 4), outputs.clone()).unwrap_err();
        assert!(
            err.contains("`big` has 5 values, more than its max_values (4)"),
            "{err}"
        );
        let Report::Outputs(chosen) =
            report(&spec(Some(vec!["mean".into()]), 4), outputs.clone()).unwrap()
        else {
            panic!("raw")
        };
        assert_eq!(chosen.len(), 1);
        let nan = vec![output("mean", &[2], &[0.0, f32::NAN])];
        assert!(
            report(&spec(None, 4), nan)
                .unwrap_err()
                .contains("not a finite number at 1")
        );
    }
}
