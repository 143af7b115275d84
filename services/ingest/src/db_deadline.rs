//! How long a request waits on the database: past the deadline it answers 503 rather than
//! hold the client (and its upload) while PostgreSQL is away.

use imagepipe_shared::db;
use sea_orm::DbErr;

use crate::error::ApiError;

/// Run a database call within `db::STATEMENT_TIMEOUT`; an error or a timeout is
/// `DatabaseUnavailable`.
pub(crate) async fn timed<T>(fut: impl Future<Output = Result<T, DbErr>>) -> Result<T, ApiError> {
    db::bounded(fut)
        .await
        .map_err(|err| ApiError::DatabaseUnavailable(err.into()))
}
