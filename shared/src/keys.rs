//! Object keys, built in one place from the task id alone: a client's file name never
//! becomes part of a key, so no name can escape the key space or collide with another task's.
//! Keys are deterministic per task, so reprocessing overwrites instead of duplicating.

use uuid::Uuid;

/// Key of a task's original in the uploads bucket.
pub fn original_key(task_id: Uuid) -> String {
    format!("originals/{task_id}")
}

/// Key of a task's result in the processed bucket, with the extension of its format.
pub fn result_key(task_id: Uuid, extension: &str) -> String {
    format!("results/{task_id}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_only_on_the_task_id() {
        let id = Uuid::new_v4();
        assert_eq!(original_key(id), original_key(id));
        assert_eq!(original_key(id), format!("originals/{id}"));
        assert_eq!(result_key(id, "png"), format!("results/{id}.png"));
        assert_ne!(original_key(id), original_key(Uuid::new_v4()));
    }
}
