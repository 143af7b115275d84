//! The storage service: the two buckets imagepipe uses, over `object_store`.
//!
//! `object_store` speaks S3 (MinIO, s3s, AWS) and has an in-memory store for unit tests; it
//! has no bucket-level calls, so checking and creating buckets at startup goes through
//! `rusty-s3` presigned requests ([`s3`]). Every call has a timeout (the client's) and
//! `object_store`'s own retries are kept short (`retry::object_store_client`): the pipeline
//! retries through RabbitMQ with its own backoff.

mod bucket;
mod s3;

use std::{sync::Arc, time::Duration};

use object_store::memory::InMemory;
use tokio_util::sync::CancellationToken;

pub use bucket::Bucket;

use crate::{config::StorageConfig, retry};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object {key} not found in bucket {bucket}")]
    NotFound { bucket: String, key: String },
    #[error("object store unavailable: {0}")]
    Unavailable(#[source] object_store::Error),
    #[error("object store request to bucket {bucket} timed out after {timeout:?}")]
    Timeout { bucket: String, timeout: Duration },
    #[error(
        "bucket {bucket} does not exist at {endpoint} and S3_CREATE_BUCKETS is off; create it or allow the service to"
    )]
    MissingBucket { bucket: String, endpoint: String },
    #[error("cannot check or create bucket {bucket} at {endpoint}: {reason}")]
    BucketSetup {
        bucket: String,
        endpoint: String,
        reason: String,
    },
    #[error("invalid storage configuration: {0}")]
    Config(String),
    #[error("cannot read the data to store: {0}")]
    Source(#[from] std::io::Error),
}

/// Objects up to this size go up in one PUT; larger ones as a multipart upload in parts of
/// this size (S3's smallest part is 5 MiB), with one part in memory at a time.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

impl StorageError {
    /// Whether waiting cannot fix it: settings to change, or a bucket to create by hand.
    fn needs_an_operator(&self) -> bool {
        matches!(self, Self::MissingBucket { .. } | Self::Config(_))
    }
}

/// The buckets of imagepipe: `uploads` for originals, `processed` for results.
#[derive(Debug, Clone)]
pub struct Storage {
    pub uploads: Bucket,
    pub processed: Bucket,
}

impl Storage {
    /// Connect to the configured S3 endpoint and make sure both buckets exist, creating them
    /// when allowed.
    pub async fn connect(config: &StorageConfig) -> Result<Self, StorageError> {
        let storage = Self {
            uploads: s3::bucket(config, &config.uploads_bucket)?,
            processed: s3::bucket(config, &config.processed_bucket)?,
        };
        for bucket in [&config.uploads_bucket, &config.processed_bucket] {
            s3::ensure_bucket(config, bucket).await?;
        }
        Ok(storage)
    }

    /// [`Storage::connect`], waiting for the object store until it answers (with
    /// `retry::dependency`); `Ok(None)` if `shutdown` fires first. Settings that waiting cannot
    /// fix (a missing bucket it may not create, invalid settings) fail at once.
    pub async fn connect_with_retry(
        config: &StorageConfig,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, StorageError> {
        retry::wait_for(
            "the object store",
            shutdown,
            StorageError::needs_an_operator,
            || Self::connect(config),
        )
        .await
    }

    /// The buckets, without touching the network: for a service that only reads or deletes
    /// objects others wrote, and must start (and stay ready) while the object store is away.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        Ok(Self {
            uploads: s3::bucket(config, &config.uploads_bucket)?,
            processed: s3::bucket(config, &config.processed_bucket)?,
        })
    }

    /// Both buckets in memory, for unit tests.
    pub fn in_memory() -> Self {
        let bucket = |name: &str| {
            Bucket::new(
                name,
                Arc::new(InMemory::new()),
                None,
                Duration::from_secs(5),
            )
        };
        Self {
            uploads: bucket("uploads"),
            processed: bucket("processed"),
        }
    }

    /// Whether the object store answers (for readiness): a cheap HEAD on a key that need not
    /// exist.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.uploads.exists("health-check").await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn put_get_exists_delete_round_trip() {
        let storage = Storage::in_memory();
        let bucket = &storage.uploads;
        assert!(!bucket.exists("a/b").await.unwrap());
        bucket
            .upload_file("a/b", Bytes::from_static(b"pixels"), "image/png")
            .await
            .unwrap();
        assert!(bucket.exists("a/b").await.unwrap());
        assert_eq!(
            bucket.get_file("a/b").await.unwrap(),
            Bytes::from_static(b"pixels")
        );
        bucket.delete("a/b").await.unwrap();
        bucket.delete("a/b").await.unwrap();
        assert!(matches!(
            bucket.get_file("a/b").await,
            Err(StorageError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn streamed_uploads_store_every_byte_small_or_multipart() {
        let storage = Storage::in_memory();
        let bucket = &storage.uploads;
        for len in [0, 10, PART_SIZE, PART_SIZE + 1, 2 * PART_SIZE + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            bucket
                .upload_stream(
                    "k",
                    std::io::Cursor::new(data.clone()),
                    len as u64,
                    "image/png",
                )
                .await
                .unwrap();
            assert_eq!(
                bucket.get_file("k").await.unwrap().as_ref(),
                &data[..],
                "{len} bytes"
            );
        }
    }
}
