//! PostgreSQL's own timeouts on the services' connections, and a connection that never answers
//! giving its pool slot back: the pool is the services' own (`db::connect`), against the real
//! server (directly, or through a `FaultProxy` that black-holes it). Runs one at a time: it
//! holds statements for seconds and silences a connection on purpose.

use std::time::{Duration, Instant};

use imagepipe_shared::{
    config::DatabaseConfig,
    db::{self, IDLE_IN_TRANSACTION_TIMEOUT, STATEMENT_TIMEOUT},
};
use imagepipe_tests::FaultProxy;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement, TransactionTrait,
};

use super::one_at_a_time;

/// The machine's PostgreSQL, as the harness finds it: scheme, credentials (with their `@`, or
/// empty) and `host:port`.
fn database_server() -> (String, String, String) {
    let server = std::env::var("IMAGEPIPE_TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let (scheme, rest) = server.split_once("://").expect("a URL");
    let rest = rest.trim_end_matches('/');
    let (credentials, authority) = rest
        .rsplit_once('@')
        .map_or((String::new(), rest), |(c, a)| (format!("{c}@"), a));
    (scheme.to_owned(), credentials, authority.to_owned())
}

/// The server's always-present database `postgres`, directly or through `proxy`.
fn database_url(through: Option<&FaultProxy>) -> String {
    let (scheme, credentials, authority) = database_server();
    let authority = through.map_or(authority, |proxy| proxy.address().to_string());
    format!("{scheme}://{credentials}{authority}/postgres")
}

fn config(url: String, max_connections: u32) -> DatabaseConfig {
    DatabaseConfig {
        database_url: url,
        database_max_connections: max_connections,
    }
}

async fn pool(url: String, max_connections: u32) -> DatabaseConnection {
    db::connect(&config(url, max_connections))
        .await
        .expect("PostgreSQL reachable")
}

async fn show(db: &impl ConnectionTrait, setting: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SHOW {setting}"),
        ))
        .await
        .expect("SHOW answers")
        .expect("one row");
    row.try_get("", setting).expect("a text value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_itself_ends_a_statement_past_the_services_deadline() {
    let _serial = one_at_a_time().await;
    let db = pool(database_url(None), 2).await;
    // On each of two pooled connections at once (two transactions hold one each).
    let first = db.begin().await.unwrap();
    let second = db.begin().await.unwrap();
    for connection in [&first, &second] {
        assert_eq!(
            show(connection, "statement_timeout").await,
            format!("{}s", STATEMENT_TIMEOUT.as_secs())
        );
        assert_eq!(
            show(connection, "idle_in_transaction_session_timeout").await,
            format!("{}s", IDLE_IN_TRANSACTION_TIMEOUT.as_secs())
        );
    }
    first.commit().await.unwrap();
    second.commit().await.unwrap();

    // A statement longer than the deadline, with no client-side bound: the server cancels it.
    let started = Instant::now();
    let sleep = STATEMENT_TIMEOUT.as_secs() + 3;
    let error = db
        .execute_unprepared(&format!("SELECT pg_sleep({sleep})"))
        .await
        .expect_err("cancelled by PostgreSQL");
    let took = started.elapsed();
    eprintln!("pg_sleep({sleep}) ended after {took:?}: {error}");
    assert_eq!(sqlstate(&error).as_deref(), Some("57014"), "{error}");
    assert!(
        error.to_string().contains("statement timeout"),
        "PostgreSQL's cancel: {error}"
    );
    assert!(
        took >= STATEMENT_TIMEOUT && took < STATEMENT_TIMEOUT + Duration::from_secs(2),
        "cancelled after {took:?}"
    );
    // The connection it ran on is fine: the pool goes on answering.
    show(&db, "statement_timeout").await;
}

/// Only a pool for work that is done again (the outbox relay's) has its commits acknowledged
/// before their WAL is flushed; the services' pool keeps every commit durable, and both keep
/// the deadlines.
#[tokio::test]
async fn only_a_pool_for_repeatable_work_defers_its_commits() {
    let acknowledged = pool(database_url(None), 1).await;
    let repeatable = db::connect_pool(&config(database_url(None), 1), 1, db::Work::Repeatable)
        .await
        .expect("PostgreSQL reachable");
    assert_eq!(show(&acknowledged, "synchronous_commit").await, "on");
    assert_eq!(show(&repeatable, "synchronous_commit").await, "off");
    assert_eq!(
        show(&repeatable, "statement_timeout").await,
        format!("{}s", STATEMENT_TIMEOUT.as_secs())
    );
}

/// PostgreSQL's error code (SQLSTATE) of a failed statement.
fn sqlstate(error: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = error
    else {
        return None;
    };
    e.as_database_error()?.code().map(|c| c.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_answers_gives_its_pool_slot_back() {
    let _serial = one_at_a_time().await;
    let proxy = FaultProxy::start(&database_server().2).await;
    // One slot: the silent connection holds it until the pool lets it go. Without TLS: over
    // TLS, sqlx 0.9 closes a connection by flushing its rustls stream, which with nothing left
    // to write waits for the socket to become readable, so a connection whose server went
    // silent keeps its slot until TCP gives up, whatever the pool's hook decides (README).
    let db = pool(format!("{}?sslmode=disable", database_url(Some(&proxy))), 1).await;
    let txn = db.begin().await.unwrap();
    show(&txn, "statement_timeout").await;

    // The database goes silent while the connection is checked out; the call is given up,
    // and the connection goes back to the pool, where it never answers.
    proxy.black_hole();
    let started = Instant::now();
    let given_up = db::bounded(txn.execute_unprepared("SELECT 1")).await;
    assert!(given_up.is_err(), "a silent database: {given_up:?}");
    drop(txn);
    proxy.restore();

    // Its slot comes back within the deadline of that last ping, and a new connection
    // answers; without it the pool would wait on the silent one until TCP gave up.
    let bound = 3 * STATEMENT_TIMEOUT;
    loop {
        match db::bounded(db.execute_unprepared("SELECT 1")).await {
            Ok(_) => break,
            Err(error) => assert!(
                started.elapsed() < bound,
                "the pool's one slot still held after {:?}: {error}",
                started.elapsed()
            ),
        }
    }
    eprintln!(
        "a silent connection: the pool answered again {:?} after the call was given up",
        started.elapsed()
    );
}
