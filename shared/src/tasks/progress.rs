//! The transitions the result-writer makes from what processors report (processing,
//! completed, failed) and from time running out (reap).

use chrono::{DateTime, Utc};
use imagepipe_entity::task;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{Applied, Transition, ago, leaving};
use crate::messages::{ErrorCode, ResultInfo, TaskFailure};

/// A processor's report about one attempt of one run.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub task_id: Uuid,
    pub run: i32,
    pub attempt: i32,
    pub at: DateTime<Utc>,
}

/// PROCESSING: from PENDING, or from PROCESSING for a later attempt (a redelivered job).
pub async fn processing(db: &impl ConnectionTrait, report: Attempt) -> Result<Applied, DbErr> {
    applied(db, processing_update(report)).await
}

fn processing_update(report: Attempt) -> UpdateMany<task::Entity> {
    reported(Transition::Processing, report)
        .col_expr(task::Column::StartedAt, started_at(report.at))
}

/// COMPLETED with the result at `result_key`, described by `result` (a report without it, as
/// a version-1 processor sends, leaves the description empty), and the analysis it carries.
pub async fn complete(
    db: &impl ConnectionTrait,
    report: Attempt,
    result_key: Option<String>,
    result: Option<&ResultInfo>,
) -> Result<Applied, DbErr> {
    applied(db, complete_update(report, result_key, result)).await
}

fn complete_update(
    report: Attempt,
    result_key: Option<String>,
    result: Option<&ResultInfo>,
) -> UpdateMany<task::Entity> {
    // The columns are signed; a side or a size past their range is saturated, never wrapped.
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    reported(Transition::Complete, report)
        .set(task::ActiveModel {
            result_key: Set(result_key),
            result_width: Set(result.map(|r| int(r.width))),
            result_height: Set(result.map(|r| int(r.height))),
            result_content_type: Set(result.map(|r| r.content_type.clone())),
            result_size_bytes: Set(result.map(|r| i64::try_from(r.size_bytes).unwrap_or(i64::MAX))),
            analysis: Set(analysis_column(result)),
            completed_at: Set(Some(report.at)),
            ..Default::default()
        })
        .col_expr(task::Column::StartedAt, started_at(report.at))
}

/// The result's analysis as its column holds it: the JSON the event carried, number for
/// number; `None` without one. Through text, not `serde_json::to_value`, which would widen
/// each `f32` to the `f64` nearest it (a score of 0.92 stored as 0.9200000166893005).
/// Neither step can fail: the analysis types hold no map, the numbers of a decoded event are
/// finite (JSON has no NaN), and the text is serde_json's own, so `ok()` loses nothing.
fn analysis_column(result: Option<&ResultInfo>) -> Option<serde_json::Value> {
    let analysis = result?.analysis.as_ref()?;
    let text = serde_json::to_string(analysis).ok()?;
    serde_json::from_str(&text).ok()
}

/// FAILED for `failure`. `run`: only if the task is still in that run (`None` when the
/// message that tells of the failure cannot say which run it was); `attempt`: the attempt that
/// failed, when known.
pub async fn fail(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    run: Option<i32>,
    attempt: Option<i32>,
    failure: &TaskFailure,
    at: DateTime<Utc>,
) -> Result<Applied, DbErr> {
    applied(db, fail_update(task_id, run, attempt, failure, at)).await
}

fn fail_update(
    task_id: Uuid,
    run: Option<i32>,
    attempt: Option<i32>,
    failure: &TaskFailure,
    at: DateTime<Utc>,
) -> UpdateMany<task::Entity> {
    let mut update = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(Transition::Fail.target()))
        .set(task::ActiveModel {
            error_code: Set(Some(failure.code.as_str().to_owned())),
            error_message: Set(Some(failure.message.clone())),
            completed_at: Set(Some(at)),
            ..Default::default()
        })
        .col_expr(
            task::Column::Attempts,
            at_least_attempt(attempt.unwrap_or(0)),
        )
        .col_expr(task::Column::UpdatedAt, Expr::current_timestamp())
        .filter(task::Column::Id.eq(task_id))
        .filter(leaving(Transition::Fail, attempt));
    if let Some(run) = run {
        update = update.filter(task::Column::Run.eq(run));
    }
    update
}

