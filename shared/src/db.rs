//! Connecting to PostgreSQL, and talking to it, with bounded waits.

use std::{future::Future, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::{config::DatabaseConfig, retry};

/// Longest any one database call (a statement, a transaction's begin or commit, taking a
/// connection from the pool) may take. A database that accepts connections but never answers
/// must not hold a request, a delivery or a background loop for ever.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Run a database call within [`STATEMENT_TIMEOUT`]; past it, the call is dropped and its
/// connection with it (the pool tests a connection returned mid-query and closes it if it
/// does not answer), and the caller gets an error like any other database failure.
pub async fn bounded<T>(call: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
    tokio::time::timeout(STATEMENT_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(DbErr::Custom(format!(
                "the database did not answer within {STATEMENT_TIMEOUT:?}"
            )))
        })
}

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
