//! The storage service: the two buckets imagepipe uses, over `object_store`.
//!
//! `object_store` speaks S3 (MinIO, s3s, AWS) and has an in-memory store for unit tests; it
//! has no bucket-level calls, so checking and creating buckets at startup goes through
//! `rusty-s3` presigned requests. Every call has a timeout (the client's) and `object_store`'s
//! own retries are kept short: the pipeline retries through RabbitMQ with its own backoff.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutOptions, PutPayload, RetryConfig, WriteMultipart, aws::AmazonS3Builder, memory::InMemory,
    path::Path, signer::Signer,
};
use rusty_s3::{S3Action, UrlStyle};
use tokio::io::{AsyncRead, AsyncReadExt};
use url::Url;

use crate::config::StorageConfig;

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
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Timeout { .. })
    }
}

/// One bucket: reads and writes through the service endpoint, download URLs signed for the
/// public one.
#[derive(Debug, Clone)]
pub struct Bucket {
    name: String,
    store: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    timeout: Duration,
}

impl Bucket {
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn timed<T>(
        &self,
        fut: impl Future<Output = object_store::Result<T>>,
        key: &str,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(object_store::Error::NotFound { .. })) => Err(StorageError::NotFound {
                bucket: self.name.clone(),
                key: key.to_owned(),
            }),
            Ok(Err(err)) => Err(StorageError::Unavailable(err)),
            Err(_) => Err(StorageError::Timeout {
                bucket: self.name.clone(),
                timeout: self.timeout,
            }),
        }
    }

    /// Store `bytes` at `key`, replacing what was there.
    pub async fn upload_file(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        let options = PutOptions {
            attributes,
            ..Default::default()
        };
        self.timed(
            self.store
                .put_opts(&Path::from(key), PutPayload::from_bytes(bytes), options),
            key,
        )
        .await
        .map(drop)
    }

    /// Store `len` bytes read from `source` at `key`, holding at most about one part
    /// ([`PART_SIZE`]) in memory whatever the size. A failed multipart upload is aborted, so
    /// no half-written object or orphaned parts remain.
    pub async fn upload_stream<R: AsyncRead + Unpin>(
        &self,
        key: &str,
        mut source: R,
        len: u64,
        content_type: &str,
    ) -> Result<(), StorageError> {
        if len <= PART_SIZE as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(PART_SIZE));
            source.read_to_end(&mut bytes).await?;
            return self
                .upload_file(key, Bytes::from(bytes), content_type)
                .await;
        }
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        let options = PutMultipartOptions {
            attributes,
            ..Default::default()
        };
        let upload = self
            .timed(
                self.store.put_multipart_opts(&Path::from(key), options),
                key,
            )
            .await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut chunk = vec![0u8; 256 * 1024];
        let copied = async {
            loop {
                let read = source.read(&mut chunk).await?;
                if read == 0 {
                    return Ok::<_, StorageError>(());
                }
                // Wait for the part in flight before filling the next: memory stays at
                // about one part per upload.
                self.timed(writer.wait_for_capacity(0), key).await?;
                writer.write(&chunk[..read]);
            }
        }
        .await;
        match copied {
            Ok(()) => self.timed(writer.finish(), key).await.map(drop),
            Err(err) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(key, %abort, "cannot abort a failed multipart upload");
                }
                Err(err)
            }
        }
    }

    /// The whole object at `key`.
    pub async fn get_file(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = Path::from(key);
        let read = async { self.store.get(&path).await?.bytes().await };
        self.timed(read, key).await
    }

    /// Whether an object exists at `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.timed(self.store.head(&Path::from(key)), key).await {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Delete the object at `key`; deleting a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.timed(self.store.delete(&Path::from(key)), key).await {
            Ok(()) | Err(StorageError::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Delete every object of the bucket; how many there were (for tools; lists the whole
    /// bucket).
    pub async fn delete_all(&self) -> Result<usize, StorageError> {
        use futures::{StreamExt, TryStreamExt};
        let deleted = async {
            let keys: Vec<_> = self
                .store
                .list(None)
                .map_ok(|meta| meta.location)
                .try_collect()
                .await?;
            let n = keys.len();
            self.store
                .delete_stream(futures::stream::iter(keys.into_iter().map(Ok)).boxed())
                .try_collect::<Vec<_>>()
                .await?;
            Ok(n)
        };
        self.timed(deleted, "").await
    }

    /// How many objects the bucket holds (for tests and tools; lists the whole bucket).
    pub async fn count(&self) -> Result<usize, StorageError> {
        use futures::TryStreamExt;
        let list = async { self.store.list(None).try_collect::<Vec<_>>().await };
        self.timed(list, "").await.map(|objects| objects.len())
    }

    /// A URL that downloads `key` without credentials until it expires, or `None` for a store
    /// that cannot sign (the in-memory one).
    pub async fn download_url(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<Option<Url>, StorageError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer
            .signed_url(
                object_store::signer::Method::GET,
                &Path::from(key),
                expires_in,
            )
            .await
            .map_err(StorageError::Unavailable)?;
        Ok(Some(url))
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
            uploads: s3_bucket(config, &config.uploads_bucket)?,
            processed: s3_bucket(config, &config.processed_bucket)?,
        };
        for bucket in [&config.uploads_bucket, &config.processed_bucket] {
            ensure_bucket(config, bucket).await?;
        }
        Ok(storage)
    }

    /// The buckets, without touching the network: for a service that only reads or deletes
    /// objects others wrote, and must start (and stay ready) while the object store is away.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        Ok(Self {
            uploads: s3_bucket(config, &config.uploads_bucket)?,
            processed: s3_bucket(config, &config.processed_bucket)?,
        })
    }

    /// Both buckets in memory, for unit tests.
    pub fn in_memory() -> Self {
        let bucket = |name: &str| Bucket {
            name: name.to_owned(),
            store: Arc::new(InMemory::new()),
            signer: None,
            timeout: Duration::from_secs(5),
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

fn s3_builder(config: &StorageConfig, endpoint: &str, bucket: &str) -> AmazonS3Builder {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region(&config.s3_region)
        .with_access_key_id(&config.s3_access_key)
        .with_secret_access_key(&config.s3_secret_key)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
}

fn s3_bucket(config: &StorageConfig, name: &str) -> Result<Bucket, StorageError> {
    let options = ClientOptions::new()
        .with_timeout(config.timeout())
        .with_connect_timeout(Duration::from_secs(3))
        .with_allow_http(true);
    // A few quick retries smooth over a dropped keep-alive connection; anything longer is the
    // pipeline's job (RabbitMQ retry queues), which survives a restart of the service.
    let retry = RetryConfig {
        max_retries: 2,
        retry_timeout: config.timeout(),
        ..Default::default()
    };
    let store = s3_builder(config, &config.s3_endpoint, name)
        .with_unsigned_payload(config.s3_unsigned_payload)
        .with_client_options(options)
        .with_retry(retry)
        .build()
        .map_err(|e| StorageError::Config(e.to_string()))?;
    // Signing is local computation; a separate client only so the URL names the public host.
    let signer = s3_builder(config, config.public_endpoint(), name)
        .build()
        .map_err(|e| StorageError::Config(e.to_string()))?;
    Ok(Bucket {
        name: name.to_owned(),
        store: Arc::new(store),
        signer: Some(Arc::new(signer)),
        timeout: config.timeout(),
    })
}

async fn ensure_bucket(config: &StorageConfig, name: &str) -> Result<(), StorageError> {
    let setup_err = |reason: String| StorageError::BucketSetup {
        bucket: name.to_owned(),
        endpoint: config.s3_endpoint.clone(),
        reason,
    };
    let endpoint: Url = config
        .s3_endpoint
        .parse()
        .map_err(|e: url::ParseError| StorageError::Config(format!("S3_ENDPOINT: {e}")))?;
    let bucket = rusty_s3::Bucket::new(
        endpoint,
        UrlStyle::Path,
        name.to_owned(),
        config.s3_region.clone(),
    )
    .map_err(|e| setup_err(e.to_string()))?;
    let credentials = rusty_s3::Credentials::new(&config.s3_access_key, &config.s3_secret_key);
    let client = reqwest::Client::builder()
        .timeout(config.timeout())
        .build()
        .map_err(|e| setup_err(e.to_string()))?;
    let expiry = Duration::from_secs(60);

    let head = client
        .head(bucket.head_bucket(Some(&credentials)).sign(expiry))
        .send()
        .await
        .map_err(|e| setup_err(e.to_string()))?;
    if head.status().is_success() {
        return Ok(());
    }
    if head.status() != reqwest::StatusCode::NOT_FOUND {
        return Err(setup_err(format!("HEAD bucket answered {}", head.status())));
    }
    if !config.s3_create_buckets {
        return Err(StorageError::MissingBucket {
            bucket: name.to_owned(),
            endpoint: config.s3_endpoint.clone(),
        });
    }
    let create = bucket.create_bucket(&credentials);
    let body = create.body();
    let created = client
        .put(create.sign(expiry))
        .body(body)
        .send()
        .await
        .map_err(|e| setup_err(e.to_string()))?;
    // Another service may have created it in the meantime: that is success too.
    if created.status().is_success() || created.status() == reqwest::StatusCode::CONFLICT {
        tracing::info!(bucket = name, "created bucket");
        Ok(())
    } else {
        let status = created.status();
        let text = created.text().await.unwrap_or_default();
        Err(setup_err(format!(
            "CREATE bucket answered {status}: {text}"
        )))
    }
}

#[cfg(test)]
mod tests {
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
