//! What the clients of a chaos run were answered: every task accepted with `202`, the final
//! states they read, the cancels and retries the API accepted, the idempotent replays, and a
//! tally of every answer by operation and status.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Mutex,
};

use uuid::Uuid;

#[derive(Default)]
pub(crate) struct History {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    /// Every task an upload (or a replay) was answered `202` for, in order.
    pub(crate) accepted: Vec<Uuid>,
    pub(crate) accepted_set: HashSet<Uuid>,
    /// Uploads accepted with steps of their own.
    pub(crate) with_steps: u64,
    /// The task each `Idempotency-Key` was first answered with.
    pub(crate) keys: HashMap<String, Uuid>,
    pub(crate) replays: u64,
    /// A replay answered with another task than its key's first answer: `key first second`.
    pub(crate) replay_mismatches: Vec<String>,
    /// Terminal statuses read for each run of a task.
    pub(crate) finals_read: HashMap<(Uuid, i32), BTreeSet<String>>,
    /// Tasks a cancel was answered `200` for: they must end CANCELLED.
    pub(crate) cancelled: HashSet<Uuid>,
    /// Tasks a retry was answered `202` for, with the run the task was in before.
    pub(crate) retried: Vec<(Uuid, i32)>,
    /// What each upload (by its unique file name) was answered, a replay included: a
    /// status, or `None` for no answer.
    pub(crate) upload_answers: HashMap<String, Vec<Option<u16>>>,
    /// Accepted tasks that a read answered `404` for.
    pub(crate) vanished: HashSet<Uuid>,
    /// Answers by `operation status` (`upload 202`, `get 503`, `cancel no answer`...).
    pub(crate) answers: BTreeMap<String, u64>,
    /// Answers no fault explains (a 5xx other than 503, a refusal of a valid request), the
    /// first few of them in full.
    pub(crate) unexpected: u64,
    pub(crate) unexpected_examples: Vec<String>,
}

impl History {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("history lock"))
    }

    pub(crate) fn answered(&self, operation: &str, status: &str) {
        self.with(|h| {
            *h.answers
                .entry(format!("{operation} {status}"))
                .or_default() += 1
        });
    }

    pub(crate) fn accept(&self, task: Uuid) {
        self.with(|h| {
            if h.accepted_set.insert(task) {
                h.accepted.push(task);
            }
        });
    }

    pub(crate) fn unexpected(&self, what: String) {
        self.with(|h| {
            h.unexpected += 1;
            if h.unexpected_examples.len() < 10 {
                h.unexpected_examples.push(what);
            }
        });
    }

    /// A task recently accepted, for a read, a cancel or a retry; `pick` draws from `0..n`.
    pub(crate) fn recent(&self, window: usize, pick: impl FnOnce(usize) -> usize) -> Option<Uuid> {
        self.with(|h| {
            let n = h.accepted.len().min(window);
            (n > 0).then(|| h.accepted[h.accepted.len() - 1 - pick(n)])
        })
    }
}
