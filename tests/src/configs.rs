//! The settings a test system's services run with, as the services' own typed configs: every
//! default parsed once, then the fields a test system needs set by name. A service run as its
//! own process gets the same settings as flags, written from the typed config in one place.

use std::fmt::{Debug, Display};

use clap::Parser;
use imagepipe_ingest::IngestConfig;
use imagepipe_processor::ProcessorConfig;
use imagepipe_result_writer::ResultWriterConfig;
use imagepipe_shared::config::{
    AmqpConfig, DatabaseConfig, HealthConfig, ShutdownConfig, StorageConfig, TelemetryConfig,
    WebhookPolicyConfig,
};

use crate::Options;

/// Where the services of one test system find their dependencies (through a proxy, when the
/// test asked for one) and the names that are this system's alone.
pub(crate) struct Wiring {
    pub amqp_url: String,
    pub amqp_prefix: String,
    pub database_url: String,
    pub s3_endpoint: String,
    pub uploads_bucket: String,
    pub processed_bucket: String,
    pub log_filter: String,
    pub processor_health_port: u16,
    pub result_writer_health_port: u16,
}

/// The three services' settings for one test system.
#[derive(Debug, Clone)]
pub(crate) struct ServiceConfigs {
    pub ingest: IngestConfig,
    pub processor: ProcessorConfig,
    pub result_writer: ResultWriterConfig,
}

impl ServiceConfigs {
    pub(crate) fn new(options: &Options, wiring: &Wiring) -> Self {
        let mut ingest: IngestConfig = defaults();
        let mut processor: ProcessorConfig = defaults();
        let mut result_writer: ResultWriterConfig = defaults();

        let mut amqp = ingest.amqp.clone();
        amqp.amqp_url = wiring.amqp_url.clone();
        amqp.amqp_prefix = wiring.amqp_prefix.clone();
        amqp.retry_delays_ms = options.retry_delays_ms.clone();
        let mut storage = ingest.storage.clone();
        storage.s3_endpoint = wiring.s3_endpoint.clone();
        storage.uploads_bucket = wiring.uploads_bucket.clone();
        storage.processed_bucket = wiring.processed_bucket.clone();
        storage.s3_timeout_ms = 3000;
        storage.s3_unsigned_payload = options.s3_unsigned_payload;
        let mut database = ingest.database.clone();
        database.database_url = wiring.database_url.clone();
        let mut telemetry = ingest.telemetry.clone();
        telemetry.log_filter = wiring.log_filter.clone();
        let mut webhooks = ingest.webhooks.clone();
        // An empty list is the default (no callbacks), whatever the parsed default looks like.
        if !options.webhook_allowed_hosts.is_empty() {
            webhooks.webhook_allowed_hosts = options.webhook_allowed_hosts.clone();
        }
        webhooks.webhook_allowed_addresses = options
            .webhook_allowed_addresses
            .join(",")
            .parse()
            .expect("the test's allowed addresses are CIDRs");
        let mut shutdown = processor.shutdown.clone();
        shutdown.shutdown_grace_secs = 10;
        let health_defaults = processor.health.clone();
        let health = |port: u16| {
            let mut health = health_defaults.clone();
            health.health_bind = format!("127.0.0.1:{port}");
            health
        };

        ingest.bind = "127.0.0.1:0".to_owned();
        ingest.outbox_poll_ms = 200;
        ingest.max_upload_bytes = options.max_upload_bytes;
        ingest.upload_memory_bytes = options.upload_memory_bytes;
        ingest.max_backlog = options.max_backlog;
        if !options.api_keys.is_empty() {
            ingest.api_keys = options.api_keys.clone();
        }
        ingest.rate_limit_per_minute = options.rate_limit_per_minute;
        if let Some(burst) = options.rate_limit_burst {
            ingest.rate_limit_burst = burst;
        }
        if !options.trusted_proxies.is_empty() {
            ingest.trusted_proxies = options.trusted_proxies.clone();
        }
        // The default chain's delay, as a task's `steps` shows it, is the processor's.
        ingest.processing_delay_ms = options.processing_delay_ms;
        if !options.allowed_ops.is_empty() {
            ingest.allowed_ops = options.allowed_ops.clone();
        }
        ingest.presets_file = options.presets_file.clone();
        ingest.models.models_file = options.models_file.clone();
        ingest.webhooks = webhooks.clone();
        ingest.database = database.clone();
        ingest.amqp = amqp.clone();
        ingest.storage = storage.clone();
        ingest.telemetry = telemetry.clone();

        processor.processing_delay_ms = options.processing_delay_ms;
        processor.processor_concurrency = options.processor_concurrency;
        processor.max_attempts = options.max_attempts;
        processor.max_analysis_bytes = options.max_analysis_bytes;
        processor.amqp = amqp.clone();
        processor.storage = storage.clone();
        processor.shutdown = shutdown.clone();
        processor.health = health(wiring.processor_health_port);
        processor.telemetry = telemetry.clone();
        processor.models = crate::models_config();
        processor.declared.models_file = options.models_file.clone();

        result_writer.reaper_interval_secs = 1;
        result_writer.task_timeout_secs = options.task_timeout_secs;
        result_writer.retention_secs = options.retention_secs;
        result_writer.retention_interval_secs = 1;
        result_writer.webhook_poll_ms = 100;
        result_writer.webhook_retry_min_ms = options.webhook_retry_min_ms;
        result_writer.webhook_secret = options.webhook_secret.clone();
        result_writer.webhooks = webhooks;
        result_writer.storage = storage;
        result_writer.database = database;
        result_writer.amqp = amqp;
        result_writer.shutdown = shutdown;
        result_writer.health = health(wiring.result_writer_health_port);
        result_writer.telemetry = telemetry;

        Self {
            ingest,
            processor,
            result_writer,
        }
    }
}

