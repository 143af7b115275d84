//! Which transition a task may take from which status: the one table both services obey.
//! The `WHERE` of every write is derived from it, so a rule changes here or nowhere.

use imagepipe_entity::task::TaskStatus;
use sea_orm::Iterable;

/// A change of a task's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Ingest stores a new upload: the row is inserted, so no status leads here.
    Create,
    /// A processor reports it has started an attempt.
    Processing,
    /// A processor reports the result.
    Complete,
    /// A processor, or the dead-letter queue, reports a failure.
    Fail,
    /// A client cancels it.
    Cancel,
    /// A client queues a failed task again as a new run.
    Retry,
    /// The reaper fails it for not finishing in time.
    Reap,
    /// Retention deletes it, leaving a tombstone.
    Expire,
}

impl Transition {
    pub const ALL: [Transition; 8] = [
        Self::Create,
        Self::Processing,
        Self::Complete,
        Self::Fail,
        Self::Cancel,
        Self::Retry,
        Self::Reap,
        Self::Expire,
    ];

    /// The status the task has afterwards; `None` for [`Transition::Expire`], which deletes it.
    pub fn target(self) -> Option<TaskStatus> {
        match self {
            Self::Create | Self::Retry => Some(TaskStatus::Pending),
            Self::Processing => Some(TaskStatus::Processing),
            Self::Complete => Some(TaskStatus::Completed),
            Self::Fail | Self::Reap => Some(TaskStatus::Failed),
            Self::Cancel => Some(TaskStatus::Cancelled),
            Self::Expire => None,
        }
    }

    /// The statuses this transition leaves from unconditionally.
    pub fn sources(self) -> Vec<TaskStatus> {
        self.sources_where(Allowed::Yes)
    }

    /// The statuses this transition leaves from only for a later attempt than the recorded one.
    pub fn sources_for_later_attempt(self) -> Vec<TaskStatus> {
        self.sources_where(Allowed::ForLaterAttempt)
    }

    fn sources_where(self, wanted: Allowed) -> Vec<TaskStatus> {
        TaskStatus::iter()
            .filter(|&from| allowed(from, self) == wanted)
            .collect()
    }
}

/// Whether a task in one status may take a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    No,
    Yes,
    /// Only for a later processing attempt than the one the task records: a redelivered job
    /// starts over, while a duplicate or late report of the same attempt changes nothing.
    ForLaterAttempt,
}

/// The allowed transitions. A task moves only forward (PENDING → PROCESSING → an end);
/// the one way back is an explicit retry of a FAILED task, which starts a new run. Every
/// write also names the run it is about, so a straggler from an earlier run touches nothing.
pub fn allowed(from: TaskStatus, transition: Transition) -> Allowed {
    use TaskStatus::{Cancelled, Completed, Failed, Pending, Processing};
    match (transition, from) {
        (Transition::Processing, Pending) => Allowed::Yes,
        (Transition::Processing, Processing) => Allowed::ForLaterAttempt,
        (
            Transition::Complete | Transition::Fail | Transition::Cancel | Transition::Reap,
            Pending | Processing,
        ) => Allowed::Yes,
        (Transition::Retry, Failed) => Allowed::Yes,
        (Transition::Expire, Completed | Failed | Cancelled) => Allowed::Yes,
        _ => Allowed::No,
    }
}

/// Whether a task in this status may still point at a result object, now or after a retry.
/// A COMPLETED event that a task refused leaves an orphan object only when this is false:
/// result keys are deterministic, so any other task may still write or reference the same key.
pub fn may_reference_result(status: TaskStatus) -> bool {
    // CANCELLED is the one end that never had a result and that no transition but Expire
    // leaves.
    status != TaskStatus::Cancelled
}

