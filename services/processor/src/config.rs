use clap::Parser;
use imagepipe_shared::{
    analysis::DEFAULT_MAX_ANALYSIS_BYTES,
    config::{
        AmqpConfig, ChainConfig, HealthConfig, ImageLimitsConfig, ModelsFileConfig, ShutdownConfig,
        StorageConfig, TelemetryConfig,
    },
};

use crate::{
    kernel_pool::{CpuList, CpuListError, KernelPriority},
    models::ModelsConfig,
    test_hooks::TestHooks,
};

/// imagepipe processor: consumes jobs, runs each one's chain of steps on its image, reports
/// status events.
#[derive(Debug, Clone, Parser)]
#[command(version = crate::test_hooks::VERSION)]
pub struct ProcessorConfig {
    /// Simulated inference time of the default chain (a task without steps), in milliseconds
    /// (stands in for a model). At most `MAX_DELAY_MS`: the processor refuses to start above.
    #[arg(long, env = "PROCESSING_DELAY_MS", default_value_t = 5000)]
    pub processing_delay_ms: u64,

    /// Jobs one processor works on at once (its prefetch). Pixel work runs on the kernel
    /// pool's own threads, off the async runtime; the rest of a job's time is waiting.
    #[arg(long, env = "PROCESSOR_CONCURRENCY", default_value_t = 8)]
    pub processor_concurrency: u16,

    /// Images decoded and encoded at once (the kernel pool). 0: one per core. Set it below
    /// the core count when the processor shares a machine with ingest, so the API always
    /// finds a free core (docs/performance.md, latency isolation).
    #[arg(long, env = "PROCESSOR_KERNEL_THREADS", default_value_t = 0)]
    pub processor_kernel_threads: u16,

    /// Scheduling priority of the kernel threads. `idle` (SCHED_IDLE): the pixels run on the
    /// CPU time nothing else on the machine wants, so an API beside them keeps its speed, and
    /// on a machine of their own they still get every cycle. `normal`: as every other thread.
    #[arg(long, env = "PROCESSOR_KERNEL_PRIORITY", value_enum, default_value_t = KernelPriority::Idle)]
    pub processor_kernel_priority: KernelPriority,

    /// CPUs the kernel threads may run on, as a Linux CPU list (`1`, `1-3`, `0,2-3`); all by
    /// default. On a machine shared with ingest, keeping a core free of pixels is what keeps
    /// the API's latency (docs/performance.md, latency isolation): priority alone does not.
    /// The kernel pool then has one thread per listed CPU this process may run on, unless
    /// `PROCESSOR_KERNEL_THREADS` says otherwise.
    #[arg(long, env = "PROCESSOR_KERNEL_CPUS")]
    pub processor_kernel_cpus: Option<CpuList>,

    /// Attempts a job gets when the failure is transient (object store down...), including
    /// the first. After the last, the job is parked and the task FAILED.
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: u32,

    /// Largest analysis a task may have (what its chain's model steps found), as JSON, in
    /// bytes. A task whose analysis is larger fails at once (`analysis_too_large`), with no
    /// result kept: the analysis travels in its COMPLETED event, its row, every answer about
    /// it and its webhook.
    #[arg(long, env = "MAX_ANALYSIS_BYTES", default_value_t = DEFAULT_MAX_ANALYSIS_BYTES)]
    pub max_analysis_bytes: usize,

    #[command(flatten)]
    pub image_limits: ImageLimitsConfig,

    /// `MAX_STEPS`, `MAX_DELAY_MS`: the chain rules, as ingest's.
    #[command(flatten)]
    pub chain: ChainConfig,

    /// `FACE_MODEL_PATH`, `ONNXRUNTIME_LIBRARY`: the model files, loaded at start.
    #[command(flatten)]
    pub models: ModelsConfig,

    /// `MODELS_FILE`: the operator's models, loaded at start (ingest reads the same file).
    #[command(flatten)]
    pub declared: ModelsFileConfig,

    /// Empty unless built with the `test-hooks` feature.
    #[command(flatten)]
    pub test_hooks: TestHooks,

    #[command(flatten)]
    pub amqp: AmqpConfig,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub shutdown: ShutdownConfig,

