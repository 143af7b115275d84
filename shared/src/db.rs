//! Connecting to PostgreSQL, and talking to it, with bounded waits.

use std::{future::Future, time::Duration};

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseConnectionType, DbErr, RuntimeErr,
    sqlx::{self, Connection, PgPool, postgres::PgConnection},
};
use tokio_util::sync::CancellationToken;

use crate::{amqp::BROKER_TIMEOUT, config::DatabaseConfig, retry};

/// Longest any one database call (a statement, a transaction's begin or commit, taking a
/// connection from the pool) may take. A database that accepts connections but never answers
/// must not hold a request, a delivery or a background loop for ever.
/// PostgreSQL's own `statement_timeout` on every service connection is the same: the server
/// stops what the service stopped waiting for, instead of going on holding its locks and its
/// connection.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL's `idle_in_transaction_session_timeout` on every service connection: a session
/// left idle inside a transaction this long is ended, and its locks released, so a service that
/// vanished mid-transaction (killed, cut off) blocks others' rows only this long. It must be
/// longer than any wait a service makes inside a transaction on purpose: the outbox relay holds
/// the rows it publishes locked while it waits for the broker's confirms (at most
/// [`BROKER_TIMEOUT`]).
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

const _: () = assert!(IDLE_IN_TRANSACTION_TIMEOUT.as_secs() >= 2 * BROKER_TIMEOUT.as_secs());

/// The pool behind `db`, for the statements SeaORM's API cannot send as they must be sent;
/// an error rather than SeaORM's panic when it is not PostgreSQL's (only a unit test's
/// disconnected state is not).
pub fn postgres_pool(db: &DatabaseConnection) -> Result<&PgPool, DbErr> {
    match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            Ok(db.get_postgres_connection_pool())
        }
        _ => Err(DbErr::Conn(RuntimeErr::Internal(
            "not a PostgreSQL connection".to_owned(),
        ))),
    }
}

/// A failure to reach the database through sqlx, as SeaORM reports one.
pub fn connection_error(err: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(err)))
}

/// Run a database call within [`STATEMENT_TIMEOUT`]; past it, the call is dropped and its
/// connection with it (the pool tests a connection returned mid-query, within
/// [`STATEMENT_TIMEOUT`] too, and closes it if it does not answer), and the caller gets an
/// error like any other database failure.
pub async fn bounded<T>(call: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
    tokio::time::timeout(STATEMENT_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(DbErr::Custom(format!(
                "the database did not answer within {STATEMENT_TIMEOUT:?}"
            )))
        })
}

/// What a pool's work promises whoever waits on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Writes a client, or another service, is told about: a commit PostgreSQL acknowledged
    /// survives a crash of the server.
    Acknowledged,
    /// Work that is done again until it succeeds, whose loss is therefore harmless: the outbox
    /// relay's deletion of jobs already published (a lost one publishes its jobs twice, which
    /// the pipeline absorbs). A commit is acknowledged before its WAL reaches the disk
    /// (`synchronous_commit = off`): a crash of the server can lose the last few hundred
    /// milliseconds of them (whole transactions, never half of one), and PostgreSQL's WAL
    /// writer flushes many at once instead of each commit waiting for a flush of its own.
    Repeatable,
}

/// The service's pool. Besides the client-side bounds (connect, acquire, and [`bounded`]
/// around each call), PostgreSQL bounds each statement and each idle transaction itself (set in
/// the startup packet's `options`, so no extra round trip), and a connection given back to the
/// pool must answer within [`STATEMENT_TIMEOUT`] or is closed.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    connect_pool(config, config.database_max_connections, Work::Acknowledged).await
}

/// A pool like [`connect`]'s, of at most `max_connections`, for `work`.
pub async fn connect_pool(
    config: &DatabaseConfig,
    max_connections: u32,
    work: Work,
) -> Result<DatabaseConnection, DbErr> {
    let synchronous_commit = match work {
        Work::Acknowledged => "on",
        Work::Repeatable => "off",
    };
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        // Taking a connection, including the ping of an idle one (`test_before_acquire`, kept
        // on: it replaces a connection the server closed, so a dead one fails before a
        // statement is sent, not after, where an upload's outcome would be unknown), is
        // bounded; a ping that times out here drops its connection and frees the slot.
        .acquire_timeout(STATEMENT_TIMEOUT)
        .statement_timeout(STATEMENT_TIMEOUT)
        .map_sqlx_postgres_opts(|options| {
            options.options([
                (
                    "idle_in_transaction_session_timeout",
                    IDLE_IN_TRANSACTION_TIMEOUT.as_millis().to_string(),
                ),
                ("synchronous_commit", synchronous_commit.to_owned()),
            ])
        })
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_release(|connection, _| Box::pin(answers_in_time(connection)))
        })
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Whether a connection given back to the pool may stay: it answers a ping within
/// [`STATEMENT_TIMEOUT`]. sqlx pings it again after this, with no deadline of its own; a
/// connection that never answers (a partition, a hung server: a call [`bounded`] gave up on)
/// would hold its pool slot until TCP gave up, many minutes later, and a few of them would
/// leave the service without connections after the database is back. One that does not answer
/// is an error, so the pool drops it without the goodbye that would wait on it too.
async fn answers_in_time(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, connection.ping()).await {
        Ok(answered) => answered.map(|()| true),
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "a connection given back to the pool did not answer within {STATEMENT_TIMEOUT:?}"
            ),
        ))),
    }
}

/// [`connect`], waiting for the database until it answers (with `retry::dependency`);
/// `Ok(None)` if `shutdown` fires first. A URL that cannot be parsed fails at once.
pub async fn connect_with_retry(
    config: &DatabaseConfig,
    shutdown: &CancellationToken,
) -> Result<Option<DatabaseConnection>, DbErr> {
    connect_pool_with_retry(
        config,
        config.database_max_connections,
        Work::Acknowledged,
        shutdown,
    )
    .await
}

/// [`connect_pool`], waiting for the database as [`connect_with_retry`] does.
pub async fn connect_pool_with_retry(
    config: &DatabaseConfig,
    max_connections: u32,
    work: Work,
    shutdown: &CancellationToken,
) -> Result<Option<DatabaseConnection>, DbErr> {
    retry::wait_for("the database", shutdown, is_unusable_url, || {
        connect_pool(config, max_connections, work)
    })
    .await
}

/// A `DATABASE_URL` that does not parse: no amount of waiting makes it connect.
fn is_unusable_url(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    matches!(err, DbErr::Conn(RuntimeErr::SqlxError(e)) if matches!(**e, sqlx::Error::Configuration(_)))
}
