//! Connecting to PostgreSQL with bounded waits.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::{config::DatabaseConfig, retry};

pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(config.database_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// [`connect`], waiting for the database until it answers (with `retry::dependency`);
/// `Ok(None)` if `shutdown` fires first. A URL that cannot be parsed fails at once.
pub async fn connect_with_retry(
    config: &DatabaseConfig,
    shutdown: &CancellationToken,
) -> Result<Option<DatabaseConnection>, DbErr> {
    retry::wait_for("the database", shutdown, is_unusable_url, || {
        connect(config)
    })
    .await
}

/// A `DATABASE_URL` that does not parse: no amount of waiting makes it connect.
fn is_unusable_url(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    matches!(err, DbErr::Conn(RuntimeErr::SqlxError(e)) if matches!(**e, sqlx::Error::Configuration(_)))
}