/// Fail every task still unfinished `timeout` after it was queued (its upload, or the retry
/// that started its current run); returns how many.
pub async fn reap(db: &impl ConnectionTrait, timeout: std::time::Duration) -> Result<u64, DbErr> {
    Ok(reap_update(timeout).exec(db).await?.rows_affected)
}

fn reap_update(timeout: std::time::Duration) -> UpdateMany<task::Entity> {
    let seconds = timeout.as_secs_f64();
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(Transition::Reap.target()))
        .set(task::ActiveModel {
            error_code: Set(Some(ErrorCode::TimedOut.as_str().to_owned())),
            error_message: Set(Some(format!(
                "not finished within {seconds} seconds of being queued"
            ))),
            ..Default::default()
        })
        .col_expr(task::Column::CompletedAt, Expr::current_timestamp())
        .col_expr(task::Column::UpdatedAt, Expr::current_timestamp())
        .filter(leaving(Transition::Reap, None))
        .filter(Expr::col(task::Column::QueuedAt).lt(ago(timeout)))
}

/// What every processor report sets and checks: the status, the attempt count raised to the
/// report's, only for this task in this run, from a status the transition may leave.
fn reported(transition: Transition, report: Attempt) -> UpdateMany<task::Entity> {
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(transition.target()))
        .col_expr(task::Column::Attempts, at_least_attempt(report.attempt))
        .col_expr(task::Column::UpdatedAt, Expr::current_timestamp())
        .filter(task::Column::Id.eq(report.task_id))
        .filter(task::Column::Run.eq(report.run))
        .filter(leaving(transition, Some(report.attempt)))
}

/// `GREATEST(attempts, attempt)`: the count never goes down, whatever order reports come in.
fn at_least_attempt(attempt: i32) -> Expr {
    Func::greatest([Expr::col(task::Column::Attempts), Expr::value(attempt)]).into()
}

/// `COALESCE(started_at, at)`: the first report of a run sets when it started.
fn started_at(at: DateTime<Utc>) -> Expr {
    Func::coalesce([Expr::col(task::Column::StartedAt), Expr::value(at)]).into()
}

async fn applied(
    db: &impl ConnectionTrait,
    update: UpdateMany<task::Entity>,
) -> Result<Applied, DbErr> {
    Ok(Applied::from_rows(update.exec(db).await?.rows_affected))
}

#[cfg(test)]
mod tests {
    use imagepipe_entity::task::TaskStatus;

    use super::*;
    use crate::tasks::sql_tests::{assert_statuses_bound, postgres};

    fn report() -> Attempt {
        Attempt {
            task_id: Uuid::nil(),
            run: 2,
            attempt: 3,
            at: Utc::now(),
        }
    }

