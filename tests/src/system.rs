//! One isolated imagepipe: fresh database, own queue prefix and buckets, the three services
//! running in this process.

use std::{sync::Once, time::Duration};

use clap::Parser;
use imagepipe_ingest::{Application, IngestConfig};
use imagepipe_processor::ProcessorConfig;
use imagepipe_result_writer::ResultWriterConfig;
use imagepipe_shared::{storage::Storage, topology::Topology};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    Options,
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

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
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
    pub(crate) admin_url: String,
    pub(crate) db_name: String,
    pub(crate) amqp_url: String,
    /// Flags the services of this system get (broker, prefix, buckets, database...).
    broker_args: Vec<String>,
    storage_args: Vec<String>,
    webhook_args: Vec<String>,
    db_args: Vec<String>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) ingest: Option<(CancellationToken, JoinHandle<()>)>,
    pub(crate) processor: Option<(CancellationToken, JoinHandle<()>)>,
    pub(crate) services: Vec<JoinHandle<()>>,
    pub(crate) cleaned: bool,
    /// Ports of the processor's and the result-writer's health endpoints.
    pub processor_health_port: u16,
    pub result_writer_health_port: u16,
}

/// A port nobody listens on now (the OS picks it; the service binds it right after).
/// The result-writer's own flags.
fn writer_args(options: &Options, health_port: u16) -> Vec<String> {
    args(&[
        "--reaper-interval-secs",
        "1",
        "--shutdown-grace-secs",
        "10",
        "--health-bind",
        &format!("127.0.0.1:{health_port}"),
        "--task-timeout-secs",
        &options.task_timeout_secs.to_string(),
        "--retention-secs",
        &options.retention_secs.to_string(),
        "--retention-interval-secs",
        "1",
        "--webhook-poll-ms",
        "100",
        "--webhook-retry-min-ms",
        &options.webhook_retry_min_ms.to_string(),
    ])
}

/// Webhook flags: the allow-list first (ingest takes those two), then the secret.
fn webhook_args(options: &Options) -> Vec<String> {
    let mut flags = args(&[
        "--webhook-allowed-hosts",
        &options.webhook_allowed_hosts.join(","),
    ]);
    if let Some(secret) = &options.webhook_secret {
        flags.extend(args(&["--webhook-secret", secret]));
    }
    flags
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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
            Some(proxy) => through(url, proxy),
            None => url.to_owned(),
        };

        let retry_delays = options
            .retry_delays_ms
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let log_filter = env_or("RUST_LOG", "info");
        let broker_args = args(&[
            "--amqp-url",
            &service_url(&amqp_url, &amqp_proxy),
            "--amqp-prefix",
            &format!("test-{id}"),
            "--retry-delays-ms",
            &retry_delays,
            "--log-filter",
            &log_filter,
        ]);
        let storage_args = args(&[
            "--s3-endpoint",
            &service_url(&s3_endpoint, &s3_proxy),
            "--uploads-bucket",
            &format!("t{id}-uploads"),
            "--processed-bucket",
            &format!("t{id}-processed"),
            "--s3-timeout-ms",
            "3000",
            "--s3-unsigned-payload",
            &options.s3_unsigned_payload.to_string(),
        ]);
        let db_args = args(&["--database-url", &service_url(&database_url, &db_proxy)]);

        // The test's own view, never through a proxy.
        let storage_config = IngestConfig::try_parse_from(
            args(&["ingest", "--s3-endpoint", &s3_endpoint])
                .into_iter()
                .chain(storage_args[2..].iter().cloned()),
        )
        .expect("storage flags")
        .storage;
        let storage = Storage::connect(&storage_config)
            .await
            .expect("S3 server reachable");
        let topology = imagepipe_shared::config::AmqpConfig {
            amqp_url: amqp_url.clone(),
            amqp_prefix: format!("test-{id}"),
            retry_delays_ms: options.retry_delays_ms.clone(),
        }
        .topology();

        let result_writer_health_port = free_port();
        let webhook_args = webhook_args(&options);
        let writer_config = ResultWriterConfig::try_parse_from(
            args(&["result-writer"])
                .into_iter()
                .chain(writer_args(&options, result_writer_health_port))
                .chain(webhook_args.clone())
                .chain(broker_args.clone())
                .chain(storage_args.clone())
                .chain(db_args.clone()),
        )
        .expect("result-writer flags");
        let shutdown = CancellationToken::new();
        let services = vec![tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                imagepipe_result_writer::run(writer_config, shutdown)
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
            admin_url,
            db_name,
            amqp_url,
            broker_args,
            storage_args,
            webhook_args,
            db_args,
            shutdown,
            ingest: None,
            processor: None,
            services,
            cleaned: false,
            processor_health_port: free_port(),
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
        let config = IngestConfig::try_parse_from(
            args(&["ingest", "--bind", "127.0.0.1:0", "--outbox-poll-ms", "200"])
                .into_iter()
                .chain(args(&[
                    "--max-upload-bytes",
                    &self.options.max_upload_bytes.to_string(),
                    "--upload-memory-bytes",
                    &self.options.upload_memory_bytes.to_string(),
                    "--max-backlog",
                    &self.options.max_backlog.to_string(),
                    "--api-keys",
                    &self.options.api_keys.join(","),
                ]))
                .chain(self.webhook_args[..2].iter().cloned())
                .chain(self.broker_args.clone())
                .chain(self.storage_args.clone())
                .chain(self.db_args.clone()),
        )
        .expect("ingest flags");
        let app = Application::build(config).await.expect("ingest starts");
        self.base_url = format!("http://127.0.0.1:{}", app.port());
        let token = self.shutdown.child_token();
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

    /// The flags a processor of this system is started with (in-process or as a process).
    pub fn processor_args(&self) -> Vec<String> {
        args(&[
            "--processing-delay-ms",
            &self.options.processing_delay_ms.to_string(),
            "--processor-concurrency",
            &self.options.processor_concurrency.to_string(),
            "--max-attempts",
            &self.options.max_attempts.to_string(),
            "--shutdown-grace-secs",
            "10",
            "--health-bind",
            &format!("127.0.0.1:{}", self.processor_health_port),
        ])
        .into_iter()
        .chain(self.broker_args.clone())
        .chain(self.storage_args.clone())
        .collect()
    }

    /// The flags a result-writer of this system is started with.
    pub fn result_writer_args(&self) -> Vec<String> {
        writer_args(&self.options, self.result_writer_health_port)
            .into_iter()
            .chain(self.webhook_args.clone())
            .chain(self.broker_args.clone())
            .chain(self.storage_args.clone())
            .chain(self.db_args.clone())
            .collect()
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
        let config = ProcessorConfig::try_parse_from(
            args(&["processor"])
                .into_iter()
                .chain(self.processor_args()),
        )
        .expect("processor flags");
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

    /// Stop the processor gracefully and wait until it has.
    pub async fn stop_processor(&mut self) {
        if let Some((token, handle)) = self.processor.take() {
            token.cancel();
            let _ = handle.await;
        }
    }
}
