//! Settings shared by the services. Every setting is an environment variable with a default
//! that serves a local run (the compose file's credentials on localhost) and can be overridden
//! by the matching command-line flag. Each service flattens the groups it needs into its own
//! `clap::Parser`, so `--help` lists exactly what that service reads.

use std::time::Duration;

use clap::Args;

use crate::image_rules::DecodeLimits;

/// Where the task table lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// PostgreSQL connection URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@localhost:5432/imagepipe"
    )]
    pub database_url: String,

    /// Most connections the service keeps open to PostgreSQL.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
}

/// The broker and the names of everything declared on it.
#[derive(Debug, Clone, Args)]
pub struct AmqpConfig {
    /// RabbitMQ connection URL (AMQP 0-9-1).
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@localhost:5672/%2f"
    )]
    pub amqp_url: String,

    /// Prefix of every exchange and queue name, so several deployments (or test runs) can
    /// share one broker without seeing each other's messages.
    #[arg(long, env = "AMQP_PREFIX", default_value = "imagepipe")]
    pub amqp_prefix: String,

    /// Delays between a job's attempts, in milliseconds, comma-separated: the first retry
    /// waits the first delay, and so on; the last repeats. Each delay is its own retry queue
    /// (`{prefix}.jobs.retry.{delay}ms`), so changing them declares new queues.
    #[arg(
        long,
        env = "RETRY_DELAYS_MS",
        default_value = "1000,5000,15000,30000",
        value_delimiter = ','
    )]
    pub retry_delays_ms: Vec<u64>,
}

/// Where a worker service serves `/health/live` and `/health/ready`.
#[derive(Debug, Clone, Args)]
pub struct HealthConfig {
    /// Listen address of the health endpoints.
    #[arg(long, env = "HEALTH_BIND", default_value = "0.0.0.0:8081")]
    pub health_bind: String,
}

/// How a consumer stops.
#[derive(Debug, Clone, Args)]
pub struct ShutdownConfig {
    /// On SIGTERM or Ctrl-C, how long work in flight may finish, in seconds, before it is
    /// handed back to the broker (delivered again elsewhere).
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
}

impl ShutdownConfig {
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl AmqpConfig {
    pub fn topology(&self) -> crate::topology::Topology {
        crate::topology::Topology::new(
            self.amqp_prefix.clone(),
            self.retry_delays_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
        )
    }
}

/// The S3-compatible object store (MinIO in compose, any S3 elsewhere).
#[derive(Debug, Clone, Args)]
pub struct StorageConfig {
    /// S3 endpoint the services use.
    #[arg(long, env = "S3_ENDPOINT", default_value = "http://localhost:9000")]
    pub s3_endpoint: String,

    /// Endpoint that clients (browsers, curl) can reach; download URLs are signed for it.
    /// Defaults to `S3_ENDPOINT`. In compose the services reach MinIO as `minio:9000`, which a
    /// browser cannot resolve, so this is `http://localhost:9000` there.
    #[arg(long, env = "S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,

    /// S3 region (MinIO and s3s accept any).
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// S3 access key id.
    #[arg(long, env = "S3_ACCESS_KEY", default_value = "minioadmin")]
    pub s3_access_key: String,

    /// S3 secret access key.
    #[arg(
        long,
        env = "S3_SECRET_KEY",
        default_value = "minioadmin",
        hide_env_values = true
    )]
    pub s3_secret_key: String,

    /// Bucket for uploaded originals.
    #[arg(long, env = "UPLOADS_BUCKET", default_value = "uploads")]
    pub uploads_bucket: String,

    /// Bucket for processed results.
    #[arg(long, env = "PROCESSED_BUCKET", default_value = "processed")]
    pub processed_bucket: String,

    /// Create a missing bucket at startup. Turn off where the service's credentials may not
    /// create buckets; a missing bucket then stops the service with a clear message.
    #[arg(long, env = "S3_CREATE_BUCKETS", default_value_t = true, action = clap::ArgAction::Set)]
    pub s3_create_buckets: bool,

    /// Timeout of one object-store request, in milliseconds.
    #[arg(long, env = "S3_TIMEOUT_MS", default_value_t = 30_000)]
    pub s3_timeout_ms: u64,

    /// Send `UNSIGNED-PAYLOAD` instead of the body's SHA-256 in the request signature. The
    /// headers are still signed; the body is then protected by TLS alone, so turn this on only
    /// with an `https://` endpoint. It saves hashing every byte on both sides (about 0.4 ms per
    /// 0.5 MB upload in ingest; docs/performance.md).
    #[arg(long, env = "S3_UNSIGNED_PAYLOAD", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_unsigned_payload: bool,
}

impl StorageConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.s3_timeout_ms)
    }

    pub fn public_endpoint(&self) -> &str {
        self.s3_public_endpoint
            .as_deref()
            .unwrap_or(&self.s3_endpoint)
    }
}

