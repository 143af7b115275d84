//! The relay's connection, kept from one pass to the next.
//!
//! Taking a connection from the pool and giving it back costs exchanges that run no statement:
//! the ping before it is handed out, then sqlx's ping on the way back and `shared::db`'s
//! bounded one. For the relay that is three exchanges a pass, as many as its statements. So the relay keeps one connection
//! for as long as it works, and gives it back, to be checked and closed by the pool, after any
//! database error: a connection whose statement went unanswered may be dead, or still busy.

use imagepipe_shared::db::{bounded, connection_error, postgres_pool};
use sea_orm::{
    DatabaseConnection, DbErr,
    sqlx::{PgConnection, Postgres, pool::PoolConnection},
};

pub(super) struct HeldConnection {
    db: DatabaseConnection,
    connection: Option<PoolConnection<Postgres>>,
}

impl HeldConnection {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            connection: None,
        }
    }

    /// The held connection, taken from the pool (within [`bounded`]'s deadline) if none is.
    pub(super) async fn get(&mut self) -> Result<&mut PgConnection, DbErr> {
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                let pool = postgres_pool(&self.db)?;
                bounded(async { pool.acquire().await.map_err(connection_error) }).await?
            }
        };
        Ok(&mut **self.connection.insert(connection))
    }

    /// Give the connection back to the pool; the next pass takes another.
    pub(super) fn forget(&mut self) {
        self.connection = None;
    }
}