/// A service's settings with every default, read from no environment variable: a variable
/// set where the tests run (`DATABASE_URL`, `RUST_LOG`...) must not leak into a test system.
fn defaults<C: Parser + Debug>() -> C {
    parse(&[])
}

/// `flags` over the defaults, the environment ignored.
fn parse<C: Parser + Debug>(flags: &[String]) -> C {
    let command = C::command().mut_args(|arg| arg.env(None::<&str>));
    let name = command.get_name().to_owned();
    let matches = command
        .try_get_matches_from(std::iter::once(name).chain(flags.iter().cloned()))
        .unwrap_or_else(|e| panic!("the harness's flags parse: {e}"));
    C::from_arg_matches(&matches).unwrap_or_else(|e| panic!("the harness's flags parse: {e}"))
}

/// The flags that give a processor run as a process the settings of `config`.
pub(crate) fn processor_flags(config: &ProcessorConfig) -> Vec<String> {
    let mut flags = Flags::default();
    flags
        .set("--processing-delay-ms", config.processing_delay_ms)
        .set("--processor-concurrency", config.processor_concurrency)
        .set("--max-attempts", config.max_attempts)
        .set("--max-analysis-bytes", config.max_analysis_bytes)
        .set("--face-model-path", config.models.face_model_path.display())
        .set(
            "--onnxruntime-library",
            config.models.onnxruntime_library.display(),
        );
    if let Some(file) = &config.declared.models_file {
        flags.set("--models-file", file.display());
    }
    flags
        .amqp(&config.amqp)
        .storage(&config.storage)
        .shutdown(&config.shutdown)
        .health(&config.health)
        .telemetry(&config.telemetry);
    flags.checked_against(config)
}

/// The flags that give an ingest run as a process the settings of `config`.
pub(crate) fn ingest_flags(config: &IngestConfig) -> Vec<String> {
    let mut flags = Flags::default();
    flags
        .set("--bind", &config.bind)
        .set("--outbox-poll-ms", config.outbox_poll_ms)
        .set("--max-upload-bytes", config.max_upload_bytes)
        .set("--upload-memory-bytes", config.upload_memory_bytes)
        .set("--max-backlog", config.max_backlog)
        .set("--processing-delay-ms", config.processing_delay_ms)
        .list("--allowed-ops", &config.allowed_ops)
        .list("--api-keys", &config.api_keys)
        .set("--rate-limit-per-minute", config.rate_limit_per_minute)
        .set("--rate-limit-burst", config.rate_limit_burst)
        .list("--trusted-proxies", &config.trusted_proxies);
    if let Some(file) = &config.presets_file {
        flags.set("--presets-file", file.display());
    }
    if let Some(file) = &config.models.models_file {
        flags.set("--models-file", file.display());
    }
    flags
        .webhooks(&config.webhooks)
        .database(&config.database)
        .amqp(&config.amqp)
        .storage(&config.storage)
        .telemetry(&config.telemetry);
    flags.checked_against(config)
}

/// The flags that give a result-writer run as a process the settings of `config`.
pub(crate) fn result_writer_flags(config: &ResultWriterConfig) -> Vec<String> {
    let mut flags = Flags::default();
    flags
        .set("--reaper-interval-secs", config.reaper_interval_secs)
        .set("--task-timeout-secs", config.task_timeout_secs)
        .set("--retention-secs", config.retention_secs)
        .set("--retention-interval-secs", config.retention_interval_secs)
        .set("--webhook-poll-ms", config.webhook_poll_ms)
        .set("--webhook-retry-min-ms", config.webhook_retry_min_ms);
    if let Some(secret) = &config.webhook_secret {
        flags.set("--webhook-secret", secret);
    }
    flags
        .webhooks(&config.webhooks)
        .storage(&config.storage)
        .database(&config.database)
        .amqp(&config.amqp)
        .shutdown(&config.shutdown)
        .health(&config.health)
        .telemetry(&config.telemetry);
    flags.checked_against(config)
}

