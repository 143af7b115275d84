//! How long a request waits on the database: past the deadline it answers 503 rather than
//! hold the client (and its upload) while PostgreSQL is away.

use std::time::Duration;

use sea_orm::DbErr;

use crate::error::ApiError;

/// Longest a request waits on the database before answering 503.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// Run a database call within the deadline; an error or a timeout is `DatabaseUnavailable`.
pub(crate) async fn timed<T>(fut: impl Future<Output = Result<T, DbErr>>) -> Result<T, ApiError> {
    match tokio::time::timeout(DB_TIMEOUT, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(ApiError::DatabaseUnavailable(err.into())),
        Err(_) => Err(ApiError::DatabaseUnavailable(anyhow::anyhow!(
            "no answer within {DB_TIMEOUT:?}"
        ))),
    }
}
