//! Load benchmarks against a running imagepipe, over HTTP, as a client would see it.
//!
//! The system is started by `bench/system.sh` (release build, its own database, queue prefix
//! and buckets), which writes the services' pids to a state directory; this program reads
//! process statistics of those pids from `/proc` (CPU time as utime + stime, peak RSS as
//! VmHWM), task rows from PostgreSQL, and the processor's own metrics. Each benchmark prints
//! one JSON object per run on stdout; `summarize` turns such lines into tables of medians.
//!
//!     load ingest   [--file F] [--uploads N] [--concurrency C]   accepted/s and latency vs raw S3 PUT
//!     load e2e      [--burst N] [--rounds R]                     time to all COMPLETED, per-task overhead
//!     load memory-ingest    --file BIG [--uploads 50]            ingest peak RSS
//!     load memory-processor [--file photo-12mp.jpg]              processor peak RSS
//!     load latency  [--gets G] [--burst 500]                     GET p99 idle vs 500 queued
//!     load make-png --bytes N --out F                            a noisy PNG of about N bytes
//!     load cleanup                                               empty the bench buckets
//!     load summarize FILE.jsonl...                               tables of medians
//!
//! Run it through `bench/load.sh`, which starts and stops the system around each run.

#![allow(clippy::print_stdout)] // Printing the results is the point.

mod benches;
mod client;
mod procfs;
mod stats;
mod summary;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use imagepipe_shared::config::{DatabaseConfig, StorageConfig};

#[derive(Debug, Parser)]
#[command(about = "Load benchmarks against a running imagepipe (see bench/load.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the system under test is. Every value comes from the environment `bench/system.sh`
/// sets, the same variables the services read.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base URL of ingest.
    #[arg(
        long,
        env = "BENCH_INGEST_URL",
        default_value = "http://127.0.0.1:18080"
    )]
    pub ingest_url: String,

    /// Base URL of the processor's health and metrics server.
    #[arg(
        long,
        env = "BENCH_PROCESSOR_URL",
        default_value = "http://127.0.0.1:18081"
    )]
    pub processor_url: String,

    /// Directory where `bench/system.sh` wrote `ingest.pid`, `processor.pid` and
    /// `result-writer.pid`.
    #[arg(long, env = "BENCH_STATE")]
    pub state: PathBuf,

    /// Run number, copied into the output.
    #[arg(long, env = "BENCH_RUN", default_value_t = 1)]
    pub run: u32,

    /// Simulated delay the processor was started with (only reported and subtracted).
    #[arg(long, env = "PROCESSING_DELAY_MS", default_value_t = 5000)]
    pub processing_delay_ms: u64,

    /// Which build of the services runs (e.g. `head`, or a patched processor), copied into
    /// the output; runs of different variants are summarized apart.
    #[arg(long, env = "BENCH_VARIANT", default_value = "head")]
    pub variant: String,

    /// In-flight capacity of the processor (its prefetch).
    #[arg(long, env = "PROCESSOR_CONCURRENCY", default_value_t = 8)]
    pub processor_concurrency: u16,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub storage: StorageConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest under load: N uploads at concurrency C through ingest, and in the same run N raw
    /// PUTs of the same bytes at the same concurrency with the storage client ingest uses.
    Ingest {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "../shared/testdata/good/photo-2mp.jpg")]
        file: PathBuf,
        #[arg(long, default_value_t = 500)]
        uploads: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Uploads (and PUTs) before measuring: opens connections, fills the processor.
        #[arg(long, default_value_t = 50)]
        warmup: usize,
        /// Measure the raw PUTs before the uploads (alternate between runs).
        #[arg(long)]
        put_first: bool,
    },
    /// End to end: bursts of uploads, time until all are COMPLETED, per-task overhead.
    E2e {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "../shared/testdata/good/photo-2mp.jpg")]
        file: PathBuf,
        /// Uploads per burst.
        #[arg(long, default_value_t = 50)]
        burst: usize,
        /// Bursts, each sent once the previous one is all COMPLETED.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Concurrent uploads while sending a burst.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// Name of the scenario in the output (default: burst{N}-delay{D}).
        #[arg(long)]
        label: Option<String>,
    },
    /// Peak RSS of ingest during concurrent uploads of a (large) file.
    MemoryIngest {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value_t = 50)]
        uploads: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        #[arg(long)]
        label: Option<String>,
    },
    /// Peak RSS of the processor while it works on a file at full concurrency.
    MemoryProcessor {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "../shared/testdata/good/photo-12mp.jpg")]
        file: PathBuf,
        /// Uploads (default: three times the processor's in-flight capacity).
        #[arg(long)]
        uploads: Option<usize>,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// GET /api/v1/tasks/{id} latency when idle, during a burst of uploads, and with the
    /// burst queued.
    Latency {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "../shared/testdata/good/photo-2mp.jpg")]
        file: PathBuf,
        /// GETs per phase.
        #[arg(long, default_value_t = 3000)]
        gets: usize,
        /// Concurrent GETs.
        #[arg(long, default_value_t = 1)]
        get_concurrency: usize,
        /// Uploads queued for the loaded phase.
        #[arg(long, default_value_t = 500)]
        burst: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
    },
    /// Write a PNG of random pixels of at most `bytes` bytes (and close to it).
    MakePng {
        #[arg(long)]
        bytes: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete every object of the two buckets named by UPLOADS_BUCKET and PROCESSED_BUCKET.
    Cleanup {
        #[command(flatten)]
        storage: StorageConfig,
    },
    /// Tables of medians from the JSON lines of several runs.
    Summarize { files: Vec<PathBuf> },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Ingest {
            target,
            file,
            uploads,
            concurrency,
            warmup,
            put_first,
        } => benches::ingest::run(&target, &file, uploads, concurrency, warmup, put_first).await,
        Command::E2e {
            target,
            file,
            burst,
            rounds,
            concurrency,
            label,
        } => benches::e2e::run(&target, &file, burst, rounds, concurrency, label).await,
        Command::MemoryIngest {
            target,
            file,
            uploads,
            concurrency,
            label,
        } => benches::memory::ingest(&target, &file, uploads, concurrency, label).await,
        Command::MemoryProcessor {
            target,
            file,
            uploads,
            concurrency,
        } => benches::memory::processor(&target, &file, uploads, concurrency).await,
        Command::Latency {
            target,
            file,
            gets,
            get_concurrency,
            burst,
            concurrency,
        } => benches::latency::run(&target, &file, gets, get_concurrency, burst, concurrency).await,
        Command::MakePng { bytes, out } => benches::memory::make_png(bytes, &out),
        Command::Cleanup { storage } => client::cleanup(&storage).await,
        Command::Summarize { files } => summary::summarize(&files),
    }
}
