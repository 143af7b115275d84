//! Removing what a test system made: its database, queues, exchanges and buckets; also when
//! the test panicked before calling `cleanup`. Removal is best effort: a dependency that is
//! away (a test cut it, or the machine's server is down) must not turn a passing test into a
//! failure, so errors are ignored.

use std::time::Duration;

use imagepipe_shared::{config::StorageConfig, storage::Storage, topology::Topology};
use lapin::{
    Connection, ConnectionProperties,
    options::{ExchangeDeleteOptions, QueueDeleteOptions},
};
use rusty_s3::{Credentials, S3Action, UrlStyle};
use sea_orm::{ConnectionTrait, Database};

use crate::TestSystem;

/// Everything a test system made outside this process, with the means to reach it directly
/// (never through a test's proxy). Only settings, no clients: `remove` may run on another
/// runtime than the test's, where the test's pooled connections would not be driven.
struct Made {
    admin_url: String,
    db_name: String,
    amqp_url: String,
    topology: Topology,
    storage_config: StorageConfig,
}

impl TestSystem {
    /// Stop the services and delete the database, queues, exchanges and buckets of this
    /// system.
    pub async fn cleanup(mut self) {
        self.shutdown.cancel();
        for (_, handle) in [self.processor.take(), self.ingest.take()]
            .into_iter()
            .flatten()
        {
            let _ = handle.await;
        }
        for handle in std::mem::take(&mut self.services) {
            let _ = handle.await;
        }
        self.made().remove().await;
        self.cleaned = true;
    }

    fn made(&self) -> Made {
        Made {
            admin_url: self.admin_url.clone(),
            db_name: self.db_name.clone(),
            amqp_url: self.amqp_url.clone(),
            topology: self.topology.clone(),
            storage_config: self.storage_config.clone(),
        }
    }
}

impl Made {
    async fn remove(self) {
        self.remove_database().await;
        self.remove_broker_objects().await;
        if let Ok(storage) = Storage::open(&self.storage_config) {
            for bucket in [&storage.uploads, &storage.processed] {
                // S3 deletes only empty buckets.
                let _ = bucket.delete_all().await;
                let _ = delete_bucket(&self.storage_config, bucket.name()).await;
            }
        }
    }

    async fn remove_database(&self) {
        if let Ok(admin) = Database::connect(&self.admin_url).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.db_name
                ))
                .await;
            admin.close().await.ok();
        }
    }

    async fn remove_broker_objects(&self) {
        let Ok(connection) =
            Connection::connect(&self.amqp_url, ConnectionProperties::default()).await
        else {
            return;
        };
        if let Ok(channel) = connection.create_channel().await {
            for queue in self.topology.all_queues() {
                let _ = channel
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in self.topology.all_exchanges() {
                let _ = channel
                    .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                    .await;
            }
        }
        connection.close(200, "bye".into()).await.ok();
    }
}

/// `DELETE` the (empty) bucket `name`, as a presigned request: `object_store` works inside
/// one bucket and has no call for the bucket itself.
async fn delete_bucket(config: &StorageConfig, name: &str) -> anyhow::Result<()> {
    let bucket = rusty_s3::Bucket::new(
        config.s3_endpoint.parse()?,
        UrlStyle::Path,
        name.to_owned(),
        config.s3_region.clone(),
    )?;
    let credentials = Credentials::new(&config.s3_access_key, &config.s3_secret_key);
    let url = bucket
        .delete_bucket(&credentials)
        .sign(Duration::from_secs(60));
    reqwest::Client::new()
        .delete(url)
        .timeout(config.timeout())
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

impl Drop for TestSystem {
    /// A test that panicked did not call `cleanup`: still remove what it made, from a thread
    /// with its own runtime (the test's runtime is unwinding).
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        self.shutdown.cancel();
        let made = self.made();
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(made.remove());
            }
        })
        .join();
    }
}
