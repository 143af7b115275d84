//! The imagepipe database schema, as SeaORM migrations. Run them with the `migration` CLI
//! (`migration up`) or from code with `Migrator::up(&db, None)`.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_tasks;
mod m20261128_000002_create_outbox;
mod m20261128_000003_task_api;
mod m20261128_000004_outbox_traceparent;
mod m20261202_000005_task_steps;
mod m20261202_000006_webhook_result;
mod m20261202_000007_task_analysis;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_tasks::Migration),
            Box::new(m20261128_000002_create_outbox::Migration),
            Box::new(m20261128_000003_task_api::Migration),
            Box::new(m20261128_000004_outbox_traceparent::Migration),
            Box::new(m20261202_000005_task_steps::Migration),
            Box::new(m20261202_000006_webhook_result::Migration),
            Box::new(m20261202_000007_task_analysis::Migration),
        ]
    }
}
