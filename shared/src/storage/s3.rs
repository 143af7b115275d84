//! The S3 side of the storage service: `object_store` clients for a bucket, and checking or
//! creating buckets at startup (which `object_store` cannot do) with `rusty-s3` presigned
//! requests.

use std::{sync::Arc, time::Duration};

use object_store::{ClientOptions, aws::AmazonS3Builder};
use rusty_s3::{S3Action, UrlStyle};
use url::Url;

use super::{Bucket, StorageError};
use crate::{config::StorageConfig, retry};

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

pub(super) fn bucket(config: &StorageConfig, name: &str) -> Result<Bucket, StorageError> {
    let options = ClientOptions::new()
        .with_timeout(config.timeout())
        .with_connect_timeout(Duration::from_secs(3))
        .with_allow_http(true);
    let store = s3_builder(config, &config.s3_endpoint, name)
        .with_unsigned_payload(config.s3_unsigned_payload)
        .with_client_options(options)
        .with_retry(retry::object_store_client(config.timeout()))
        .build()
        .map_err(|e| StorageError::Config(e.to_string()))?;
    // Signing is local computation; a separate client only so the URL names the public host.
    let signer = s3_builder(config, config.public_endpoint(), name)
        .build()
        .map_err(|e| StorageError::Config(e.to_string()))?;
    Ok(Bucket::new(
        name,
        Arc::new(store),
        Some(Arc::new(signer)),
        config.timeout(),
    ))
}

pub(super) async fn ensure_bucket(config: &StorageConfig, name: &str) -> Result<(), StorageError> {
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
