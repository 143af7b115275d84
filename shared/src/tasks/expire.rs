//! Retention's transition: a task that ended longer ago than the retention age is deleted,
//! leaving a tombstone so its id answers 410 Gone rather than 404. The caller deletes the
//! task's objects between [`expired`] and [`expire`].

use std::time::Duration;

use imagepipe_entity::{task, task_tombstone};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{Transition, ago, leaving};

/// Up to `limit` tasks that ended more than `retention` ago, those that ended first first.
pub async fn expired(
    db: &DatabaseConnection,
    retention: Duration,
    limit: u64,
) -> Result<Vec<task::Model>, DbErr> {
    expired_query(retention, limit).all(db).await
}

fn expired_query(retention: Duration, limit: u64) -> Select<task::Entity> {
    task::Entity::find()
        .filter(leaving(Transition::Expire, None))
        .filter(Expr::col(task::Column::CompletedAt).lt(ago(retention)))
        .order_by_asc(task::Column::CompletedAt)
        .limit(limit)
}

/// Delete the task and leave its tombstone, in one transaction; only if it is still in a
/// status it may expire from (a retry since [`expired`] keeps it). Returns whether it went.
pub async fn expire(db: &DatabaseConnection, task: &task::Model) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let deleted = task::Entity::delete_many()
        .filter(task::Column::Id.eq(task.id))
        .filter(leaving(Transition::Expire, None))
        .exec(&txn)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Ok(false);
    }
    task_tombstone::Entity::insert(task_tombstone::ActiveModel {
        id: Set(task.id),
        owner: Set(task.owner.clone()),
        created_at: Set(task.created_at),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(task_tombstone::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::sql_tests::{assert_statuses_bound, postgres};
    use imagepipe_entity::task::TaskStatus;

    #[test]
    fn only_ended_tasks_expire() {
        let query = expired_query(Duration::from_secs(60), 10);
        let statement = postgres(&query);
        assert_statuses_bound(
            &statement,
            &[
                TaskStatus::Completed,
                TaskStatus::Failed,
                TaskStatus::Cancelled,
            ],
        );
        assert!(
            statement.sql.contains("now() - make_interval"),
            "{}",
            statement.sql
        );
    }
}
