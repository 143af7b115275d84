//! The task state machine: every change of a task's row, from upload to deletion, and the
//! one table of which change may leave which status ([`rules`]). Ingest cancels and retries
//! ([`client`]), and creates (one statement with the task's job, in ingest itself); the
//! result-writer records progress, fails what ran out of time ([`progress`]) and deletes what
//! is past retention ([`expire`]).
//!
//! Each change is one conditional statement: its `WHERE` names the statuses the transition
//! may leave, read from the table, so a duplicate, late or out-of-order request matches no row
//! and changes nothing; nothing is read first and then written. Statuses are
//! [`TaskStatus`](imagepipe_entity::task::TaskStatus) values bound as parameters, never text
//! inside SQL.
//!
//! Data access: SeaORM's query builder over the entities, not raw SQL. The writes here are
//! conditional `UPDATE … RETURNING` with computed values (`GREATEST(attempts, $n)`,
//! `COALESCE(started_at, $n)`, `run = run + 1`), which the builder expresses directly
//! (`Func::greatest`, `Func::coalesce`, `Expr::col(…).add(1)`); in exchange, every column is
//! named through the entity (a renamed column fails to compile), values are typed by the
//! entity's fields, the allowed statuses become a condition built from the table rather than a
//! string spliced into SQL, and optional conditions (an owner, a run) are plain `if`s instead
//! of `$n IS NULL OR …`. The one piece of PostgreSQL left as text is an interval measured on
//! the database's clock (`now() - make_interval(…)`), so every age is judged by one clock.

pub mod client;
pub mod expire;
pub mod progress;
pub mod rules;

use imagepipe_entity::task;
use sea_orm::{ColumnTrait, Condition, sea_query::Expr};

pub use rules::{Allowed, Transition, allowed, may_reference_result, run_may_reference_result};

/// What a conditional change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The task is already past this state (or unknown): nothing to do.
    Ignored,
}

impl Applied {
    fn from_rows(rows_affected: u64) -> Self {
        if rows_affected > 0 {
            Self::Changed
        } else {
            Self::Ignored
        }
    }
}

/// The condition on a task's current status for `transition` to apply; `attempt` is the
/// attempt the change reports, for the pairs allowed only for a later attempt (without one,
/// those pairs are refused).
fn leaving(transition: Transition, attempt: Option<i32>) -> Condition {
    let mut condition = Condition::any().add(task::Column::Status.is_in(transition.sources()));
    let later = transition.sources_for_later_attempt();
    if let (false, Some(attempt)) = (later.is_empty(), attempt) {
        condition = condition.add(
            Condition::all()
                .add(task::Column::Status.is_in(later))
                .add(task::Column::Attempts.lt(attempt)),
        );
    }
    condition
}

/// The moment `age` before now on the database's clock.
fn ago(age: std::time::Duration) -> Expr {
    Expr::cust_with_values("now() - make_interval(secs => $1)", [age.as_secs_f64()])
}

#[cfg(test)]
mod sql_tests {
    use imagepipe_entity::task::TaskStatus;
    use sea_orm::{DbBackend, Iterable, QueryTrait, Statement};

    /// No status is spelled inside a statement's SQL: each is a bound value.
    pub(crate) fn assert_statuses_bound(statement: &Statement, bound: &[TaskStatus]) {
        for status in TaskStatus::iter() {
            assert!(
                !statement.sql.contains(&status.to_string()),
                "{status} spelled in {}",
                statement.sql
            );
        }
        let values = format!("{:?}", statement.values);
        for status in bound {
            assert!(
                values.contains(&format!("{:?}", status.to_string())),
                "{status} not bound in {values}"
            );
        }
    }

    pub(crate) fn postgres(query: &impl QueryTrait) -> Statement {
        query.build(DbBackend::Postgres)
    }
}
