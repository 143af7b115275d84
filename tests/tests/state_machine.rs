//! The database agrees with the code about tasks: the status CHECK constraint allows exactly
//! the statuses of `TaskStatus`, the webhook trigger fires on exactly the terminal ones, and
//! every table of the migrated schema has an entity with the same columns, types and
//! nullability.

use std::collections::BTreeSet;

use imagepipe_entity::{idempotency_key, outbox, task, task_tombstone, webhook_delivery};
use imagepipe_shared::tasks::Transition;
use imagepipe_tests::{Options, TestSystem};
use sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, DbBackend, EntityName, EntityTrait, IdenStatic,
    Iterable, Statement,
};

/// The single-quoted words of a definition PostgreSQL printed, e.g. `'PENDING'::character
/// varying` → `PENDING`.
fn quoted(definition: &str) -> BTreeSet<String> {
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

async fn one_text(system: &TestSystem, sql: &str) -> String {
    let row = system
        .db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no row for {sql}"));
    row.try_get_by_index(0).unwrap()
}

fn names(statuses: impl IntoIterator<Item = task::TaskStatus>) -> BTreeSet<String> {
    statuses.into_iter().map(|s| s.to_string()).collect()
}

/// The CHECK constraint allows exactly the statuses of the enum; the webhook trigger fires
/// on exactly the terminal ones.
async fn status_constraint_and_webhook_trigger_agree_with_the_enum(system: &TestSystem) {
    let check = one_text(
        system,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint
          WHERE conname = 'tasks_status_check' AND conrelid = 'tasks'::regclass",
    )
    .await;
    assert_eq!(quoted(&check), names(task::TaskStatus::iter()), "{check}");

    let trigger = one_text(
        system,
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger
          WHERE tgname = 'tasks_enqueue_webhook' AND tgrelid = 'tasks'::regclass",
    )
    .await;
    let terminal = names(task::TaskStatus::iter().filter(|s| s.is_terminal()));
    assert_eq!(quoted(&trigger), terminal, "{trigger}");
    assert_eq!(
        names(Transition::Expire.sources()),
        terminal,
        "retention deletes exactly the tasks whose end was announced"
    );
}

/// How PostgreSQL's `information_schema.columns.data_type` names an entity's column type.
fn pg_data_type(column_type: &ColumnType) -> &'static str {
    match column_type {
        ColumnType::Uuid => "uuid",
        ColumnType::String(_) => "character varying",
        ColumnType::Text => "text",
        ColumnType::Integer => "integer",
        ColumnType::BigInteger => "bigint",
        ColumnType::TimestampWithTimeZone => "timestamp with time zone",
        ColumnType::JsonBinary => "jsonb",
        ColumnType::VarBinary(_) | ColumnType::Binary(_) => "bytea",
        other => panic!("no PostgreSQL name here for {other:?}"),
    }
}

/// (column, data type, nullable) of every column an entity declares.
fn entity_columns<E: EntityTrait>() -> BTreeSet<(String, String, bool)> {
    E::Column::iter()
        .map(|column| {
            let def = column.def();
            (
                column.as_str().to_owned(),
                pg_data_type(def.get_column_type()).to_owned(),
                def.is_null(),
            )
        })
        .collect()
}

async fn table_columns(system: &TestSystem, table: &str) -> BTreeSet<(String, String, bool)> {
    system
        .db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT column_name::text, data_type::text, is_nullable = 'YES' AS nullable
               FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1",
            vec![table.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get_by_index(0).unwrap(),
                row.try_get_by_index(1).unwrap(),
                row.try_get_by_index(2).unwrap(),
            )
        })
        .collect()
}

/// Every table of the schema has an entity with the same columns, types and nullability.
async fn every_table_has_an_entity_that_matches_it(system: &TestSystem) {
    let entities = [
        (task::Entity.table_name(), entity_columns::<task::Entity>()),
        (
            outbox::Entity.table_name(),
            entity_columns::<outbox::Entity>(),
        ),
        (
            idempotency_key::Entity.table_name(),
            entity_columns::<idempotency_key::Entity>(),
        ),
        (
            webhook_delivery::Entity.table_name(),
            entity_columns::<webhook_delivery::Entity>(),
        ),
        (
            task_tombstone::Entity.table_name(),
            entity_columns::<task_tombstone::Entity>(),
        ),
    ];

    let tables: BTreeSet<String> = system
        .db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                AND table_name <> 'seaql_migrations'",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect();
    assert_eq!(
        tables,
        entities.iter().map(|(name, _)| name.to_string()).collect(),
        "tables without an entity, or entities without a table"
    );
    for (table, columns) in &entities {
        assert_eq!(&table_columns(system, table).await, columns, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migrated_schema_agrees_with_the_entities_and_the_state_machine() {
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    status_constraint_and_webhook_trigger_agree_with_the_enum(&system).await;
    every_table_has_an_entity_that_matches_it(&system).await;
    system.cleanup().await;
}
