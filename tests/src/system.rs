//! One isolated imagepipe: fresh database, own queue prefix and buckets, the three services
//! running in this process.

use std::{sync::Once, time::Duration};

use imagepipe_ingest::Application;
use imagepipe_shared::{config::StorageConfig, storage::Storage, topology::Topology};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    Options,
    configs::{ServiceConfigs, Wiring, ingest_flags, processor_flags, result_writer_flags},
    pg_wire::PgWireLog,
    ports::claim_port,
    proxy::{FaultProxy, authority, through},
};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            imagepipe_shared::telemetry::init(&imagepipe_shared::config::TelemetryConfig {
                log_filter: env_or("RUST_LOG", "info"),
                log_format: "pretty".to_owned(),
            });
        }
    });
}

pub struct TestSystem {
    /// Base URL of ingest, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    pub http: reqwest::Client,
    /// The test's own database (direct, never through a proxy).
    pub db: DatabaseConnection,
    /// The test's own buckets (direct, never through a proxy).
    pub storage: Storage,
    /// The test's own exchanges and queues.
    pub topology: Topology,
    pub options: Options,
    /// The proxies the services talk through, when the options asked for them.
    pub s3_proxy: Option<FaultProxy>,
    pub amqp_proxy: Option<FaultProxy>,
    pub db_proxy: Option<FaultProxy>,
    /// What ingest asked of the database, when the options asked for it.
    pub ingest_db_log: Option<PgWireLog>,
    pub(crate) admin_url: String,
    pub(crate) db_name: String,
    pub(crate) amqp_url: String,
    /// The test's own view of the object store (direct), to delete its buckets at cleanup.
    pub(crate) storage_config: StorageConfig,
    /// The settings of this system's services (broker, prefix, buckets, database...).
    configs: ServiceConfigs,
    pub(crate) shutdown: CancellationToken,
    pub(crate) ingest: Option<(CancellationToken, JoinHandle<()>)>,
    pub(crate) processor: Option<(CancellationToken, JoinHandle<()>)>,
    pub(crate) services: Vec<JoinHandle<()>>,
    pub(crate) cleaned: bool,
    /// Ports of the processor's and the result-writer's health endpoints.
    pub processor_health_port: u16,
    pub result_writer_health_port: u16,
}

impl TestSystem {
    pub async fn start(options: Options) -> Self {
        init_logs();
        let id = Uuid::new_v4().simple().to_string()[..12].to_owned();

        // A database of its own, migrated.
        let server = env_or(
            "IMAGEPIPE_TEST_DATABASE_SERVER",
            "postgres://postgres@127.0.0.1:5432",
        );
        let admin_url = format!("{server}/postgres");
        let db_name = format!("imagepipe_test_{id}");
        let database_url = format!("{server}/{db_name}");
        let admin = Database::connect(&admin_url)
            .await
            .expect("PostgreSQL reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{db_name}\""))
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let db = Database::connect(&database_url)
            .await
            .expect("test database");
        Migrator::up(&db, None).await.expect("migrations apply");

        let amqp_url = env_or(
            "IMAGEPIPE_TEST_AMQP_URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        );
        let s3_endpoint = env_or("IMAGEPIPE_TEST_S3_ENDPOINT", "http://127.0.0.1:9000");

        let proxy = |wanted: bool, url: String| async move {
            if wanted {
                Some(FaultProxy::start(&authority(&url)).await)
            } else {
                None
            }
        };
        let s3_proxy = proxy(options.proxy_s3, s3_endpoint.clone()).await;
        let amqp_proxy = proxy(options.proxy_amqp, amqp_url.clone()).await;
        let db_proxy = proxy(options.proxy_db, database_url.clone()).await;
        let service_url = |url: &str, proxy: &Option<FaultProxy>| match proxy {
            Some(proxy) => through(url, proxy.address()),
            None => url.to_owned(),
        };

        let processor_health_port = claim_port();
        let result_writer_health_port = claim_port();
        let mut configs = ServiceConfigs::new(
            &options,
            &Wiring {
                amqp_url: service_url(&amqp_url, &amqp_proxy),
                amqp_prefix: format!("test-{id}"),
                database_url: service_url(&database_url, &db_proxy),
                s3_endpoint: service_url(&s3_endpoint, &s3_proxy),
                uploads_bucket: format!("t{id}-uploads"),
                processed_bucket: format!("t{id}-processed"),
                log_filter: env_or("RUST_LOG", "info"),
                processor_health_port,
                result_writer_health_port,
            },
        );

        let ingest_db_log = if options.log_ingest_db {
            let ingest_url = configs.ingest.database.database_url.clone();
            let log = PgWireLog::start(&authority(&ingest_url)).await;
            // The log reads the protocol: no TLS between ingest and it.
            configs.ingest.database.database_url =
                format!("{}?sslmode=disable", through(&ingest_url, log.address()));
            Some(log)
        } else {
            None
        };

        // The test's own view, never through a proxy.
        let mut storage_config = configs.ingest.storage.clone();
        storage_config.s3_endpoint = s3_endpoint;
        let storage = Storage::connect(&storage_config)
            .await
            .expect("S3 server reachable");
        let mut amqp_config = configs.ingest.amqp.clone();
        amqp_config.amqp_url = amqp_url.clone();
        let topology = amqp_config.topology();

        let shutdown = CancellationToken::new();
        let services = vec![tokio::spawn({
            let shutdown = shutdown.clone();
            let config = configs.result_writer.clone();
            let resolver = options
                .webhook_resolver
                .clone()
                .unwrap_or_else(|| std::sync::Arc::new(imagepipe_shared::webhooks::SystemResolver));
            async move {
                imagepipe_result_writer::run_with_resolver(config, resolver, shutdown)
                    .await
                    .expect("result-writer runs")
            }
        })];

        let mut system = Self {
            base_url: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
            db,
            storage,
            topology,
            options: options.clone(),
            s3_proxy,
            amqp_proxy,
            db_proxy,
            ingest_db_log,
            admin_url,
            db_name,
            amqp_url,
            storage_config,
            configs,
            shutdown,
            ingest: None,
            processor: None,
            services,
            cleaned: false,
            processor_health_port,
            result_writer_health_port,
        };
        system.start_ingest().await;
        if options.start_processor {
            system.start_processor();
        }
        system
    }

