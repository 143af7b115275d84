//! Removing what a test system made: its database, queues and exchanges; also when the test
//! panicked before calling `cleanup`.

use imagepipe_shared::topology::Topology;
use lapin::{
    Connection, ConnectionProperties,
    options::{ExchangeDeleteOptions, QueueDeleteOptions},
};
use sea_orm::{ConnectionTrait, Database};

use crate::TestSystem;

impl TestSystem {
    /// Stop the services and delete the database, queues and exchanges of this system.
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
        remove(
            &self.admin_url,
            &self.db_name,
            &self.amqp_url,
            &self.topology,
        )
        .await;
        self.cleaned = true;
    }
}

async fn remove(admin_url: &str, db_name: &str, amqp_url: &str, topology: &Topology) {
    if let Ok(admin) = Database::connect(admin_url).await {
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
            ))
            .await;
        admin.close().await.ok();
    }
    if let Ok(connection) = Connection::connect(amqp_url, ConnectionProperties::default()).await {
        if let Ok(channel) = connection.create_channel().await {
            for queue in topology.all_queues() {
                let _ = channel
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in topology.all_exchanges() {
                let _ = channel
                    .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                    .await;
            }
        }
        connection.close(200, "bye".into()).await.ok();
    }
}

impl Drop for TestSystem {
    /// A test that panicked did not call `cleanup`: still remove what it made, from a thread
    /// with its own runtime (the test's runtime is unwinding).
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        self.shutdown.cancel();
        let (admin_url, db_name, amqp_url, topology) = (
            self.admin_url.clone(),
            self.db_name.clone(),
            self.amqp_url.clone(),
            self.topology.clone(),
        );
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(remove(&admin_url, &db_name, &amqp_url, &topology));
            }
        })
        .join();
    }
}
