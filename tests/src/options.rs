//! What a test can ask of its system.

/// How a test wants its system.
#[derive(Debug, Clone)]
pub struct Options {
    pub processing_delay_ms: u64,
    pub processor_concurrency: u16,
    pub max_attempts: u32,
    pub retry_delays_ms: Vec<u64>,
    /// Start the processor with the others (a test may start it later).
    pub start_processor: bool,
    pub max_upload_bytes: u64,
    /// `UPLOAD_MEMORY_BYTES` of ingest (0: every upload is spooled to a file).
    pub upload_memory_bytes: u64,
    /// `S3_UNSIGNED_PAYLOAD` of every service.
    pub s3_unsigned_payload: bool,
    /// Load-shedding ceiling (0: none).
    pub max_backlog: u64,
    /// The reaper fails tasks unfinished this long after upload.
    pub task_timeout_secs: u64,
    /// Put a [`FaultProxy`] between the services and the object store, the broker or the
    /// database, so a test can cut them.
    pub proxy_s3: bool,
    pub proxy_amqp: bool,
    pub proxy_db: bool,
    /// Put a [`PgWireLog`](crate::PgWireLog) between ingest (only ingest) and the database,
    /// so a test can count the statements and round trips ingest's work costs PostgreSQL.
    pub log_ingest_db: bool,
    /// `API_KEYS` of ingest (empty: authentication off).
    pub api_keys: Vec<String>,
    /// `RATE_LIMIT_PER_MINUTE` of ingest (0: no limit).
    pub rate_limit_per_minute: u32,
    /// `RATE_LIMIT_BURST` of ingest (`None`: its default).
    pub rate_limit_burst: Option<u32>,
    /// `TRUSTED_PROXIES` of ingest (empty: none).
    pub trusted_proxies: Vec<String>,
    /// `WEBHOOK_ALLOWED_HOSTS` (empty: callbacks refused).
    pub webhook_allowed_hosts: Vec<String>,
    /// `WEBHOOK_SECRET` of the result-writer.
    pub webhook_secret: Option<String>,
    pub webhook_retry_min_ms: u64,
    /// `WEBHOOK_ALLOWED_ADDRESSES` (CIDRs or addresses; empty: none). The tests' receivers
    /// listen on 127.0.0.1, a refused address unless listed here.
    pub webhook_allowed_addresses: Vec<String>,
    /// Looks up callback hosts for ingest and the result-writer in this process (`None`: the
    /// system's resolver), so a test can give a name the addresses it needs.
    pub webhook_resolver: Option<std::sync::Arc<dyn imagepipe_shared::webhooks::Resolver>>,
    /// `RETENTION_SECS` (0: keep forever).
    pub retention_secs: u64,
    /// `ALLOWED_OPS` of ingest (empty: every op).
    pub allowed_ops: Vec<String>,
    /// `PRESETS_FILE` of ingest.
    pub presets_file: Option<std::path::PathBuf>,
    /// `MAX_ANALYSIS_BYTES` of the processor.
    pub max_analysis_bytes: usize,
    /// `MODELS_FILE` of ingest and the processor.
    pub models_file: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            processing_delay_ms: 50,
            processor_concurrency: 8,
            max_attempts: 3,
            retry_delays_ms: vec![200, 500],
            start_processor: true,
            max_upload_bytes: 20 * 1024 * 1024,
            upload_memory_bytes: 64 * 1024 * 1024,
            s3_unsigned_payload: false,
            max_backlog: 0,
            task_timeout_secs: 600,
            proxy_s3: false,
            proxy_amqp: false,
            proxy_db: false,
            log_ingest_db: false,
            api_keys: Vec::new(),
            rate_limit_per_minute: 0,
            rate_limit_burst: None,
            trusted_proxies: Vec::new(),
            webhook_allowed_hosts: Vec::new(),
            webhook_secret: None,
            webhook_retry_min_ms: 200,
            webhook_allowed_addresses: Vec::new(),
            webhook_resolver: None,
            retention_secs: 0,
            allowed_ops: Vec::new(),
            presets_file: None,
            max_analysis_bytes: imagepipe_shared::analysis::DEFAULT_MAX_ANALYSIS_BYTES,
            models_file: None,
        }
    }
}
