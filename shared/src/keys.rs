//! Object keys, built in one place from the task id (and, for a result, its run) alone: a
//! client's file name never becomes part of a key, so no name can escape the key space or
//! collide with another task's. Keys are deterministic per task and run, so processing a job
//! again overwrites instead of duplicating: a task's first run stores its result at
//! `results/{task_id}.{ext}` (DESIGN.md's key), a retried task's later runs at keys of their
//! own.

use uuid::Uuid;

use crate::steps::OutputFormat;

/// Key of a task's original in the uploads bucket.
pub fn original_key(task_id: Uuid) -> String {
    format!("originals/{task_id}")
}

/// Key of the result of run `run` of a task in the processed bucket, with the extension of its
/// format: `results/{task_id}.{extension}` for the first run (run 0, what every task that is
/// never retried has), `results/{task_id}.run{run}.{extension}` for a retry's. Each run has
/// keys of its own: the result of a run that can never be COMPLETED (its task FAILED or
/// CANCELLED in it, or gone on to a later run) is deleted without any risk to a result a retry
/// stores, since no other run writes its keys.
///
/// (Before retries had keys of their own, every run of a task stored at the first run's key;
/// a result a retry stored then keeps that key, which its task row holds, and what deletes a
/// run's orphaned result leaves the key the row holds alone.)
pub fn result_key(task_id: Uuid, run: u32, extension: &str) -> String {
    match run {
        0 => format!("results/{task_id}.{extension}"),
        retry => format!("results/{task_id}.run{retry}.{extension}"),
    }
}

/// Every key the result of run `run` can have: one per output format. What deletes a run's
/// result without knowing its format deletes these.
pub fn result_keys(task_id: Uuid, run: u32) -> Vec<String> {
    OUTPUT_FORMATS
        .iter()
        .map(|format| result_key(task_id, run, format.extension()))
        .collect()
}

/// Whether `key` is one of the keys of run `run`'s result.
pub fn is_result_key_of_run(key: &str, task_id: Uuid, run: u32) -> bool {
    result_keys(task_id, run).iter().any(|own| own == key)
}

/// Every format a result can have (the test below fails to compile when one is added and not
/// listed here).
const OUTPUT_FORMATS: [OutputFormat; 4] = [
    OutputFormat::Jpeg,
    OutputFormat::Png,
    OutputFormat::Webp,
    OutputFormat::Avif,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_only_on_the_task_id_and_the_run() {
        let id = Uuid::new_v4();
        assert_eq!(original_key(id), original_key(id));
        assert_eq!(original_key(id), format!("originals/{id}"));
        assert_eq!(result_key(id, 0, "png"), format!("results/{id}.png"));
        assert_eq!(result_key(id, 2, "jpg"), format!("results/{id}.run2.jpg"));
        assert_ne!(original_key(id), original_key(Uuid::new_v4()));
        assert_ne!(result_key(id, 0, "png"), result_key(id, 1, "png"));
    }

    #[test]
    fn every_output_format_has_a_key_in_each_run() {
        let id = Uuid::new_v4();
        for format in OUTPUT_FORMATS {
            // Exhaustive: a new format does not compile here until OUTPUT_FORMATS lists it.
            match format {
                OutputFormat::Jpeg
                | OutputFormat::Png
                | OutputFormat::Webp
                | OutputFormat::Avif => {}
            }
            let key = result_key(id, 3, format.extension());
            assert!(result_keys(id, 3).contains(&key), "{key}");
            assert!(is_result_key_of_run(&key, id, 3), "{key}");
            assert!(!is_result_key_of_run(&key, id, 2), "{key}");
        }
        assert_eq!(result_keys(id, 3).len(), OUTPUT_FORMATS.len());
    }

    #[test]
    fn the_first_runs_key_is_the_tasks_own_and_no_retrys() {
        let id = Uuid::new_v4();
        assert!(is_result_key_of_run(&format!("results/{id}.png"), id, 0));
        for run in 1..3 {
            assert!(!is_result_key_of_run(&format!("results/{id}.png"), id, run));
        }
    }
}