    /// Start an ingest on a new port (the first, or a replacement after `stop_ingest`).
    pub async fn start_ingest(&mut self) {
        let token = self.shutdown.child_token();
        let app = Application::build(self.configs.ingest.clone(), &token)
            .await
            .expect("ingest starts")
            .expect("ingest was not stopped while starting");
        let app = match &self.options.webhook_resolver {
            Some(resolver) => app.with_callback_resolver(resolver.clone()),
            None => app,
        };
        self.base_url = format!("http://127.0.0.1:{}", app.port());
        let handle = tokio::spawn({
            let token = token.clone();
            async move { app.run(token).await.expect("ingest runs") }
        });
        self.ingest = Some((token, handle));
    }

    /// Stop ingest and wait until it has.
    pub async fn stop_ingest(&mut self) {
        if let Some((token, handle)) = self.ingest.take() {
            token.cancel();
            let _ = handle.await;
        }
    }

    /// The flags a processor of this system is started with as a process: the settings of
    /// the in-process one.
    pub fn processor_args(&self) -> Vec<String> {
        processor_flags(&self.configs.processor)
    }

    /// The flags a result-writer of this system is started with as a process: the settings
    /// of the in-process one.
    pub fn result_writer_args(&self) -> Vec<String> {
        result_writer_flags(&self.configs.result_writer)
    }

    /// The flags of an ingest run as a process, listening on 127.0.0.1:`port`: the settings
    /// of the in-process one otherwise. Several can run at once, each on its own port.
    pub fn ingest_args(&self, port: u16) -> Vec<String> {
        let mut config = self.configs.ingest.clone();
        config.bind = format!("127.0.0.1:{port}");
        ingest_flags(&config)
    }

    /// [`processor_args`](Self::processor_args) with the health endpoint on `health_port`,
    /// so several processors can run at once.
    pub fn processor_args_on(&self, health_port: u16) -> Vec<String> {
        let mut config = self.configs.processor.clone();
        config.health.health_bind = format!("127.0.0.1:{health_port}");
        processor_flags(&config)
    }

    /// [`result_writer_args`](Self::result_writer_args) with the health endpoint on
    /// `health_port`, so several result-writers can run at once.
    pub fn result_writer_args_on(&self, health_port: u16) -> Vec<String> {
        let mut config = self.configs.result_writer.clone();
        config.health.health_bind = format!("127.0.0.1:{health_port}");
        result_writer_flags(&config)
    }

    /// Stop the in-process result-writer (a test then runs its own, as a process).
    pub async fn stop_result_writer(&mut self) {
        for handle in std::mem::take(&mut self.services) {
            handle.abort();
            let _ = handle.await;
        }
    }

    /// Start the processor (if a test held it back, or after stopping it).
    pub fn start_processor(&mut self) {
        let config = self.configs.processor.clone();
        let token = self.shutdown.child_token();
        let handle = tokio::spawn({
            let token = token.clone();
            async move {
                imagepipe_processor::run(config, token)
                    .await
                    .expect("processor runs")
            }
        });
        self.processor = Some((token, handle));
    }
}