/// Completion webhooks: where they may go (ingest checks callback URLs at upload, the
/// result-writer again before sending).
#[derive(Debug, Clone, Args)]
pub struct WebhookPolicyConfig {
    /// Hosts that callback URLs may point at, comma-separated, each `host` or `host:port`
    /// (`*.example.com` allows subdomains). Empty: callbacks are refused. A list, not a
    /// deny-list, so the service cannot be aimed at internal addresses nobody thought of.
    #[arg(
        long,
        env = "WEBHOOK_ALLOWED_HOSTS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub webhook_allowed_hosts: Vec<String>,

    /// Addresses callbacks may reach although they are loopback, private, link-local, cloud
    /// metadata or otherwise refused by default: comma-separated CIDRs or single addresses
    /// (`10.1.0.0/16,127.0.0.1`). Empty: none. Every address a callback host resolves to is
    /// checked, at upload and again when delivering.
    #[arg(long, env = "WEBHOOK_ALLOWED_ADDRESSES", default_value = "")]
    pub webhook_allowed_addresses: crate::webhooks::AddressList,
}

impl WebhookPolicyConfig {
    pub fn policy(&self) -> crate::webhooks::CallbackPolicy {
        crate::webhooks::CallbackPolicy::new(
            &self.webhook_allowed_hosts,
            self.webhook_allowed_addresses.clone(),
        )
    }
}

/// How big an accepted image may be: ingest checks the header at upload, the processor
/// checks again before and while decoding. Defaults: [`DecodeLimits::default`].
#[derive(Debug, Clone, Args)]
pub struct ImageLimitsConfig {
    /// Largest image accepted, in pixels (width × height), read from the header.
    #[arg(long, env = "MAX_IMAGE_PIXELS", default_value_t = DecodeLimits::default().max_pixels)]
    pub max_image_pixels: u64,

    /// Largest image side accepted, in pixels.
    #[arg(long, env = "MAX_IMAGE_SIDE", default_value_t = DecodeLimits::default().max_side)]
    pub max_image_side: u32,
}

impl ImageLimitsConfig {
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_image_pixels,
            max_side: self.max_image_side,
        }
    }
}

/// How the service logs.
#[derive(Debug, Clone, Args)]
pub struct TelemetryConfig {
    /// Log filter in `tracing_subscriber::EnvFilter` syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// Log format: `json` for machines, `pretty` for people.
    #[arg(long, env = "LOG_FORMAT", default_value = "pretty", value_parser = ["json", "pretty"])]
    pub log_format: String,
}

/// What a chain of steps may ask for. Read by ingest (which refuses a chain before storing
/// anything) and the processor (which checks again before decoding).
#[derive(Debug, Clone, Args)]
pub struct ChainConfig {
    /// Most steps in one chain.
    #[arg(long, env = "MAX_STEPS", default_value_t = crate::steps::bounds::DEFAULT_MAX_STEPS)]
    pub max_steps: usize,

    /// Longest `delay` step, in milliseconds; `PROCESSING_DELAY_MS` may not exceed it.
    #[arg(long, env = "MAX_DELAY_MS", default_value_t = crate::steps::bounds::DEFAULT_MAX_DELAY_MS)]
    pub max_delay_ms: u64,
}

impl ChainConfig {
    /// The rules a chain keeps here, images within `limits`.
    pub fn rules(&self, limits: DecodeLimits) -> crate::steps::ChainRules {
        crate::steps::ChainRules {
            max_steps: self.max_steps,
            max_delay_ms: self.max_delay_ms,
            limits,
        }
    }

    /// Refuse to start with a default delay no chain could ask for.
    pub fn check_default_delay(&self, processing_delay_ms: u64) -> anyhow::Result<()> {
        anyhow::ensure!(
            processing_delay_ms <= self.max_delay_ms,
            "PROCESSING_DELAY_MS ({processing_delay_ms}) exceeds MAX_DELAY_MS ({})",
            self.max_delay_ms
        );
        Ok(())
    }
}

/// The operator's own models (`infer` steps). Read by ingest (which refuses a chain naming a
/// model not declared) and the processor (which loads and runs them): set both alike.
#[derive(Debug, Clone, Default, Args)]
pub struct ModelsFileConfig {
    /// A TOML file declaring the models `infer` steps may name: for each, its runtime and
    /// file (with its SHA-256), its input and how its outputs are reported (README, "Your
    /// own model"). Checked whole at start: a bad file stops the service, naming the model
    /// and the field. Unset: no model is declared.
    #[arg(long, env = "MODELS_FILE")]
    pub models_file: Option<std::path::PathBuf>,
}

impl ModelsFileConfig {
    /// The declared models, checked.
    pub fn load(&self) -> anyhow::Result<crate::models::DeclaredModels> {
        crate::models::DeclaredModels::load(self.models_file.as_deref())
    }
}