    #[command(flatten)]
    pub health: HealthConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl ProcessorConfig {
    /// The kernel pool: its threads, and the CPUs they may use. `PROCESSOR_KERNEL_CPUS` is cut
    /// to the CPUs this process may run on (an error if none); the pool has
    /// `PROCESSOR_KERNEL_THREADS` threads, or one per CPU left of that list, or one per core.
    pub fn kernel_pool(&self) -> Result<(usize, Option<CpuList>), CpuListError> {
        let cpus = self
            .processor_kernel_cpus
            .as_ref()
            .map(CpuList::allowed)
            .transpose()?;
        let threads = match (self.processor_kernel_threads, &cpus) {
            (0, Some(cpus)) => cpus.count(),
            (0, None) => std::thread::available_parallelism().map_or(1, usize::from),
            (n, _) => usize::from(n),
        };
        Ok((threads, cpus))
    }

    /// Settings no job could run under are refused at start, not on the first job.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.kernel_pool()
            .map_err(|err| anyhow::anyhow!("PROCESSOR_KERNEL_CPUS: {err}"))?;
        self.chain.check_default_delay(self.processing_delay_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ProcessorConfig {
        ProcessorConfig::try_parse_from(std::iter::once("processor").chain(args.iter().copied()))
            .expect("valid flags")
    }

    fn threads(args: &[&str]) -> usize {
        parse(args).kernel_pool().expect("usable CPUs").0
    }

    #[test]
    fn the_kernel_pool_is_one_per_core_unless_set() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(threads(&[]), cores);
        assert_eq!(threads(&["--processor-kernel-threads", "0"]), cores);
        assert_eq!(threads(&["--processor-kernel-threads", "1"]), 1);
        let own = CpuList::of_own_thread().expect("affinity");
        let first = own.to_string().split(',').next().expect("a CPU").to_owned();
        assert_eq!(
            threads(&["--processor-kernel-cpus", &own.to_string()]),
            own.count()
        );
        // CPU 1000 is listed but not one this process may run on: it gets no thread.
        assert_eq!(
            threads(&["--processor-kernel-cpus", &format!("{first},1000")]),
            1
        );
        assert_eq!(
            threads(&[
                "--processor-kernel-cpus",
                &first,
                "--processor-kernel-threads",
                "2"
            ]),
            2
        );
    }

    #[test]
    fn kernel_cpus_that_cannot_be_used_stop_the_start_with_a_reason() {
        let malformed =
            ProcessorConfig::try_parse_from(["processor", "--processor-kernel-cpus", "1-x"])
                .expect_err("not a CPU list");
        assert!(
            malformed
                .to_string()
                .contains("`1-x` is not a CPU number or range"),
            "{malformed}"
        );
        // CPU 1000: numbered, but not one this process may run on (no test machine has it).
        let elsewhere = parse(&["--processor-kernel-cpus", "1000"]);
        let err = elsewhere.validate().expect_err("no usable CPU");
        assert_eq!(
            err.to_string(),
            "PROCESSOR_KERNEL_CPUS: none of the CPUs 1000 is one this process may run on"
        );
        let own = CpuList::of_own_thread().expect("affinity").to_string();
        let first = own.split(',').next().expect("a CPU");
        parse(&["--processor-kernel-cpus", first])
            .validate()
            .expect("one of this process's own CPUs");
    }

    /// The crash hook's setting and the `--version` mark come and go with the feature.
    #[test]
    fn the_test_hooks_exist_only_with_their_feature() {
        use clap::CommandFactory;
        let command = ProcessorConfig::command();
        let reads_hook = command.get_arguments().any(|arg| {
            arg.get_env()
                .is_some_and(|env| env == "IMAGEPIPE_TEST_CRASH_ON_TASK")
        });
        let version = command.get_version().unwrap_or_default();
        let hooked = cfg!(feature = "test-hooks");
        assert_eq!(reads_hook, hooked, "reads IMAGEPIPE_TEST_CRASH_ON_TASK");
        assert_eq!(version.contains("test hooks"), hooked, "version {version}");
    }

    #[test]
    fn a_default_delay_over_the_longest_allowed_is_refused() {
        assert!(parse(&[]).validate().is_ok());
        let over = parse(&["--processing-delay-ms", "70000", "--max-delay-ms", "60000"]);
        let err = over.validate().expect_err("over MAX_DELAY_MS");
        assert!(err.to_string().contains("MAX_DELAY_MS"), "{err}");
        assert!(
            parse(&["--processing-delay-ms", "60000"])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn the_analysis_limit_defaults_to_the_shared_one() {
        assert_eq!(parse(&[]).max_analysis_bytes, DEFAULT_MAX_ANALYSIS_BYTES);
        assert_eq!(
            parse(&["--max-analysis-bytes", "100"]).max_analysis_bytes,
            100
        );
    }

    #[test]
    fn the_image_limits_default_to_the_shared_rule() {
        let limits = parse(&[]).image_limits.decode_limits();
        let rule = imagepipe_shared::image_rules::DecodeLimits::default();
        assert_eq!(
            (limits.max_pixels, limits.max_side),
            (rule.max_pixels, rule.max_side)
        );
        let set = parse(&["--max-image-pixels", "100", "--max-image-side", "10"])
            .image_limits
            .decode_limits();
        assert_eq!((set.max_pixels, set.max_side), (100, 10));
    }
}