/// Whether the result of run `run` is, or may yet be, the result of a task that is in run
/// `task_run` with `status`. Only that run's own can: COMPLETED with it, or still able to
/// complete. Result keys are per run (`keys::result_key`), so once this is false for a run it
/// stays false (no transition leads back into a run that cannot complete) and deleting that
/// run's result object can never take one a task holds.
pub fn run_may_reference_result(status: TaskStatus, task_run: i32, run: i32) -> bool {
    match task_run.cmp(&run) {
        std::cmp::Ordering::Greater => false,
        // A run the database does not know yet: impossible (a retry commits its run before
        // its job), so kept rather than judged.
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => {
            status == TaskStatus::Completed || allowed(status, Transition::Complete) != Allowed::No
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Allowed::{ForLaterAttempt as Later, No, Yes};

    /// Every pair, written out: rows are transitions, columns the statuses
    /// PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED.
    const TABLE: [(Transition, [Allowed; 5]); 8] = [
        (Transition::Create, [No, No, No, No, No]),
        (Transition::Processing, [Yes, Later, No, No, No]),
        (Transition::Complete, [Yes, Yes, No, No, No]),
        (Transition::Fail, [Yes, Yes, No, No, No]),
        (Transition::Cancel, [Yes, Yes, No, No, No]),
        (Transition::Retry, [No, No, No, Yes, No]),
        (Transition::Reap, [Yes, Yes, No, No, No]),
        (Transition::Expire, [No, No, Yes, Yes, Yes]),
    ];

    #[test]
    fn every_status_and_transition_pair_is_as_written() {
        let statuses: Vec<_> = TaskStatus::iter().collect();
        assert_eq!(
            statuses,
            [
                TaskStatus::Pending,
                TaskStatus::Processing,
                TaskStatus::Completed,
                TaskStatus::Failed,
                TaskStatus::Cancelled
            ],
            "the table's columns"
        );
        assert_eq!(TABLE.map(|(t, _)| t), Transition::ALL, "the table's rows");
        for (transition, row) in TABLE {
            for (&from, expected) in statuses.iter().zip(row) {
                assert_eq!(
                    allowed(from, transition),
                    expected,
                    "{from} × {transition:?}"
                );
            }
        }
    }

    #[test]
    fn sources_are_read_from_the_table() {
        use TaskStatus::*;
        assert_eq!(Transition::Create.sources(), []);
        assert_eq!(Transition::Processing.sources(), [Pending]);
        assert_eq!(
            Transition::Processing.sources_for_later_attempt(),
            [Processing]
        );
        assert_eq!(Transition::Cancel.sources(), [Pending, Processing]);
        assert_eq!(Transition::Retry.sources(), [Failed]);
        assert_eq!(Transition::Expire.sources(), [Completed, Failed, Cancelled]);
        for transition in Transition::ALL {
            if transition != Transition::Processing {
                assert_eq!(transition.sources_for_later_attempt(), [], "{transition:?}");
            }
        }
    }

    #[test]
    fn only_terminal_tasks_expire_and_nothing_else_leaves_an_end_but_retry() {
        for from in TaskStatus::iter() {
            assert_eq!(
                allowed(from, Transition::Expire) == Yes,
                from.is_terminal(),
                "{from}"
            );
            for transition in Transition::ALL {
                if from.is_terminal()
                    && !matches!(transition, Transition::Expire | Transition::Retry)
                {
                    assert_eq!(allowed(from, transition), No, "{from} × {transition:?}");
                }
            }
        }
    }

    #[test]
    fn every_transition_but_expire_ends_in_a_status() {
        for transition in Transition::ALL {
            assert_eq!(
                transition.target().is_none(),
                transition == Transition::Expire,
                "{transition:?}"
            );
        }
    }

    #[test]
    fn only_its_own_run_completed_or_unfinished_holds_a_runs_result() {
        for status in TaskStatus::iter() {
            let holds = matches!(
                status,
                TaskStatus::Pending | TaskStatus::Processing | TaskStatus::Completed
            );
            assert_eq!(run_may_reference_result(status, 2, 2), holds, "{status}");
            assert!(
                !run_may_reference_result(status, 3, 2),
                "{status}: a later run never holds an earlier one's result"
            );
        }
    }

    #[test]
    fn only_a_cancelled_task_can_never_reference_a_result() {
        for status in TaskStatus::iter() {
            let no_way_on = Transition::ALL
                .iter()
                .filter(|&&t| t != Transition::Expire)
                .all(|&t| allowed(status, t) == No);
            let never_had_a_result = status != TaskStatus::Completed;
            assert_eq!(
                may_reference_result(status),
                !(no_way_on && never_had_a_result),
                "{status}"
            );
        }
    }
}
