//! One bucket: the object operations the services use, each bounded by the request timeout.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart, path::Path, signer::Signer,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use url::Url;

use super::{PART_SIZE, StorageError};

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
    pub(super) fn new(
        name: &str,
        store: Arc<dyn ObjectStore>,
        signer: Option<Arc<dyn Signer>>,
        timeout: Duration,
    ) -> Self {
        Self {
            name: name.to_owned(),
            store,
            signer,
            timeout,
        }
    }

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

    /// The object at `key` as a stream of chunks, and its size: for relaying an object
    /// without holding it whole. The request timeout bounds the wait for the object and for
    /// each chunk after it, so a store that stalls mid-body ends the stream with an error.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, StorageError>>), StorageError> {
        let found = self.timed(self.store.get(&Path::from(key)), key).await?;
        let size = found.meta.size;
        let (timeout, bucket) = (self.timeout, self.name.clone());
        let chunks = futures::stream::unfold(found.into_stream(), move |mut chunks| {
            let bucket = bucket.clone();
            async move {
                let chunk = match tokio::time::timeout(timeout, chunks.next()).await {
                    Ok(None) => return None,
                    Ok(Some(chunk)) => chunk.map_err(StorageError::Unavailable),
                    Err(_) => Err(StorageError::Timeout { bucket, timeout }),
                };
                Some((chunk, chunks))
            }
        });
        Ok((size, chunks.boxed()))
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

    /// Delete the objects at `keys`, in one request where the store allows; missing objects
    /// are not an error.
    pub async fn delete_keys(&self, keys: &[String]) -> Result<(), StorageError> {
        let paths: Vec<_> = keys
            .iter()
            .map(|key| Ok(Path::from(key.as_str())))
            .collect();
        let deleted = async {
            let mut results = self
                .store
                .delete_stream(futures::stream::iter(paths).boxed());
            while let Some(result) = results.next().await {
                match result {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            Ok(())
        };
        self.timed(deleted, keys.first().map_or("", String::as_str))
            .await
    }

    /// Delete every object of the bucket; how many there were (for tools; lists the whole
    /// bucket).
    pub async fn delete_all(&self) -> Result<usize, StorageError> {
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
        let list = async { self.store.list(None).try_collect::<Vec<_>>().await };
        self.timed(list, "").await.map(|objects| objects.len())
    }

    /// The key of every object in the bucket (for tests and tools; lists the whole bucket).
    pub async fn keys(&self) -> Result<Vec<String>, StorageError> {
        let list = async {
            self.store
                .list(None)
                .map_ok(|meta| meta.location.to_string())
                .try_collect::<Vec<_>>()
                .await
        };
        self.timed(list, "").await
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