/// Command-line flags, written setting by setting.
#[derive(Default)]
struct Flags(Vec<String>);

impl Flags {
    fn set(&mut self, flag: &str, value: impl Display) -> &mut Self {
        self.0.extend([flag.to_owned(), value.to_string()]);
        self
    }

    fn list(&mut self, flag: &str, values: &[impl Display]) -> &mut Self {
        let joined = values
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.set(flag, joined)
    }

    fn amqp(&mut self, amqp: &AmqpConfig) -> &mut Self {
        self.set("--amqp-url", &amqp.amqp_url)
            .set("--amqp-prefix", &amqp.amqp_prefix)
            .list("--retry-delays-ms", &amqp.retry_delays_ms)
    }

    fn storage(&mut self, storage: &StorageConfig) -> &mut Self {
        self.set("--s3-endpoint", &storage.s3_endpoint)
            .set("--uploads-bucket", &storage.uploads_bucket)
            .set("--processed-bucket", &storage.processed_bucket)
            .set("--s3-timeout-ms", storage.s3_timeout_ms)
            .set("--s3-unsigned-payload", storage.s3_unsigned_payload)
    }

    fn database(&mut self, database: &DatabaseConfig) -> &mut Self {
        self.set("--database-url", &database.database_url)
    }

    fn webhooks(&mut self, webhooks: &WebhookPolicyConfig) -> &mut Self {
        self.list("--webhook-allowed-hosts", &webhooks.webhook_allowed_hosts)
            .set(
                "--webhook-allowed-addresses",
                &webhooks.webhook_allowed_addresses,
            )
    }

    fn shutdown(&mut self, shutdown: &ShutdownConfig) -> &mut Self {
        self.set("--shutdown-grace-secs", shutdown.shutdown_grace_secs)
    }

    fn health(&mut self, health: &HealthConfig) -> &mut Self {
        self.set("--health-bind", &health.health_bind)
    }

    fn telemetry(&mut self, telemetry: &TelemetryConfig) -> &mut Self {
        self.set("--log-filter", &telemetry.log_filter)
            .set("--log-format", &telemetry.log_format)
    }

    /// The flags, once parsed back (over the defaults, without the environment, as the
    /// process started with an empty environment reads them) they give exactly `config`: a
    /// setting the harness sets but forgot to write here fails the test that spawns the
    /// process, instead of running it with the default.
    fn checked_against<C: Parser + Debug>(self, config: &C) -> Vec<String> {
        let parsed: C = parse(&self.0);
        assert_eq!(
            format!("{parsed:#?}"),
            format!("{config:#?}"),
            "the flags {:?} give the process other settings than the in-process service's",
            self.0
        );
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> Wiring {
        Wiring {
            amqp_url: "amqp://guest:guest@127.0.0.1:1/%2f".to_owned(),
            amqp_prefix: "test-x".to_owned(),
            database_url: "postgres://postgres@127.0.0.1:2/imagepipe_test_x".to_owned(),
            s3_endpoint: "http://127.0.0.1:3".to_owned(),
            uploads_bucket: "tx-uploads".to_owned(),
            processed_bucket: "tx-processed".to_owned(),
            log_filter: "info".to_owned(),
            processor_health_port: 4,
            result_writer_health_port: 5,
        }
    }

    /// `ingest_flags`, `processor_flags` and `result_writer_flags` check themselves against the
    /// config; this runs that check for the default options and for options that change every
    /// setting a test can ask for.
    #[test]
    fn the_flags_of_a_process_give_it_the_in_process_services_settings() {
        let changed = Options {
            processing_delay_ms: 1,
            processor_concurrency: 2,
            max_attempts: 3,
            retry_delays_ms: vec![4, 5],
            s3_unsigned_payload: true,
            task_timeout_secs: 6,
            webhook_allowed_hosts: vec!["127.0.0.1:7".to_owned(), "example.com".to_owned()],
            webhook_secret: Some("secret".to_owned()),
            webhook_retry_min_ms: 8,
            webhook_allowed_addresses: vec!["127.0.0.1".to_owned(), "10.0.0.0/8".to_owned()],
            retention_secs: 9,
            max_analysis_bytes: 10,
            models_file: Some("/models/models.toml".into()),
            api_keys: vec!["key-1".to_owned(), "key-2".to_owned()],
            rate_limit_per_minute: 11,
            rate_limit_burst: Some(12),
            trusted_proxies: vec!["10.0.0.0/8".to_owned()],
            ..Options::default()
        };
        for options in [Options::default(), changed] {
            let configs = ServiceConfigs::new(&options, &wiring());
            ingest_flags(&configs.ingest);
            processor_flags(&configs.processor);
            result_writer_flags(&configs.result_writer);
        }
    }
}
