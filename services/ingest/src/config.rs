use std::{path::PathBuf, time::Duration};

use clap::Parser;
use imagepipe_shared::{
    config::{
        AmqpConfig, ChainConfig, DatabaseConfig, ImageLimitsConfig, ModelsFileConfig,
        StorageConfig, TelemetryConfig, WebhookPolicyConfig,
    },
    image_rules::DecodeLimits,
};

/// imagepipe ingest: the HTTP API. Accepts uploads, records tasks, queues jobs, serves status.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct IngestConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "INGEST_BIND", default_value = "0.0.0.0:8080")]
    pub bind: String,

    /// Largest upload accepted, in bytes; a larger one gets 413 as soon as the limit is
    /// crossed, without reading the rest.
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// Memory the bodies of uploads in flight may hold together, in bytes (at least one 5 MiB
    /// part is always allowed). An upload of up to 1 MiB stays in memory while this lasts;
    /// larger ones, or any arriving when it is used up, are spooled to a temporary file, and
    /// storing a spooled file waits for the part it reads into memory. 0: small uploads
    /// always go to a file.
    #[arg(long, env = "UPLOAD_MEMORY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub upload_memory_bytes: u64,

    #[command(flatten)]
    pub image_limits: ImageLimitsConfig,

    #[command(flatten)]
    pub chain: ChainConfig,

    /// The default chain's simulated delay, in milliseconds: what a task's `steps` shows for
    /// a request that named no chain. The processor reads the same variable to run it, so set
    /// both alike. At most `MAX_DELAY_MS`, or ingest refuses to start.
    #[arg(long, env = "PROCESSING_DELAY_MS", default_value_t = 5000)]
    pub processing_delay_ms: u64,

    /// Ops clients' own `steps` may use, comma-separated (default: all of them). Presets and
    /// the default chain are the operator's and may use any op.
    #[arg(
        long,
        env = "ALLOWED_OPS",
        value_delimiter = ',',
        default_value = "resize,crop,rotate,flip,grayscale,blur,sharpen,delay,encode,detect_faces,blur_faces,infer"
    )]
    pub allowed_ops: Vec<String>,

    /// `MODELS_FILE`: the models `infer` steps may name (the processor reads the same file).
    #[command(flatten)]
    pub models: ModelsFileConfig,

    /// A JSON file of presets, `{"name": [steps...]}`, added to the built-in ones (or put in
    /// their place, by name). Checked whole at start: a bad file stops ingest.
    #[arg(long, env = "PRESETS_FILE")]
    pub presets_file: Option<PathBuf>,

    /// How long a download URL in a task's status stays valid, in seconds.
    #[arg(long, env = "DOWNLOAD_URL_TTL_SECS", default_value_t = 3600)]
    pub download_url_ttl_secs: u64,

    /// How often the outbox relay looks for unpublished jobs even when not woken by an
    /// upload (it catches up after a broker outage or a crash), in milliseconds.
    #[arg(long, env = "OUTBOX_POLL_MS", default_value_t = 1000)]
    pub outbox_poll_ms: u64,

    /// Most accepted jobs allowed to wait (work queue plus outbox); above it uploads get 503
    /// with `Retry-After`. 0 turns load shedding off.
    #[arg(long, env = "MAX_BACKLOG", default_value_t = 10_000)]
    pub max_backlog: u64,

    /// API keys that may use the API, comma-separated. Empty (the default, for local use):
    /// no authentication. Set: every endpoint but health and docs needs one in `X-API-Key`,
    /// and each key sees and acts on only its own tasks.
    #[arg(
        long,
        env = "API_KEYS",
        value_delimiter = ',',
        default_value = "",
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,

    /// Requests per minute each client may make to `/api/v1` (all operations together),
    /// counted by this ingest alone; over it: 429 `rate_limited` with `Retry-After`. A client
    /// is a valid API key, or else an address (see `TRUSTED_PROXIES`). 0 (the default): no
    /// limit. Health, metrics, `/docs`, `/openapi.json` and the web page are never limited.
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value_t = 0)]
    pub rate_limit_per_minute: u32,

    /// Requests a client may make at once, on top of the rate, before it is limited (the size
    /// of its bucket; at least 1).
    #[arg(
        long,
        env = "RATE_LIMIT_BURST",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub rate_limit_burst: u32,

    /// Proxies whose `X-Forwarded-For` names the client, comma-separated CIDRs or addresses
    /// (e.g. `10.0.0.0/8`): behind one, the client is the right-most address in the header
    /// that is not a trusted proxy. Empty (the default): the socket's peer is the client and
    /// the header is ignored.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,

    /// How long an `Idempotency-Key` is remembered, in seconds.
    #[arg(long, env = "IDEMPOTENCY_TTL_SECS", default_value_t = 24 * 3600)]
    pub idempotency_ttl_secs: u64,

    #[command(flatten)]
    pub webhooks: WebhookPolicyConfig,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub amqp: AmqpConfig,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl IngestConfig {
    pub fn decode_limits(&self) -> DecodeLimits {
        self.image_limits.decode_limits()
    }

    pub fn download_url_ttl(&self) -> Duration {
        Duration::from_secs(self.download_url_ttl_secs)
    }

    pub fn idempotency_ttl(&self) -> Duration {
        Duration::from_secs(self.idempotency_ttl_secs)
    }

    pub fn outbox_poll(&self) -> Duration {
        Duration::from_millis(self.outbox_poll_ms)
    }
}
