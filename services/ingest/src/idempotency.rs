//! `Idempotency-Key` on uploads. The first request with a key claims it (with the digest of
//! its request: its file and its chain of steps); when it succeeds, the key records its task.
//! Later requests with the key:
//! - same file and chain, first one done → the first response again (202, the same task);
//! - different file or chain → 422 `idempotency_key_reused`;
//! - first one still running → 409 `idempotency_key_in_use`.
//!
//! A request that fails releases its claim, so the client can retry with the same key.
//! Keys are scoped per API key and expire after `IDEMPOTENCY_TTL_SECS`.

use std::time::Duration;

use imagepipe_entity::idempotency_key;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{db_deadline::timed, error::ApiError};

/// Longest a key may be a header value here.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// A claim older than this whose request never finished (its ingest died) may be taken over.
/// The claim is taken after the body is read, so it covers only storing and committing.
const ABANDONED_AFTER: Duration = Duration::from_secs(120);

/// The outcome of presenting a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The key is ours now: go on, and record the task in the statement that creates it
    /// (`tasks_repo::create`).
    New,
    /// Answer again what the first request answered.
    Replay(Uuid),
}

/// Check a key's shape before anything else: 1 to 255 printable ASCII characters, as the
/// OpenAPI document states (`^[ -~]+$`; poem checks it there first, this is the rule for
/// callers that do not come through the API).
pub(crate) fn validate(key: &str) -> Result<(), ApiError> {
    let printable = key.bytes().all(|b| (b' '..=b'~').contains(&b));
    if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
        return Err(ApiError::InvalidIdempotencyKey);
    }
    Ok(())
}

/// What a key compares: the file's SHA-256 for the default chain (what every request before
/// chains asked for, so a key claimed before an upgrade still replays), otherwise SHA-256 over
/// the file's SHA-256 and the chain's identity (the preset's name or the canonical steps), so
/// the same file asked for other work is another request.
pub(crate) fn request_digest(file_sha256: &[u8], chain: Option<&str>) -> Vec<u8> {
    match chain {
        None => file_sha256.to_vec(),
        Some(chain) => {
            let mut hasher = Sha256::new();
            hasher.update(file_sha256);
            hasher.update(chain.as_bytes());
            hasher.finalize().to_vec()
        }
    }
}

pub(crate) async fn claim(
    db: &DatabaseConnection,
    scope: &str,
    key: &str,
    sha256: &[u8],
    ttl: Duration,
) -> Result<Claim, ApiError> {
    // Raw SQL, unlike the rest of this module: a conditional upsert (take the key over only
    // if it expired or was abandoned) with interval arithmetic on the database's clock reads
    // best in PostgreSQL's own words.
    let claimed = timed(db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO idempotency_keys (scope, key, request_sha256, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (scope, key) DO UPDATE
            SET request_sha256 = EXCLUDED.request_sha256, task_id = NULL,
                created_at = now(), expires_at = EXCLUDED.expires_at
          WHERE idempotency_keys.expires_at < now()
             OR (idempotency_keys.task_id IS NULL
                 AND idempotency_keys.created_at < now() - make_interval(secs => $5))
         RETURNING key",
        vec![
            scope.into(),
            key.into(),
            sha256.to_vec().into(),
            ttl.as_secs_f64().into(),
            ABANDONED_AFTER.as_secs_f64().into(),
        ],
    )))
    .await?;
    if claimed.is_some() {
        return Ok(Claim::New);
    }
    let existing =
        timed(idempotency_key::Entity::find_by_id((scope.to_owned(), key.to_owned())).one(db))
            .await?
            // Released between our two statements: the first request failed. Ours may go ahead.
            .ok_or(ApiError::IdempotencyKeyInUse)?;
    match existing.task_id {
        _ if existing.request_sha256 != sha256 => Err(ApiError::IdempotencyKeyReused),
        Some(task_id) => Ok(Claim::Replay(task_id)),
        None => Err(ApiError::IdempotencyKeyInUse),
    }
}

/// Give a claim back after the request failed.
pub(crate) async fn release(db: &DatabaseConnection, scope: &str, key: &str) {
    let release = this_key(idempotency_key::Entity::delete_many(), scope, key)
        .filter(idempotency_key::Column::TaskId.is_null());
    let released = timed(release.exec(db)).await;
    if let Err(err) = released {
        // It expires as abandoned after ABANDONED_AFTER.
        tracing::warn!(%err, "cannot release an idempotency key");
    }
}

/// The one key `key` of `scope`.
fn this_key<Q: QueryFilter>(query: Q, scope: &str, key: &str) -> Q {
    query
        .filter(idempotency_key::Column::Scope.eq(scope))
        .filter(idempotency_key::Column::Key.eq(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_differs_by_file_and_by_chain() {
        let file = [1; 32];
        assert_eq!(
            request_digest(&file, None),
            file,
            "the default chain: as before chains"
        );
        let chain = request_digest(&file, Some("preset:grayscale"));
        assert_eq!(chain, request_digest(&file, Some("preset:grayscale")));
        assert_ne!(chain, request_digest(&[2; 32], Some("preset:grayscale")));
        assert_ne!(chain, request_digest(&file, Some("preset:thumbnail")));
        assert_ne!(chain, request_digest(&file, None));
    }
}