    #[test]
    fn processing_takes_pending_or_an_earlier_attempt() {
        let statement = postgres(&processing_update(report()));
        assert_statuses_bound(&statement, &[TaskStatus::Processing, TaskStatus::Pending]);
        assert!(
            statement.sql.contains(r#""attempts" < "#),
            "{}",
            statement.sql
        );
        assert!(statement.sql.contains("GREATEST"), "{}", statement.sql);
        assert!(statement.sql.contains("COALESCE"), "{}", statement.sql);
        assert!(statement.sql.contains(r#""run" = "#), "{}", statement.sql);
    }

    #[test]
    fn complete_and_fail_take_only_unfinished_tasks() {
        let failure = TaskFailure {
            code: ErrorCode::ProcessingFailed,
            message: "m".into(),
        };
        for (statement, target) in [
            (
                postgres(&complete_update(report(), Some("k".into()), None)),
                TaskStatus::Completed,
            ),
            (
                postgres(&fail_update(
                    Uuid::nil(),
                    Some(1),
                    None,
                    &failure,
                    Utc::now(),
                )),
                TaskStatus::Failed,
            ),
            (
                postgres(&reap_update(std::time::Duration::from_secs(5))),
                TaskStatus::Failed,
            ),
        ] {
            assert_statuses_bound(
                &statement,
                &[target, TaskStatus::Pending, TaskStatus::Processing],
            );
            assert!(
                !statement.sql.contains(r#""attempts" < "#),
                "{}",
                statement.sql
            );
        }
    }

    #[test]
    fn complete_records_the_result_described_or_leaves_it_empty() {
        let result = ResultInfo {
            width: 256,
            height: 128,
            content_type: "image/webp".into(),
            size_bytes: 1234,
            analysis: None,
        };
        let described = postgres(&complete_update(report(), Some("k".into()), Some(&result)));
        for column in [
            "result_width",
            "result_height",
            "result_content_type",
            "result_size_bytes",
        ] {
            assert!(described.sql.contains(column), "{}", described.sql);
        }
        let values = format!("{:?}", described.values);
        assert!(
            values.contains("image/webp") && values.contains("1234"),
            "{values}"
        );
        let undescribed = postgres(&complete_update(report(), Some("k".into()), None));
        assert!(
            !format!("{:?}", undescribed.values).contains("image/webp"),
            "{:?}",
            undescribed.values
        );
    }

    #[test]
    fn complete_stores_the_analysis_only_when_the_result_has_one() {
        use crate::analysis::{AnalysisEntry, Face, FaceBox, Point};
        let mut result = ResultInfo {
            width: 1,
            height: 1,
            content_type: "image/png".into(),
            size_bytes: 1,
            analysis: None,
        };
        let without = postgres(&complete_update(report(), Some("k".into()), Some(&result)));
        assert!(without.sql.contains(r#""analysis""#), "{}", without.sql);
        assert!(
            !format!("{:?}", without.values).contains("detect_faces"),
            "{:?}",
            without.values
        );
        result.analysis = Some(vec![AnalysisEntry {
            step: 0,
            op: "detect_faces".into(),
            model: "blazeface-front-128".into(),
            faces: Some(vec![Face {
                bounds: FaceBox {
                    x: 178.3,
                    y: 81.0,
                    width: 94.1,
                    height: 94.1,
                },
                score: 0.92,
                keypoints: vec![Point { x: 1.1, y: 2.2 }],
            }]),
            outputs: None,
            classes: None,
        }]);
        // Stored as the event's JSON has it, each number as written.
        let stored = analysis_column(Some(&result)).expect("an analysis");
        assert_eq!(
            stored,
            serde_json::json!([{"step": 0, "op": "detect_faces", "model": "blazeface-front-128",
                "faces": [{"box": {"x": 178.3, "y": 81.0, "width": 94.1, "height": 94.1},
                           "score": 0.92, "keypoints": [{"x": 1.1, "y": 2.2}]}]}])
        );
        assert_eq!(
            serde_json::from_value::<crate::analysis::Analysis>(stored).ok(),
            result.analysis
        );
        let with = postgres(&complete_update(report(), Some("k".into()), Some(&result)));
        assert!(
            format!("{:?}", with.values).contains("blazeface-front-128"),
            "{:?}",
            with.values
        );
    }

    #[test]
    fn a_failure_of_no_known_run_is_not_limited_to_one() {
        let failure = TaskFailure {
            code: ErrorCode::ProcessingFailed,
            message: "m".into(),
        };
        let statement = postgres(&fail_update(Uuid::nil(), None, None, &failure, Utc::now()));
        assert!(!statement.sql.contains(r#""run""#), "{}", statement.sql);
    }

    #[test]
    fn the_reaper_judges_age_on_the_database_clock() {
        let statement = postgres(&reap_update(std::time::Duration::from_secs(5)));
        assert!(
            statement.sql.contains("now() - make_interval"),
            "{}",
            statement.sql
        );
        assert!(
            format!("{:?}", statement.values)
                .contains("not finished within 5 seconds of being queued"),
            "{:?}",
            statement.values
        );
    }
}
